"""Read DICOM files and decode one frame at a time.

Decoding goes through pydicom 3 (``pydicom.pixels.pixel_array(src, index=N)``) with
the pylibjpeg plugins for JPEG, JPEG-LS, JPEG 2000 and RLE. A frame is decoded on
its own: a multi-frame file is never decoded whole to show one frame. Every failure
(missing file, not DICOM, truncated, no pixel data, frame out of range, corrupt or
unsupported encoding) becomes an :class:`~tuipacs.imaging.errors.ImagingError` whose
message is one line.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import UID

from tuipacs.imaging import framecheck, guard
from tuipacs.imaging.errors import (
    DecodeError,
    FrameRangeError,
    ImagingError,
    NoPixelDataError,
    is_fatal,
    short_reason,
)
from tuipacs.imaging.jpegfix import repair_sequential_sos
from tuipacs.imaging.limits import decode_limit, pixel_problem
from tuipacs.imaging.reading import DEFER_SIZE, quiet, read_dataset, transfer_syntax_of

__all__ = [
    "DEFER_SIZE",
    "ImageInfo",
    "PixelSource",
    "check_decoder",
    "image_info",
    "quiet",
    "read_dataset",
    "transfer_syntax_of",
]

PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
"""Pixel Data, Float Pixel Data, Double Float Pixel Data."""

YBR_NATIVE = frozenset({"YBR_FULL", "YBR_FULL_422"})

_PLUGIN_PACKAGES = {
    "1.2.840.10008.1.2.4.50": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.51": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.57": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.70": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.80": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.81": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.90": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.91": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.201": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.202": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.203": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.5": "pylibjpeg-rle",
}


@dataclass(frozen=True)
class ImageInfo:
    """The Image Pixel module of a DICOM object, validated."""

    rows: int
    columns: int
    frames: int
    samples_per_pixel: int
    photometric: str
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    planar_configuration: int
    transfer_syntax: str
    modality: str

    @property
    def signed(self) -> bool:
        """True when stored values are two's complement."""
        return self.pixel_representation == 1

    @property
    def is_monochrome(self) -> bool:
        """MONOCHROME1 or MONOCHROME2 (one sample, grey levels)."""
        return self.samples_per_pixel == 1 and self.photometric != "PALETTE COLOR"

    @property
    def is_palette(self) -> bool:
        """PALETTE COLOR: stored values index red, green and blue tables."""
        return self.samples_per_pixel == 1 and self.photometric == "PALETTE COLOR"

    @property
    def is_color(self) -> bool:
        """Three samples per pixel or a palette: shown in RGB, without VOI."""
        return not self.is_monochrome

    @property
    def is_compressed(self) -> bool:
        """True for encapsulated (compressed) transfer syntaxes."""
        return bool(self.transfer_syntax) and UID(self.transfer_syntax).is_compressed


def _as_int(value: Any, default: int) -> int:
    """An integer attribute value, or ``default`` when absent or malformed (e.g. '1A')."""
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def image_info(ds: Dataset, name: str = "the file") -> ImageInfo:
    """Validate and return the Image Pixel module of ``ds``.

    Raises :class:`NoPixelDataError` when the object has no image and
    :class:`DecodeError` when the image attributes are unusable.
    """
    if not any(tag in ds for tag in PIXEL_TAGS):
        if "Rows" in ds and "Columns" in ds:
            raise DecodeError(
                f"{name} has image attributes but no readable pixel data "
                "(the file is probably truncated)"
            )
        sop = str(ds.get("Modality", "") or "this object")
        raise NoPixelDataError(f"{name} has no pixel data ({sop} is not an image)")
    if 0x7FE00010 not in ds:
        raise DecodeError(f"{name} holds floating point pixel data, which is not supported yet")
    rows = _as_int(ds.get("Rows"), 0)
    columns = _as_int(ds.get("Columns"), 0)
    bits_allocated = _as_int(ds.get("BitsAllocated"), 0)
    if rows <= 0 or columns <= 0 or bits_allocated not in (1, 8, 16, 32, 64):
        raise DecodeError(
            f"{name} has invalid image attributes (Rows {rows}, Columns {columns}, "
            f"Bits Allocated {bits_allocated})"
        )
    samples = _as_int(ds.get("SamplesPerPixel"), 1)
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    if not photometric:
        photometric = "MONOCHROME2" if samples == 1 else "RGB"
    return ImageInfo(
        rows=rows,
        columns=columns,
        frames=max(1, _as_int(ds.get("NumberOfFrames"), 1)),
        samples_per_pixel=samples,
        photometric=photometric,
        bits_allocated=bits_allocated,
        bits_stored=_as_int(ds.get("BitsStored"), bits_allocated) or bits_allocated,
        pixel_representation=_as_int(ds.get("PixelRepresentation"), 0),
        planar_configuration=_as_int(ds.get("PlanarConfiguration"), 0),
        transfer_syntax=transfer_syntax_of(ds),
        modality=str(ds.get("Modality", "") or "").upper(),
    )


