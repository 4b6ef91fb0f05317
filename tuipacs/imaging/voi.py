"""VOI: windows and VOI LUTs that map modality values to 8-bit grey levels.

Formulas (PS3.3 C.11.2.1.2 and C.11.2.1.3), with ``ymax = 255``:

* LINEAR: ``y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255``, clamped to [0, 255].
* LINEAR_EXACT: ``y = ((x - c) / w + 0.5) * 255``, clamped.
* SIGMOID: ``y = 255 / (1 + exp(-4 (x - c) / w))``.

Output grey levels are truncated, not rounded, and an inverted image (MONOCHROME1,
Presentation LUT Shape INVERSE) is inverted before truncation, ``floor(255 - y)``:
this is what DCMTK's ``dcmj2pnm`` writes.

:func:`to_uint8` is the fast path for the viewer (in-place float32 arithmetic in
reusable buffers); :func:`to_uint8_exact` does the same in double precision with
DCMTK's exact arithmetic and is used by ``tuipacs render``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from pydicom.dataset import Dataset

from tuipacs.imaging.luts import LookupTable, little_endian_of, parse_lut
from tuipacs.imaging.modality import functional_group_item


class VoiFunction(StrEnum):
    """VOI LUT Function (0028,1056)."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"

    @classmethod
    def parse(cls, value: object) -> VoiFunction:
        """The function named by ``value``; LINEAR for anything unknown or empty."""
        text = str(value or "").strip().upper()
        try:
            return cls(text)
        except ValueError:
            return cls.LINEAR


@dataclass(frozen=True)
class Window:
    """A VOI window in modality units (e.g. HU), with where it came from."""

    center: float
    width: float
    explanation: str = ""
    function: VoiFunction = VoiFunction.LINEAR

    @property
    def low(self) -> float:
        """Lowest modality value shown brighter than black."""
        return self.center - self.width / 2

    @property
    def high(self) -> float:
        """Highest modality value shown darker than white."""
        return self.center + self.width / 2

    @property
    def is_valid(self) -> bool:
        """Width must be at least 1 (LINEAR, SIGMOID) or positive (LINEAR_EXACT)."""
        if self.function is VoiFunction.LINEAR_EXACT:
            return self.width > 0
        return self.width >= 1

    def adjusted(self, d_center: float = 0.0, d_width: float = 0.0) -> Window:
        """A copy moved by ``d_center`` and widened by ``d_width`` (width stays >= 1)."""
        return replace(self, center=self.center + d_center, width=max(1.0, self.width + d_width))

    def label(self) -> str:
        """Short text for the UI, e.g. ``C 40 W 400 (BRAIN)``."""
        text = f"C {self.center:g} W {self.width:g}"
        return f"{text} ({self.explanation})" if self.explanation else text


def _values(value: object) -> list[float]:
    """A DS value with VM >= 1 as a list of floats (malformed entries dropped)."""
    if value is None or value == "":
        return []
    seq = [value] if isinstance(value, str | int | float) else list(value)  # type: ignore[call-overload]
    out: list[float] = []
    for item in seq:
        try:
            out.append(float(item))
        except (TypeError, ValueError):
            continue
    return out


def _strings(value: object) -> list[str]:
    """A LO value with VM >= 1 as a list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]  # type: ignore[attr-defined]


def windows_in(item: Dataset) -> list[Window]:
    """Every (center, width) pair in ``item`` with its explanation."""
    centers = _values(item.get("WindowCenter"))
    widths = _values(item.get("WindowWidth"))
    notes = _strings(item.get("WindowCenterWidthExplanation"))
    function = VoiFunction.parse(item.get("VOILUTFunction"))
    windows = []
    for i, (center, width) in enumerate(zip(centers, widths, strict=False)):
        note = notes[i] if i < len(notes) else ""
        window = Window(center, width, note.strip(), function)
        if window.is_valid:
            windows.append(window)
    return windows


def file_windows(ds: Dataset, index: int = 0) -> list[Window]:
    """Windows stored for frame ``index``: functional groups first, then top level."""
    item = functional_group_item(ds, index, "FrameVOILUTSequence")
    if item is not None:
        found = windows_in(item)
        if found:
            return found
    return windows_in(ds)


def file_voi_luts(ds: Dataset, index: int = 0) -> list[LookupTable]:
    """VOI LUT Sequence items of ``ds`` (top level or frame VOI LUT macro)."""
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    little = little_endian_of(ds)
    sources = [functional_group_item(ds, index, "FrameVOILUTSequence"), ds]
    for source in sources:
        if source is None or not source.get("VOILUTSequence"):
            continue
        luts = [
            parse_lut(item, signed_input=signed, little_endian=little)
            for item in source.VOILUTSequence
        ]
        found = [lut for lut in luts if lut is not None]
        if found:
            return found
    return []


_local = threading.local()


def _buffer(shape: tuple[int, ...]) -> np.ndarray:
    """A float32 scratch buffer of ``shape``, reused per thread."""
    cache: dict[tuple[int, ...], np.ndarray] | None = getattr(_local, "buffers", None)
    if cache is None:
        cache = {}
        _local.buffers = cache
    buf = cache.get(shape)
    if buf is None:
        if len(cache) > 4:
            cache.clear()
        buf = np.empty(shape, dtype=np.float32)
        cache[shape] = buf
    return buf


def _linear_coefficients(window: Window, function: VoiFunction) -> tuple[float, float]:
    """(gain, offset) so that ``y = x * gain + offset`` before clamping."""
    c, w = float(window.center), float(window.width)
    if function is VoiFunction.LINEAR_EXACT:
        return 255.0 / w, (0.5 - c / w) * 255.0
    w1 = w - 1.0
    return 255.0 / w1, 255.0 - ((c - 0.5) / w1 + 0.5) * 255.0


def _as_window(window: Window | tuple[float, float]) -> Window:
    """Accept a Window or a (center, width) tuple."""
    if isinstance(window, Window):
        return window
    center, width = window
    return Window(float(center), float(width))


def to_uint8(
    values: np.ndarray,
    window: Window | tuple[float, float],
    function: VoiFunction | str | None = None,
    invert: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Grey levels (uint8) of modality ``values`` through ``window``; fast path.

    ``function`` overrides the window's own VOI LUT Function; ``invert`` flips the
    result (MONOCHROME1 / INVERSE). Works in place in float32 buffers that are
    reused between calls of the same thread; pass ``out`` to reuse the result too.
    """
    win = _as_window(window)
    func = VoiFunction.parse(function) if function is not None else win.function
    if out is None:
        out = np.empty(values.shape, dtype=np.uint8)
    buf = _buffer(values.shape)
    if func is VoiFunction.SIGMOID:
        _sigmoid_into(values, win, buf)
        if invert:
            np.subtract(255.0, buf, out=buf)
    elif func is VoiFunction.LINEAR and win.width <= 1.0:
        np.greater(values, win.center - 0.5, out=out)
        np.multiply(out, 255, out=out)
        return np.subtract(255, out, out=out) if invert else out
    else:
        gain, offset = _linear_coefficients(win, func)
        if invert:
            gain, offset = -gain, 255.0 - offset
        np.multiply(values, np.float32(gain), out=buf)
        np.add(buf, np.float32(offset), out=buf)
    np.clip(buf, 0.0, 255.0, out=buf)
    np.copyto(out, buf, casting="unsafe")
    return out


