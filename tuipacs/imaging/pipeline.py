"""DisplayPipeline: one DICOM object from stored pixels to display grey levels.

Typical use by the viewer::

    pipe = DisplayPipeline.open(path)            # header only; frames stay on disk
    values = pipe.modality_frame(0)              # int16/float32 modality values (HU)
    window = pipe.default_window(0, values)      # first window in the file, else min-max
    grey = pipe.to_uint8(values, window)         # fast, in-place float32

Colour images (RGB, YBR_*, PALETTE COLOR) bypass VOI: :meth:`modality_frame` returns
their (rows, columns, 3) uint8 RGB pixels directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from tuipacs.imaging.color import palette_to_rgb8, to_rgb8, ybr_to_rgb
from tuipacs.imaging.decode import ImageInfo, PixelSource, read_dataset
from tuipacs.imaging.errors import DecodeError, ImagingError, short_reason
from tuipacs.imaging.limits import decode_limit
from tuipacs.imaging.luts import LookupTable, little_endian_of
from tuipacs.imaging.modality import ModalityTransform, modality_transform
from tuipacs.imaging.overlays import OverlayPlane, draw_overlays, overlay_planes
from tuipacs.imaging.presets import (
    FROM_FILE,
    MIN_MAX,
    Preset,
    auto_window,
    find_preset,
    minmax_window,
    presets_for,
)
from tuipacs.imaging.viewport import pixel_aspect, pixel_spacing
from tuipacs.imaging.voi import (
    VoiFunction,
    Window,
    file_voi_luts,
    file_windows,
    lut_to_uint8,
    lut_to_uint8_exact,
    to_uint8,
    to_uint8_exact,
)

Voi = Window | LookupTable
"""A VOI transform: a window or a VOI LUT from the file."""


class DisplayPipeline:
    """Decode, modality LUT, VOI and presentation for one DICOM object.

    Frame indices are 0-based here (the CLI's ``--frame`` is 1-based). All methods
    are thread-safe: decoding happens in :class:`PixelSource`, the rest is pure.
    """

    def __init__(
        self,
        dataset: Dataset,
        path: Path | None = None,
        *,
        from_file: bool = False,
        limit: int | None = None,
    ) -> None:
        limit = decode_limit() if limit is None else limit
        self.dataset = dataset
        self.path = Path(path) if path is not None else None
        self.source = PixelSource(dataset, self.path, from_file=from_file, limit=limit)
        self.info: ImageInfo = self.source.info
        self._overlays: list[OverlayPlane] | None = None

    @classmethod
    def open(
        cls, path: Path, *, header_only: bool = True, limit: int | None = None
    ) -> DisplayPipeline:
        """Open ``path``; with ``header_only`` the pixel data is read frame by frame.

        ``limit`` is the most bytes one decoded frame may take (:mod:`~tuipacs.imaging.limits`).
        """
        limit = decode_limit() if limit is None else limit
        path = Path(path)
        ds = read_dataset(path, header_only=header_only, limit=limit)
        return cls(ds, path, from_file=header_only, limit=limit)

    @property
    def name(self) -> str:
        """File name used in messages."""
        return self.source.name

    @property
    def frame_count(self) -> int:
        """Number of frames."""
        return self.info.frames

    @property
    def is_color(self) -> bool:
        """True for RGB, YBR and palette images (shown without VOI)."""
        return self.info.is_color

    @property
    def modality(self) -> str:
        """Modality (e.g. 'CT'), '' when absent."""
        return self.info.modality

    @property
    def invert(self) -> bool:
        """Whether grey levels are inverted for display.

        A Presentation LUT Shape of INVERSE or IDENTITY decides; without one,
        MONOCHROME1 is inverted. So MONOCHROME1 with INVERSE is inverted once (the
        standard's DX rule) and MONOCHROME1 with IDENTITY is not, as in DCMTK.
        """
        shape = str(self.dataset.get("PresentationLUTShape", "") or "").strip().upper()
        if shape in ("INVERSE", "IDENTITY"):
            return shape == "INVERSE"
        return self.info.photometric == "MONOCHROME1"

    def stored_frame(self, index: int) -> np.ndarray:
        """Decoded stored values of frame ``index`` (see :meth:`PixelSource.stored`)."""
        return self.source.stored(index)

    def modality_transform(self, index: int = 0) -> ModalityTransform:
        """Rescale or Modality LUT of frame ``index``."""
        return modality_transform(self.dataset, index)

    def modality_frame(self, index: int) -> np.ndarray:
        """Modality values (int16 or float32) of a grey frame, or RGB uint8 of a colour one."""
        stored = self.stored_frame(index)
        if self.is_color:
            return self._rgb(stored)
        return self.modality_transform(index).apply(stored)

    def exact_modality_frame(self, index: int) -> np.ndarray:
        """Modality values in float64 as DCMTK keeps them (integers, truncated)."""
        stored = self.stored_frame(index)
        return self.modality_transform(index).apply_exact(stored)

    def rgb_frame(self, index: int) -> np.ndarray:
        """(rows, columns, 3) uint8 RGB of a colour frame."""
        if not self.is_color:
            raise ImagingError(f"{self.name} is a grey-scale image, not colour")
        return self._rgb(self.stored_frame(index))

    def _rgb(self, stored: np.ndarray) -> np.ndarray:
        """Colour conversion of decoded samples to 8-bit RGB."""
        info = self.info
        try:
            if info.is_palette:
                return palette_to_rgb8(stored, self.dataset, little_endian_of(self.dataset))
            photometric = self.source.output_photometric()
            if photometric in ("YBR_FULL", "YBR_FULL_422"):
                stored = ybr_to_rgb(stored, photometric, info.bits_stored)
            return to_rgb8(stored, info.bits_stored)
        except ImagingError:
            raise
        except Exception as exc:
            raise DecodeError(
                f"cannot convert the colours of {self.name}: {short_reason(exc)}"
            ) from None

    def windows(self, index: int = 0) -> list[Window]:
        """Every window stored for frame ``index``, with its explanation."""
        return file_windows(self.dataset, index)

    def voi_luts(self, index: int = 0) -> list[LookupTable]:
        """VOI LUTs stored in the file for frame ``index``."""
        return file_voi_luts(self.dataset, index)

    def window_list(self, index: int = 0) -> list[tuple[float, float, str]]:
        """Stored windows as (center, width, explanation) tuples."""
        return [(w.center, w.width, w.explanation) for w in self.windows(index)]

    def voi_function(self, index: int = 0) -> VoiFunction:
        """The file's VOI LUT Function for frame ``index`` (LINEAR when absent)."""
        found = self.windows(index)
        return found[0].function if found else VoiFunction.LINEAR

    def default_window(self, index: int = 0, values: np.ndarray | None = None) -> Window:
        """First stored window, else the min-max window of ``values`` (decoded if None)."""
        found = self.windows(index)
        if found:
            return found[0]
        if values is None:
            values = self.modality_frame(index)
        return minmax_window(values)

    def default_voi(self, index: int = 0, values: np.ndarray | None = None) -> Voi:
        """First stored window, else first VOI LUT, else the min-max window."""
        found = self.windows(index)
        if found:
            return found[0]
        luts = self.voi_luts(index)
        if luts:
            return luts[0]
        return self.default_window(index, values)

    def presets(self) -> list[Preset]:
        """Window presets for this modality (CT presets for CT; file, min-max, auto for all)."""
        return presets_for(self.modality)

    def preset_window(self, name: str, index: int = 0, values: np.ndarray | None = None) -> Window:
        """The window of preset ``name`` for frame ``index``; raises ImagingError if unknown."""
        preset = find_preset(name)
        if preset is None:
            raise ImagingError(f"unknown window preset {name!r}")
        if preset.is_fixed:
            return preset.window()
        if preset.name == FROM_FILE:
            stored = self.windows(index)
            if not stored:
                raise ImagingError(f"{self.name} stores no window; try the minmax or auto preset")
            return stored[0]
        if values is None:
            values = self.modality_frame(index)
        return minmax_window(values) if preset.name == MIN_MAX else auto_window(values)

    def preset_names(self) -> list[str]:
        """Names of :meth:`presets`."""
        return [p.name for p in self.presets()]

    def to_uint8(
        self,
        values: np.ndarray,
        window: Voi | tuple[float, float],
        function: VoiFunction | str | None = None,
        invert: bool | None = None,
    ) -> np.ndarray:
        """Grey levels of ``values``: fast float32 path (VOI LUTs through a table)."""
        flip = self.invert if invert is None else invert
        if isinstance(window, LookupTable):
            return lut_to_uint8(values, window, flip)
        return to_uint8(values, window, function, flip)

    def overlays(self) -> list[OverlayPlane]:
        """Valid overlay planes of the object (embedded ones included)."""
        if self._overlays is None:
            self._overlays = overlay_planes(self.dataset, little_endian_of(self.dataset))
        return self._overlays

    def draw_overlays(self, grey: np.ndarray, index: int) -> np.ndarray:
        """Draw this object's overlays on a full-size grey frame, in place."""
        planes = self.overlays()
        if not planes or self.is_color:
            return grey
        return draw_overlays(grey, planes, index, lambda: self.source.all_bits(index))

    def grey_frame(
        self,
        index: int,
        voi: Voi | tuple[float, float] | None = None,
        *,
        overlays: bool = True,
        exact: bool = False,
    ) -> np.ndarray:
        """Full-size uint8 grey image of a monochrome frame.

        ``voi`` defaults to :meth:`default_voi`. With ``exact`` the arithmetic is
        DCMTK's (double precision, integer modality values), for reference output.
        """
        if self.is_color:
            raise ImagingError(f"{self.name} is a colour image")
        values = self.exact_modality_frame(index) if exact else self.modality_frame(index)
        chosen = self.default_voi(index, values) if voi is None else voi
        if isinstance(chosen, tuple):
            chosen = Window(float(chosen[0]), float(chosen[1]))
        if isinstance(chosen, LookupTable):
            grey = (lut_to_uint8_exact if exact else lut_to_uint8)(values, chosen, self.invert)
        elif exact:
            grey = to_uint8_exact(values, chosen, None, self.invert)
        else:
            grey = to_uint8(values, chosen, None, self.invert)
        if overlays:
            self.draw_overlays(grey, index)
        return grey

    def display_frame(
        self,
        index: int,
        voi: Voi | tuple[float, float] | None = None,
        *,
        overlays: bool = True,
        exact: bool = False,
    ) -> np.ndarray:
        """Full-size uint8 image: grey (rows, columns) or RGB (rows, columns, 3)."""
        if self.is_color:
            return self.rgb_frame(index)
        return self.grey_frame(index, voi, overlays=overlays, exact=exact)

    def pixel_spacing(self, index: int = 0) -> tuple[float, float] | None:
        """(row, column) spacing in mm, or None when unknown."""
        return pixel_spacing(self.dataset, index)

    def pixel_aspect(self, index: int = 0) -> float:
        """Height / width of one pixel as displayed (1.0 when unknown)."""
        return pixel_aspect(self.dataset, index)
