"""How far the window/level keys move the window (pure: no Textual).

A key press moves the level or the width by a step fixed for the series, never by a share
of the current width (that grew the width tenfold within a second of a held key, and made the
level step grow with it): on CT 10 HU (1 HU fine, with Shift); elsewhere a hundredth of the
image's range of values (a tenth of that fine). A held key accelerates after a few repeats,
up to MAX_ACCEL times the step, and the window stays within what the values can use: the
width between one unit and twice the range, the level within the range widened by half of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from tuipacs.imaging.voi import Window

CT_STEP = 10.0
"""HU per press on CT (1 HU with Shift)."""
RANGE_STEPS = 100
"""Presses across the image's range of values (other modalities)."""
FINE = 0.1
"""Shift: the step times this."""
ACCEL_AFTER = 6
"""Repeats of a held key at the plain step before it speeds up."""
ACCEL_PER_REPEAT = 0.15
"""How much faster each further repeat goes (times the step)."""
MAX_ACCEL = 4.0
"""The fastest a held key goes (times the step)."""
CT_RANGE = (-1024.0, 3071.0)
"""HU a CT can hold (12 bits from air): the limits when the image's own are narrower."""


@dataclass(frozen=True)
class WindowLimits:
    """What window the keys may reach: ``lo``..``hi`` the values' range, ``step`` per press."""

    lo: float
    hi: float
    step: float

    @property
    def span(self) -> float:
        """The range of values (at least one unit)."""
        return max(1.0, self.hi - self.lo)


def window_limits(modality: str, lo: float, hi: float) -> WindowLimits:
    """The limits for an image of ``modality`` whose values span ``lo``..``hi``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        lo, hi = 0.0, 1.0
    if modality.upper() == "CT":
        return WindowLimits(min(lo, CT_RANGE[0]), max(hi, CT_RANGE[1]), CT_STEP)
    span = hi - lo
    step = span / RANGE_STEPS if span > 0 else 1.0
    if step >= 1.0:
        step = float(round(step))
    return WindowLimits(lo, hi, step)


def acceleration(repeats: int) -> float:
    """The step's multiplier after ``repeats`` repeats of a held key (0: a single press)."""
    return min(MAX_ACCEL, 1.0 + max(0, repeats - ACCEL_AFTER) * ACCEL_PER_REPEAT)


def step_window(
    window: Window, d_center: int, d_width: int, limits: WindowLimits, fine: bool, repeats: int
) -> Window:
    """``window`` moved by ``d_center`` level steps and ``d_width`` width steps, within the
    limits (``repeats``: how long the key has been held)."""
    step = limits.step * (FINE if fine else acceleration(repeats))
    span = limits.span
    width = max(1.0, window.width + d_width * step)
    if d_width > 0:  # never wider than the values can use (a wider window stays as it was)
        width = min(width, max(2.0 * span, window.width))
    center = window.center + d_center * step
    if d_center > 0:
        center = min(center, max(limits.hi + span / 2, window.center))
    elif d_center < 0:
        center = max(center, min(limits.lo - span / 2, window.center))
    return replace(window, center=center, width=width, explanation="")


def value_range(values: object) -> tuple[float, float]:
    """(min, max) of an image's finite values ((0, 1) when it has none)."""
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)] if array.size else array
    if not finite.size:
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())