_JPEG_8BIT_FIRST = frozenset({"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"})
"""Baseline/extended JPEG: Pillow's libjpeg-turbo decodes 8-bit data bit-exactly like
DCMTK's IJG (same integer IDCT, fancy upsampling and colour tables); Pillow cannot
decode 12-bit data, which then goes to pylibjpeg."""


def _decoder_plugins(uid: str) -> tuple[str, ...]:
    """Plugins to try in order for ``uid``, ending with "" (any available plugin)."""
    try:
        available = get_decoder(UID(uid)).available_plugins
    except Exception:
        return ("",)
    order = ("pillow", "pylibjpeg") if uid in _JPEG_8BIT_FIRST else ("pylibjpeg",)
    return (*(name for name in order if name in available), "")


def check_decoder(info: ImageInfo, name: str) -> None:
    """Raise :class:`DecodeError` with an actionable message when no decoder can handle it."""
    uid = info.transfer_syntax
    if not uid:
        return
    try:
        decoder = get_decoder(UID(uid))
    except NotImplementedError:
        raise DecodeError(
            f"{name} uses transfer syntax {UID(uid).name}, which cannot be decoded"
        ) from None
    if not decoder.is_available:
        package = _PLUGIN_PACKAGES.get(uid, "a pydicom decoding plugin")
        raise DecodeError(f"no decoder for {UID(uid).name} in {name}: install {package}")


