"""Read DICOM files with pydicom, quietly, without trusting the lengths they claim.

:func:`read_dataset` leaves large values (the pixel data) on disk; a full read loads them
when first used, after checking that each ends inside the file. :func:`quiet` silences
pydicom's warnings about malformed files (process-wide, so serialised).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from tuipacs.imaging import guard
from tuipacs.imaging.errors import ImagingError, NotDicomError, short_reason
from tuipacs.imaging.limits import decode_limit

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


def transfer_syntax_of(ds: Dataset) -> str:
    """The dataset's transfer syntax UID, or '' when it has no file meta information."""
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID", "") if meta is not None else ""
    return str(uid or "")


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


def read_dataset(path: Path, *, header_only: bool = True, limit: int | None = None) -> Dataset:
    """Read ``path`` as DICOM; with ``header_only`` large values (the pixel data)
    stay on disk until accessed, so the header is read without the pixels.

    Without ``header_only`` large values are read when first used, after a check that each
    one ends inside the file (pydicom would ask for the length a value claims, up to 4 GiB).
    A deflated file must not inflate past ``limit`` bytes (pydicom inflates it whole).
    Files without the 128-byte preamble are accepted when their content parses
    as DICOM. Raises :class:`NotDicomError` for anything else.
    """
    limit = decode_limit() if limit is None else limit
    path = Path(path)
    name = path.name
    if not path.exists():
        raise NotDicomError(f"file not found: {path}")
    if path.is_dir():
        raise NotDicomError(f"{path} is a folder, not a DICOM file")
    with quiet():
        try:
            problem = guard.deflate_problem(path, limit)
            if problem is not None:
                raise NotDicomError(f"cannot read {name}: {problem}", problem)
            ds = guard.read_counted(path, limit, defer_size=DEFER_SIZE)
            if len(ds) == 0:
                raise NotDicomError(
                    f"cannot read {name}: no data elements could be read (truncated file?)"
                )
            return _loaded(_with_syntax(ds), path, header_only)
        except InvalidDicomError:
            pass
        except PermissionError:
            raise NotDicomError(f"cannot read {name}: permission denied") from None
        except ImagingError:
            raise
        except guard.TooComplex as exc:
            raise NotDicomError(f"cannot read {name}: {exc}", str(exc)) from None
        except Exception as exc:
            raise NotDicomError(
                f"cannot read {name}: {short_reason(exc)} (truncated or corrupt file?)"
            ) from None
        try:
            forced: Dataset | None = guard.read_counted(
                path, limit, defer_size=DEFER_SIZE, force=True
            )
        except guard.TooComplex as exc:
            raise NotDicomError(f"cannot read {name}: {exc}", str(exc)) from None
        except Exception:
            forced = None
        if forced is None or not _plausible(forced):
            raise NotDicomError(f"not a DICOM file: {name}")
        return _loaded(_with_syntax(forced), path, header_only, force=True)


def _loaded(ds: Dataset, path: Path, header_only: bool, force: bool = False) -> Dataset:
    """``ds`` as :func:`read_dataset` returns it: large values stay on disk for a header
    read; for a full read they must end inside the file (read when used). Deflated files
    are read whole (their values cannot be read later from the compressed file)."""
    if header_only:
        return ds
    problem = guard.overrun(ds, guard.file_size(path))
    if problem is not None:
        raise NotDicomError(f"cannot read {path.name}: {problem}", problem)
    if transfer_syntax_of(ds) == "1.2.840.10008.1.2.1.99":
        return _with_syntax(pydicom.dcmread(path, force=force))
    return ds


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
