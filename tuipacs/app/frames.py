"""Frames for the viewer: decoded modality values plus what the overlays show, cached.

A thin adapter over :mod:`tuipacs.imaging`: :class:`~tuipacs.imaging.DisplayPipeline` decodes
and knows the windows, inversion and pixel aspect; :class:`~tuipacs.imaging.FrameCache` keeps
decoded frames within a byte budget and decodes ahead in its own threads. The viewer asks for
image ``i`` of a series and gets a :class:`Frame`; blocking work happens in the caller's thread
(the render thread), never in the UI thread. Thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

from tuipacs.imaging import presets
from tuipacs.imaging.cache import FrameCache, PipelineLoader
from tuipacs.imaging.errors import ImagingError, is_fatal, short_reason
from tuipacs.imaging.limits import DECODE_LIMIT
from tuipacs.imaging.luts import LookupTable
from tuipacs.imaging.modality import functional_group_item
from tuipacs.imaging.pipeline import DisplayPipeline
from tuipacs.imaging.viewport import pixel_spacing
from tuipacs.imaging.voi import VoiFunction, Window

MAX_DISPLAY = 2048
"""Frames larger than this (either side) are reduced once for display (big X-rays)."""


@dataclass(frozen=True)
class ImageRef:
    """One image of a series: a file and a frame number in it (0-based)."""

    path: Path
    frame: int = 0


@dataclass(frozen=True)
class FrameInfo:
    """What the overlays and the probe need to know about one image."""

    modality: str = ""
    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    sex: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    institution: str = ""
    series_number: str = ""
    series_description: str = ""
    instance_number: str = ""
    rows: int = 0
    columns: int = 0
    frames: int = 1
    slice_location: float | None = None
    slice_thickness: float | None = None
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, ...] | None = None
    patient_orientation: tuple[str, ...] = ()
    pixel_spacing: tuple[float, float] | None = None
    unit: str = ""
    frame_time_ms: float | None = None
    cine_rate: float | None = None
    photometric: str = ""


@dataclass
class Frame:
    """One decoded image: modality values (grey) or RGB uint8 (colour), plus its facts."""

    values: np.ndarray
    color: bool
    invert: bool
    aspect: float
    windows: list[Window]
    function: VoiFunction
    info: FrameInfo
    scale: float = 1.0
    """Display pixels per source pixel (< 1 when a big image was reduced for display)."""
    voi_lut: LookupTable | None = None
    """The file's VOI LUT, used when the file has no window and the user chose none."""
    cached: dict[str, Any] = field(default_factory=dict)

    def default_window(self) -> Window:
        """The file's first window, else the min-max window (as ``tuipacs render``)."""
        if self.windows:
            return self.windows[0]
        found = self.cached.get("minmax")
        if found is None:
            found = self.cached["minmax"] = presets.minmax_window(self.values)
        return found

    def value_at(self, row: int, col: int) -> float | tuple[int, ...] | None:
        """The displayed value at (row, col) of the *display* array, None if outside."""
        rows, cols = self.values.shape[:2]
        if not (0 <= row < rows and 0 <= col < cols):
            return None
        value = self.values[row, col]
        if self.color:
            return tuple(int(v) for v in value)
        return float(value)


def _text(ds: Dataset, keyword: str) -> str:
    value: Any = ds.get(keyword, "")
    if value is None:
        return ""
    if type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        value = list(value)[0] if len(value) else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    if value is None or value == "":
        return None
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None


def _plane_value(ds: Dataset, index: int, macro: str, keyword: str) -> Any:
    """A value from the frame's functional group macro, else from the top level."""
    item = functional_group_item(ds, index, macro)
    if item is not None and keyword in item:
        return item.get(keyword)
    return ds.get(keyword)


def _patient_orientation(ds: Dataset) -> tuple[str, ...]:
    """Patient Orientation (0020,0020), e.g. ('L', 'F') for a radiograph; () if absent."""
    value = ds.get("PatientOrientation")
    if not value:
        return ()
    parts = value.split("\\") if isinstance(value, str) else list(value)
    return tuple(str(part).strip() for part in parts)


def rescale_unit(modality: str, rescale_type: str) -> str:
    """The unit of the modality values: HU for CT, else RescaleType unless 'US' (unspecified)."""
    kind = rescale_type.strip().upper()
    if modality == "CT" and kind in ("", "HU"):
        return "HU"
    return "" if kind == "US" else rescale_type.strip()


def frame_info(ds: Dataset, index: int) -> FrameInfo:
    """The overlay facts of frame ``index`` of ``ds``."""
    modality = _text(ds, "Modality").upper()
    spacing = pixel_spacing(ds, index)
    rescale_type = _text(ds, "RescaleType")
    unit = rescale_unit(modality, rescale_type)
    position = _floats(_plane_value(ds, index, "PlanePositionSequence", "ImagePositionPatient"), 3)
    return FrameInfo(
        modality=modality,
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        birth_date=_text(ds, "PatientBirthDate"),
        sex=_text(ds, "PatientSex"),
        study_date=_text(ds, "StudyDate"),
        study_time=_text(ds, "StudyTime"),
        study_description=_text(ds, "StudyDescription"),
        institution=_text(ds, "InstitutionName"),
        series_number=_text(ds, "SeriesNumber"),
        series_description=_text(ds, "SeriesDescription"),
        instance_number=_text(ds, "InstanceNumber"),
        rows=int(ds.get("Rows", 0) or 0),
        columns=int(ds.get("Columns", 0) or 0),
        frames=int(_float(ds.get("NumberOfFrames")) or 1),
        slice_location=_float(ds.get("SliceLocation")),
        slice_thickness=_float(_plane_value(ds, index, "PixelMeasuresSequence", "SliceThickness")),
        position=position,  # type: ignore[arg-type]
        orientation=_floats(
            _plane_value(ds, index, "PlaneOrientationSequence", "ImageOrientationPatient"), 6
        ),
        patient_orientation=_patient_orientation(ds),
        pixel_spacing=spacing,
        unit=unit,
        frame_time_ms=_float(ds.get("FrameTime")),
        cine_rate=_float(ds.get("CineRate")) or _float(ds.get("RecommendedDisplayFrameRate")),
        photometric=_text(ds, "PhotometricInterpretation").upper(),
    )


