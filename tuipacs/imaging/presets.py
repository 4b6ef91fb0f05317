"""Window presets per modality, the min-max window and an automatic histogram window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tuipacs.imaging.voi import Window
from tuipacs.safe_text import clean

FROM_FILE = "file"
MIN_MAX = "minmax"
AUTO = "auto"

MAX_FILE_WINDOWS = 16
"""The file's windows offered as presets at most (a hostile file may hold thousands)."""
MAX_LABEL = 40
"""Characters of a preset's name shown (a file's explanation may be any length)."""
_LARGEST_WINDOW = 1e12
"""Larger centers or widths (and NaN, infinities) in a file are no window."""
PRESET_KEYS = "1234567890"
"""The keys of the first ten presets; the others are in the list (``w``)."""


@dataclass(frozen=True)
class Preset:
    """A named window; ``center``/``width`` are None for computed presets."""

    name: str
    label: str
    center: float | None = None
    width: float | None = None

    @property
    def is_fixed(self) -> bool:
        """True for presets with a fixed center and width (e.g. CT lung)."""
        return self.center is not None and self.width is not None

    def window(self) -> Window:
        """The fixed window (only for :attr:`is_fixed` presets)."""
        if self.center is None or self.width is None:
            raise ValueError(f"preset {self.name!r} is computed from the image")
        return Window(self.center, self.width, self.label.upper())


CT_PRESETS: tuple[Preset, ...] = (
    Preset("brain", "Brain", 40, 80),
    Preset("subdural", "Subdural", 75, 215),
    Preset("stroke", "Stroke", 40, 40),
    Preset("lung", "Lung", -600, 1500),
    Preset("mediastinum", "Mediastinum", 50, 350),
    Preset("abdomen", "Abdomen", 50, 400),
    Preset("liver", "Liver", 30, 150),
    Preset("bone", "Bone", 400, 1800),
)
"""CT windows in HU (common radiology values)."""

COMMON_PRESETS: tuple[Preset, ...] = (
    Preset(FROM_FILE, "From file"),
    Preset(MIN_MAX, "Min-max"),
    Preset(AUTO, "Auto (histogram)"),
)
"""Presets offered for every modality; computed from the file or the pixels."""


UserPresets = Mapping[str, Sequence[tuple[str, float, float]]]
"""Presets from config.toml: modality (upper case) -> (name, center, width), as checked by
:mod:`tuipacs.config`."""

USER_PREFIX = "user:"
"""The names of the reader's own presets start with this (so that one called 'file' or
'custom' is not taken for the file's window or a window moved by hand)."""


def presets_for(modality: str, user: UserPresets | None = None) -> list[Preset]:
    """Presets to offer for ``modality`` (e.g. 'CT'): common ones, specific ones, then the
    reader's own from config.toml (``user``). A user preset named as a built-in one (case
    and spaces aside) replaces it where it stands; the others follow in the file's order."""
    key = modality.strip().upper()
    found = [*COMMON_PRESETS, *(CT_PRESETS if key == "CT" else ())]
    for name, center, width in (user or {}).get(key, ()):
        folded = _folded(name)
        same = [n for n, p in enumerate(found) if p.is_fixed and _folded(p.label) == folded]
        if same:
            found[same[0]] = Preset(found[same[0]].name, name, center, width)
        else:
            found.append(Preset(USER_PREFIX + name, name, center, width))
    return found


def preset_key(number: int) -> str:
    """The key of preset ``number`` (1-based): ``1`` .. ``9``, ``0`` for the tenth, else ''."""
    return PRESET_KEYS[number - 1] if 0 < number <= len(PRESET_KEYS) else ""


def file_presets(windows: Sequence[Window]) -> list[Window]:
    """The windows stored in a file worth offering as presets: finite center and width (a
    hostile 'NaN' or '1e308' is not a window), at most :data:`MAX_FILE_WINDOWS`."""
    usable = [
        w for w in windows if abs(w.center) < _LARGEST_WINDOW and abs(w.width) < _LARGEST_WINDOW
    ]
    return usable[:MAX_FILE_WINDOWS]


def file_window_label(window: Window, number: int) -> str:
    """What a window stored in the file is called: its explanation (WindowCenterWidth
    Explanation, made safe for a terminal and cut to :data:`MAX_LABEL`) or ``file N``."""
    text = clean(" ".join(window.explanation.split()))
    if len(text) > MAX_LABEL:
        text = text[: MAX_LABEL - 1] + "…"
    return text or f"file {number}"


def _folded(name: str) -> str:
    """A preset name compared without case or spaces ('Lung', 'lung ')."""
    return "".join(name.split()).casefold()


def preset_names(modality: str | None = None) -> list[str]:
    """Names accepted by :func:`find_preset` (all modalities when ``modality`` is None)."""
    presets = [*COMMON_PRESETS, *CT_PRESETS] if modality is None else presets_for(modality)
    return [p.name for p in presets]


def find_preset(name: str) -> Preset | None:
    """The preset called ``name`` (case-insensitive), from any modality."""
    key = name.strip().lower().replace("-", "").replace("_", "")
    for preset in (*COMMON_PRESETS, *CT_PRESETS):
        if preset.name.replace("-", "") == key:
            return preset
    return None


def value_extremes(values: np.ndarray) -> tuple[float, float]:
    """(min, max) of finite modality values."""
    flat = values.reshape(-1)
    if flat.dtype.kind == "f":
        flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return 0.0, 0.0
    return float(flat.min()), float(flat.max())


def minmax_window(values: np.ndarray) -> Window:
    """The window that spans all values, as DCMTK's ``+Wm``.

    DCMTK uses ``c = (min + max + 1) / 2`` and ``w = max - min + 1``, so the
    lowest value maps to black and the highest to white.
    """
    lo, hi = value_extremes(values)
    return Window((lo + hi + 1.0) / 2.0, hi - lo + 1.0, "MIN-MAX")


def auto_window(values: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> Window:
    """A window from the histogram: the central ``low_pct``..``high_pct`` percentiles.

    Ignores the most frequent extreme value when it is the minimum (padding or air
    outside the body) so it does not drag the window down. Samples at most ~256k
    pixels, so it costs a few milliseconds even for large images.
    """
    flat = values.reshape(-1)
    step = max(1, flat.size // 262_144)
    sample = flat[::step].astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return Window(0.0, 1.0, "AUTO")
    lowest = sample.min()
    if np.count_nonzero(sample == lowest) > sample.size // 10 and sample.max() > lowest:
        sample = sample[sample > lowest]
    lo, hi = np.percentile(sample, [low_pct, high_pct])
    return Window(float(lo + hi) / 2.0, max(float(hi - lo), 1.0), "AUTO")
