"""Window/level key steps (tuipacs.view.window_steps): modality units, bounded acceleration."""

from __future__ import annotations

import numpy as np
import pytest

from tuipacs.imaging.voi import Window
from tuipacs.view.window_steps import (
    ACCEL_AFTER,
    MAX_ACCEL,
    acceleration,
    step_window,
    value_range,
    window_limits,
)

CT = window_limits("CT", -1000.0, 1500.0)


def hold(window: Window, d_center: int, d_width: int, repeats: int) -> Window:
    """``window`` after a key held for ``repeats`` repeats."""
    for repeat in range(repeats):
        window = step_window(window, d_center, d_width, CT, False, repeat)
    return window


def test_ct_steps_are_hu_whatever_the_width() -> None:
    for width in (80.0, 400.0, 2000.0):
        moved = step_window(Window(40, width, "X"), 1, 0, CT, fine=False, repeats=0)
        assert (moved.center, moved.width, moved.explanation) == (50, width, "")
        fine = step_window(Window(40, width), -1, 1, CT, fine=True, repeats=0)
        assert (fine.center, fine.width) == (39, width + 1)


def test_held_key_accelerates_boundedly() -> None:
    assert acceleration(0) == acceleration(ACCEL_AFTER) == 1.0
    assert acceleration(ACCEL_AFTER + 4) > 1.0
    assert acceleration(10_000) == MAX_ACCEL
    wide = hold(Window(40, 400), 0, 1, 60)  # 2 s at 30 Hz
    assert 400 + 600 <= wide.width <= 400 + 600 * MAX_ACCEL
    assert hold(Window(40, 400), 0, 1, 3000).width == 2 * CT.span, "never wider than useful"
    assert hold(Window(40, 400), 0, -1, 3000).width == 1
    assert hold(Window(40, 400), 1, 0, 3000).center == CT.hi + CT.span / 2


def test_a_window_beyond_the_limits_is_not_pulled_in() -> None:
    huge = Window(40, 100_000)
    assert step_window(huge, 0, 1, CT, False, 0).width == 100_000
    assert step_window(huge, 0, -1, CT, False, 0).width == 100_000 - 10


@pytest.mark.parametrize(
    ("modality", "lo", "hi", "step"),
    [("MR", 0.0, 1200.0, 12.0), ("PT", 0.0, 8.0, 0.08), ("CT", -50.0, 50.0, 10.0)],
)
def test_other_modalities_step_a_hundredth_of_the_range(
    modality: str, lo: float, hi: float, step: float
) -> None:
    limits = window_limits(modality, lo, hi)
    assert limits.step == pytest.approx(step)
    if modality == "CT":
        assert (limits.lo, limits.hi) == (-1024.0, 3071.0), "a CT may hold any HU"


def test_value_range_ignores_non_finite_values() -> None:
    values = np.array([[np.nan, -3.0], [np.inf, 7.5]])
    assert value_range(values) == (-3.0, 7.5)
    assert value_range(np.array([np.nan])) == (0.0, 1.0)
    assert window_limits("MR", float("nan"), 1.0).step > 0