def _reduce(values: np.ndarray) -> np.ndarray:
    """A display-sized copy of a very large frame (area average); others unchanged."""
    rows, cols = values.shape[:2]
    factor = max(rows, cols) / MAX_DISPLAY
    if factor <= 1.0:
        return values
    size = (max(1, round(cols / factor)), max(1, round(rows / factor)))
    if values.ndim == 3:
        return np.asarray(Image.fromarray(values).resize(size, Image.Resampling.BOX))
    image = Image.fromarray(values.astype(np.float32), mode="F")
    return np.asarray(image.resize(size, Image.Resampling.BOX))


class _DisplayLoader(PipelineLoader):
    """The imaging module's loader, with very large frames reduced once for display."""

    def __call__(self, source: Any, frame: int) -> np.ndarray:
        return _reduce(super().__call__(source, frame))


@dataclass(frozen=True)
class _Facts:
    """Per-image facts that do not depend on the pixels (read once from the header)."""

    info: FrameInfo
    color: bool
    invert: bool
    aspect: float
    windows: list[Window]
    function: VoiFunction
    voi_lut: LookupTable | None


class FrameStore:
    """The images of one series: decoded through a FrameCache, facts read once per image."""

    def __init__(
        self,
        images: list[ImageRef],
        max_bytes: int = 256 * 1024 * 1024,
        limit: int = DECODE_LIMIT,
    ) -> None:
        self.images = images
        self._loader = _DisplayLoader(limit=limit)
        self.cache = FrameCache(self._loader, budget_bytes=max_bytes, workers=2)
        self._facts: dict[int, _Facts] = {}
        self._extras: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.images)

    def replace_images(self, images: list[ImageRef]) -> None:
        """A longer list of the same series (images arrived); decoded frames stay cached."""
        with self._lock:
            self.images = images
            self._facts.clear()
            self._extras.clear()

    def close(self) -> None:
        """Stop decoding ahead."""
        self.cache.close()

    def _key(self, index: int) -> tuple[str, int]:
        ref = self.images[index]
        return str(ref.path), ref.frame

    def pipeline(self, index: int) -> DisplayPipeline:
        """The imaging pipeline of image ``index``'s file."""
        return self._loader.pipeline(str(self.images[index].path))

    def header(self, index: int) -> Dataset:
        """The header of image ``index`` (pixel data may be absent)."""
        return self.pipeline(index).dataset

    def _facts_of(self, index: int) -> _Facts:
        with self._lock:
            facts = self._facts.get(index)
        if facts is not None:
            return facts
        pipe = self.pipeline(index)
        frame = self.images[index].frame
        windows = [] if pipe.is_color else pipe.windows(frame)
        luts = [] if pipe.is_color or windows else pipe.voi_luts(frame)
        facts = _Facts(
            info=frame_info(pipe.dataset, frame),
            color=pipe.is_color,
            invert=not pipe.is_color and pipe.invert,
            aspect=pipe.pixel_aspect(frame),
            windows=windows,
            function=pipe.voi_function(frame),
            voi_lut=luts[0] if luts else None,
        )
        with self._lock:
            self._facts[index] = facts
        return facts

    def _frame(self, index: int, values: np.ndarray) -> Frame:
        facts = self._facts_of(index)
        columns = facts.info.columns or values.shape[1]
        return Frame(
            values=values,
            color=facts.color,
            invert=facts.invert,
            aspect=facts.aspect,
            windows=facts.windows,
            function=facts.function,
            info=facts.info,
            scale=values.shape[1] / columns,
            voi_lut=facts.voi_lut,
            cached=self._extras.setdefault(index, {}),
        )

    def cached(self, index: int) -> Frame | None:
        """The frame if it is decoded already (never blocks on decoding)."""
        if not 0 <= index < len(self.images):
            return None
        values = self.cache.peek(*self._key(index))
        return None if values is None else self._frame(index, values)

    def get(self, index: int) -> Frame:
        """Frame ``index``, decoding it if needed. Raises ImagingError with one line (what is
        wrong, without the file name), also for a decoder's panic (a BaseException); only
        Ctrl-C and exit pass through."""
        if not 0 <= index < len(self.images):
            raise ImagingError(f"image {index + 1} is out of range (1..{len(self.images)})")
        try:
            return self._frame(index, self.cache.get(*self._key(index)))
        except ImagingError as exc:  # the viewer shows which image: the reason is enough
            raise type(exc)(exc.reason) from None
        except BaseException as exc:
            if is_fatal(exc):
                raise
            name = self.images[index].path.name
            raise ImagingError(f"cannot show {name}: {short_reason(exc)}") from None

    def prefetch(self, index: int, direction: int, radius: int = 8) -> None:
        """Decode the neighbours of ``index`` in the background (nearest first)."""
        if not 0 <= index < len(self.images):
            return
        keys = [self._key(i) for i in range(len(self.images))]
        self.cache.prefetch_around(keys, index, radius=radius, ahead=1 if direction >= 0 else -1)