def _sigmoid_into(values: np.ndarray, win: Window, buf: np.ndarray) -> None:
    """``buf = 255 / (1 + exp(-4 (x - c) / w))`` computed in place."""
    k = -4.0 / float(win.width)
    np.multiply(values, np.float32(k), out=buf)
    np.add(buf, np.float32(-k * float(win.center)), out=buf)
    np.clip(buf, -80.0, 80.0, out=buf)
    np.exp(buf, out=buf)
    np.add(buf, np.float32(1.0), out=buf)
    np.divide(np.float32(255.0), buf, out=buf)


def to_uint8_exact(
    values: np.ndarray,
    window: Window | tuple[float, float],
    function: VoiFunction | str | None = None,
    invert: bool = False,
) -> np.ndarray:
    """Like :func:`to_uint8` in double precision, with DCMTK's exact arithmetic."""
    win = _as_window(window)
    func = VoiFunction.parse(function) if function is not None else win.function
    x = np.asarray(values, dtype=np.float64)
    c, w = float(win.center), float(win.width)
    if func is VoiFunction.SIGMOID:
        y = 255.0 / (1.0 + np.exp(np.clip(-4.0 * (x - c) / w, -700.0, 700.0)))
        y = 255.0 - y if invert else y
    elif func is VoiFunction.LINEAR_EXACT:
        # LINEAR_EXACT(c, w) is LINEAR(c + 0.5, w + 1): same formula and borders.
        y = _dcmtk_linear(x, c + 0.5, w + 1.0, invert)
    else:
        y = _dcmtk_linear(x, c, w, invert)
    return np.clip(y, 0.0, 255.0).astype(np.uint8)


def _dcmtk_linear(x: np.ndarray, c: float, w: float, invert: bool) -> np.ndarray:
    """DCMTK's linear VOI: ``offset + x * gradient`` with explicit window borders."""
    low, high = (255.0, 0.0) if invert else (0.0, 255.0)
    w1 = w - 1.0
    left, right = c - 0.5 - w1 / 2, c - 0.5 + w1 / 2
    outrange = high - low
    if w1 == 0:
        y = np.zeros_like(x)
    else:
        offset = high - ((c - 0.5) / w1 + 0.5) * outrange
        y = x * (outrange / w1)
        y += offset
    np.putmask(y, x <= left, low)
    np.putmask(y, x > right, high)
    return y


def lut_to_uint8(values: np.ndarray, lut: LookupTable, invert: bool = False) -> np.ndarray:
    """Grey levels through a VOI LUT (entries scaled from the LUT's bit depth to 8 bits)."""
    entries = lut.table.astype(np.float64)
    scaled = np.floor(entries * 256.0 / float(1 << lut.bits))
    grey = np.clip(scaled, 0, 255).astype(np.uint8)
    if invert:
        grey = 255 - grey
    return grey[lut.indices(values)]


def lut_to_uint8_exact(values: np.ndarray, lut: LookupTable, invert: bool = False) -> np.ndarray:
    """VOI LUT output as DCMTK writes it (``low + entry * outrange / 2**bits``)."""
    low, high = (255.0, 0.0) if invert else (0.0, 255.0)
    outrange = high - low + 1.0
    entries = low + lut.table.astype(np.float64) * outrange / float(1 << lut.bits)
    grey = np.clip(np.trunc(entries), 0, 255).astype(np.uint8)
    return grey[lut.indices(np.trunc(values) if values.dtype.kind == "f" else values)]
