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
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import UID

from tuipacs.imaging.errors import (
    DecodeError,
    FrameRangeError,
    ImagingError,
    NoPixelDataError,
    NotDicomError,
    short_reason,
)
from tuipacs.imaging.jpegfix import repair_sequential_sos

_WARNINGS_LOCK = threading.RLock()


@contextmanager
def quiet() -> Iterator[None]:
    """Silence pydicom's warnings about malformed files while reading or decoding.

    Warning filters are process-wide, so concurrent ``catch_warnings`` blocks (frame
    cache workers) are serialised; decoding holds the GIL anyway.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


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


def transfer_syntax_of(ds: Dataset) -> str:
    """The dataset's transfer syntax UID, or '' when it has no file meta information."""
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID", "") if meta is not None else ""
    return str(uid or "")


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


def _plausible(ds: Dataset) -> bool:
    """Whether a dataset read with ``force=True`` looks like DICOM rather than noise."""
    try:
        tags = [int(elem.tag) for elem in ds]
    except Exception:
        return False
    if not tags:
        return False
    known = {0x00080016, 0x00080018, 0x00080060, 0x00280010, 0x00280011, 0x7FE00010}
    return bool(known.intersection(tags))


DEFER_SIZE = 256 * 1024
"""Values larger than this stay on disk in header-only reads (read on access)."""


def read_dataset(path: Path, *, header_only: bool = True) -> Dataset:
    """Read ``path`` as DICOM; with ``header_only`` large values (the pixel data)
    stay on disk until accessed, so the header is read without the pixels.

    Files without the 128-byte preamble are accepted when their content parses
    as DICOM. Raises :class:`NotDicomError` for anything else.
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise NotDicomError(f"file not found: {path}")
    if path.is_dir():
        raise NotDicomError(f"{path} is a folder, not a DICOM file")
    defer = DEFER_SIZE if header_only else None
    with quiet():
        try:
            ds = pydicom.dcmread(path, defer_size=defer)
            if len(ds) == 0:
                raise NotDicomError(
                    f"cannot read {name}: no data elements could be read (truncated file?)"
                )
            return _with_syntax(ds)
        except InvalidDicomError:
            pass
        except PermissionError:
            raise NotDicomError(f"cannot read {name}: permission denied") from None
        except ImagingError:
            raise
        except Exception as exc:
            raise NotDicomError(
                f"cannot read {name}: {short_reason(exc)} (truncated or corrupt file?)"
            ) from None
        try:
            forced: Dataset | None = pydicom.dcmread(path, defer_size=defer, force=True)
        except Exception:
            forced = None
        if forced is None or not _plausible(forced):
            raise NotDicomError(f"not a DICOM file: {name}")
        return _with_syntax(forced)


def _with_syntax(ds: Dataset) -> Dataset:
    """Give ``ds`` a Transfer Syntax UID inferred from how it was read, if it has none."""
    if transfer_syntax_of(ds):
        return ds
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None or little is None:
        implicit, little = True, True
    if not little:
        uid = "1.2.840.10008.1.2.2"
    else:
        uid = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(uid)
    return ds


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
        self, dataset: Dataset, path: Path | None = None, *, from_file: bool = False
    ) -> None:
        self.dataset = dataset
        self.path = Path(path) if path is not None else None
        self.name = self.path.name if self.path is not None else "the dataset"
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
    def open(cls, path: Path, *, header_only: bool = True) -> PixelSource:
        """Open ``path``; with ``header_only`` pixel data stays on disk until needed."""
        ds = read_dataset(Path(path), header_only=header_only)
        return cls(ds, path, from_file=header_only)

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
        """Decode frame ``index`` (0-based), trying plugins in order of preference."""
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
            except Exception as exc:
                errors.append(exc)
        repaired = self._decode_repaired(index, raw)
        if repaired is not None:
            return repaired
        raise self._error(index, errors[-1] if errors else RuntimeError("unknown error"))

    def _decode_repaired(self, index: int, raw: bool) -> np.ndarray | None:
        """Retry a JPEG frame whose scan header is malformed (as DCMTK tolerates)."""
        if not self.info.transfer_syntax.startswith("1.2.840.10008.1.2.4.5"):
            return None
        from pydicom.encaps import encapsulate, get_frame

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
        ds = Dataset()
        ds.file_meta = full.file_meta
        for elem in full.group_dataset(0x0028):
            ds.add(elem)
        ds.NumberOfFrames = 1
        ds.PixelData = encapsulate([fixed])
        try:
            with quiet():
                return pixel_array(ds, index=0, raw=raw, number_of_frames=1)
        except Exception:
            return None

    def _error(self, index: int, exc: BaseException) -> DecodeError:
        """Turn a decoder exception into a one-line :class:`DecodeError`."""
        reason = short_reason(exc)
        if "reshape" in reason or "larger than" in reason or "truncat" in reason.lower():
            reason = "the pixel data is truncated (shorter than Rows x Columns x Frames)"
        elif "no 'Pixel Data'" in reason:
            reason = "the pixel data is missing"
        where = f"frame {index + 1} of {self.name}"
        return DecodeError(f"cannot decode {where} ({self._syntax_name()}): {reason}")

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