class PixelSource:
    """Decodes the frames of one DICOM object one at a time (thread-safe).

    Built from a dataset (full or header-only) and, for header-only datasets, the
    path it came from: frames are then read straight from the file, so a
    multi-frame object is never loaded whole.
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
        self.name = self.path.name if self.path is not None else "the dataset"
        self.limit = limit
        """Most bytes one decoded frame may take (see :mod:`tuipacs.imaging.limits`)."""
        self._problem: str | None = None
        self._checked = False
        with quiet():
            self.info = image_info(dataset, self.name)
            raw_frames = dataset.get("NumberOfFrames")
        in_memory = 0x7FE00010 in dataset and not (from_file and self.path is not None)
        self._full: Dataset | None = dataset if in_memory else None
        self._lock = threading.Lock()
        self._fix_frames = raw_frames is not None and _as_int(raw_frames, -1) != self.info.frames
        if self._full is not None and self._fix_frames:
            self._full = copy.copy(dataset)
            with quiet():
                self._full.NumberOfFrames = self.info.frames

    @classmethod
    def open(cls, path: Path, *, header_only: bool = True, limit: int | None = None) -> PixelSource:
        """Open ``path``; with ``header_only`` pixel data stays on disk until needed."""
        limit = decode_limit() if limit is None else limit
        ds = read_dataset(Path(path), header_only=header_only, limit=limit)
        return cls(ds, path, from_file=header_only, limit=limit)

    def check(self) -> None:
        """Raise :class:`DecodeError` unless the pixel description is possible and each
        frame fits in :attr:`limit` (checked once, before anything is decoded)."""
        if not self._checked:
            with quiet():
                layout = guard.layout_of(
                    self.dataset,
                    self.path,
                    compressed=self.info.is_compressed,
                    frames=self.info.frames,
                )
                problem = pixel_problem(layout, self.limit)
                if problem is None and self.path is not None:
                    problem = guard.overrun(self.dataset, guard.file_size(self.path))
            self._problem, self._checked = problem, True
        if self._problem is not None:
            raise DecodeError(f"cannot decode {self.name}: {self._problem}", self._problem)

    @property
    def frame_count(self) -> int:
        """Number of frames (1 for single-frame objects)."""
        return self.info.frames

    def check_index(self, index: int) -> None:
        """Raise :class:`FrameRangeError` unless 0 <= index < frame_count."""
        if not 0 <= index < self.info.frames:
            plural = "frame" if self.info.frames == 1 else "frames"
            raise FrameRangeError(
                f"frame {index + 1} is out of range: {self.name} has "
                f"{self.info.frames} {plural} (numbered from 1)"
            )

    def _source(self) -> Dataset | Path:
        """What to hand pydicom: the in-memory dataset or the file path."""
        if self._full is not None:
            return self._full
        deflated = self.info.transfer_syntax == "1.2.840.10008.1.2.1.99"
        from_path = self.info.transfer_syntax and not deflated and not self._fix_frames
        if self.path is not None and from_path:
            return self.path
        with self._lock:
            if self._full is None:
                if self.path is None:
                    raise DecodeError(f"{self.name} has no pixel data loaded")
                full = read_dataset(self.path, header_only=False)
                if 0x7FE00010 not in full:
                    raise NoPixelDataError(f"{self.name} has no pixel data")
                if self._fix_frames:
                    with quiet():
                        full.NumberOfFrames = self.info.frames
                self._full = full
        return self._full

    def _options(self, **extra: Any) -> dict[str, Any]:
        """Decoding options that override malformed attributes."""
        opts: dict[str, Any] = {"number_of_frames": self.info.frames}
        if self.info.transfer_syntax:
            opts["transfer_syntax_uid"] = UID(self.info.transfer_syntax)
        opts.update(extra)
        return opts

    def _decode(self, index: int, raw: bool, **extra: Any) -> np.ndarray:
        """Decode frame ``index`` (0-based), trying plugins in order of preference.

        Checks first (:meth:`check`, then the frame's own codestream header); a decoder
        that fails in any way short of KeyboardInterrupt / SystemExit (a Rust panic is a
        BaseException) is one more error, never an escape.
        """
        self.check()
        conformed = self._check_frame(index, raw)
        if conformed is not None:
            return conformed
        src = self._source()
        errors: list[BaseException] = []
        for plugin in _decoder_plugins(self.info.transfer_syntax):
            try:
                with quiet():
                    return pixel_array(
                        src,
                        index=index,
                        raw=raw,
                        decoding_plugin=plugin,
                        **self._options(**extra),
                    )
            except ImagingError:
                raise
            except BaseException as exc:
                if is_fatal(exc):
                    raise
                errors.append(exc)
        repaired = self._decode_repaired(index, raw)
        if repaired is not None:
            return repaired
        raise self._error(index, errors[-1] if errors else RuntimeError("unknown error"))

    def _decode_repaired(self, index: int, raw: bool) -> np.ndarray | None:
        """Retry a JPEG frame whose scan header is malformed (as DCMTK tolerates)."""
        if not self.info.transfer_syntax.startswith("1.2.840.10008.1.2.4.5"):
            return None
        from pydicom.encaps import get_frame

        full = self._full
        if full is None and self.path is not None:
            full = read_dataset(self.path, header_only=False)
        if full is None or 0x7FE00010 not in full:
            return None
        try:
            frame = get_frame(full.PixelData, index, number_of_frames=self.info.frames)
        except Exception:
            return None
        fixed = repair_sequential_sos(frame)
        if fixed is None:
            return None
        return self._decode_alone(fixed, raw, full)

    def _decode_alone(self, frame: bytes, raw: bool, header: Dataset) -> np.ndarray | None:
        """Decode one compressed frame on its own (group 0028 of ``header``); None if the
        decoders fail."""
        from pydicom.encaps import encapsulate

        ds = Dataset()
        ds.file_meta = header.file_meta
        for elem in header.group_dataset(0x0028):
            ds.add(elem)
        ds.NumberOfFrames = 1
        ds.PixelData = encapsulate([frame])
        try:
            with quiet():
                return pixel_array(ds, index=0, raw=raw, number_of_frames=1)
        except BaseException as exc:
            if is_fatal(exc):
                raise
            return None

    def _check_frame(self, index: int, raw: bool) -> np.ndarray | None:
        """Check compressed frame ``index`` before a decoder sees it (see
        :mod:`tuipacs.imaging.framecheck`): DecodeError when its codestream contradicts the
        header; an RLE frame that would make pylibjpeg-rle overrun is decoded here, with
        its segments cut to Rows x Columns values (as pydicom's own decoder reads them)."""
        info = self.info
        syntax = info.transfer_syntax
        if not info.is_compressed or not (
            syntax.startswith("1.2.840.10008.1.2.4.") or syntax == framecheck.RLE_LOSSLESS
        ):
            return None
        try:
            with quiet():
                frame = guard.encoded_frame(self.dataset, self.path, index, info.frames)
        except BaseException as exc:
            if is_fatal(exc):
                raise
            raise self._error(index, exc) from None
        problem = framecheck.codestream_problem(frame, syntax, info.rows, info.columns, self.limit)
        if problem is not None:
            raise self._error(index, ValueError(problem))
        pixels = info.rows * info.columns
        if syntax != framecheck.RLE_LOSSLESS or not framecheck.rle_overruns(
            frame, pixels, info.bits_allocated
        ):
            return None
        try:
            fixed = framecheck.rle_conform(frame, pixels)
        except ValueError as exc:
            raise self._error(index, exc) from None
        header = self.dataset
        decoded = self._decode_alone(fixed, raw, header)
        if decoded is None:
            raise self._error(index, ValueError("the RLE segments do not fit the image"))
        return decoded

    def _error(self, index: int, exc: BaseException) -> DecodeError:
        """Turn a decoder exception into a one-line :class:`DecodeError`."""
        reason = short_reason(exc)
        if "reshape" in reason or "larger than" in reason or "truncat" in reason.lower():
            reason = "the pixel data is truncated (shorter than Rows x Columns x Frames)"
        elif "no 'Pixel Data'" in reason:
            reason = "the pixel data is missing"
        where = f"frame {index + 1} of {self.name}"
        syntax = self._syntax_name()
        return DecodeError(
            f"cannot decode {where} ({syntax}): {reason}", f"{syntax} frame {index + 1}: {reason}"
        )

    def _syntax_name(self) -> str:
        """Human name of the transfer syntax."""
        uid = self.info.transfer_syntax
        return UID(uid).name if uid else "no transfer syntax"

    def stored(self, index: int) -> np.ndarray:
        """Stored values of frame ``index`` (0-based).

        Monochrome: (rows, columns) integers, sign-extended and masked to Bits
        Stored. Palette: the palette indices. Three-sample data: (rows, columns, 3)
        in RGB; uncompressed YBR_FULL / YBR_FULL_422 are returned as YBR (see
        :func:`tuipacs.imaging.color.ybr_to_rgb`).
        """
        self.check_index(index)
        check_decoder(self.info, self.name)
        raw = self.info.photometric in YBR_NATIVE and not self.info.is_compressed
        arr = self._decode(index, raw)
        expected = (self.info.rows, self.info.columns)
        if arr.shape[:2] != expected:
            raise DecodeError(
                f"cannot decode frame {index + 1} of {self.name}: decoded size "
                f"{arr.shape[1]}x{arr.shape[0]} differs from Columns x Rows "
                f"{expected[1]}x{expected[0]}"
            )
        return arr

    def output_photometric(self) -> str:
        """Photometric interpretation of what :meth:`stored` returns."""
        photometric = self.info.photometric
        if self.info.samples_per_pixel == 3:
            native_ybr = photometric in YBR_NATIVE and not self.info.is_compressed
            return photometric if native_ybr else "RGB"
        return photometric

    def all_bits(self, index: int) -> np.ndarray | None:
        """Frame ``index`` with every allocated bit kept (for overlays in unused bits).

        Only for uncompressed monochrome data with Bits Stored < Bits Allocated;
        otherwise ``None``.
        """
        info = self.info
        if info.is_compressed or info.samples_per_pixel != 1:
            return None
        if info.bits_allocated not in (8, 16) or info.bits_stored >= info.bits_allocated:
            return None
        self.check_index(index)
        return self._decode(index, True, bits_stored=info.bits_allocated, pixel_representation=0)
