"""Reading the index fields of a DICOM file from its header only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from tuipacs.imaging.guard import TooComplex, deflate_problem, layout_of, read_counted
from tuipacs.imaging.limits import decode_limit, pixel_problem
from tuipacs.store.instance import BadDicomError, InstanceRecord, NotDicomError, uid_problem

__all__ = [
    "DEFLATED",
    "MEDIA_STORAGE_DIRECTORY",
    "BadDicomError",
    "InstanceRecord",
    "NotDicomError",
    "check_pixels",
    "read_record",
    "record_from_dataset",
]

DEFLATED = "1.2.840.10008.1.2.1.99"
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"


# Binary-valued attributes that must go through pydicom's conversion.
_BINARY = {"Rows", "Columns"}


def _fast_ascii(ds: Dataset, keyword: str) -> str | None:
    """The raw value of a text attribute if it is plain ASCII (no conversion needed)."""
    if keyword in _BINARY:
        return None
    tag = tag_for_keyword(keyword)
    if tag is None or tag not in ds:
        return "" if tag is not None else None
    elem = ds.get_item(tag, keep_deferred=True)
    if isinstance(elem, RawDataElement) and isinstance(elem.value, bytes):
        try:
            return elem.value.decode("ascii").strip(" \x00")
        except UnicodeDecodeError:
            return None
    return None


def _text(ds: Dataset, keyword: str) -> str:
    fast = _fast_ascii(ds, keyword)
    if fast is not None:
        return fast
    value: Any = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _int(ds: Dataset, keyword: str) -> int | None:
    fast = _fast_ascii(ds, keyword)
    value: Any = fast if fast is not None else ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _last_end(ds: Dataset) -> tuple[int, int] | None:
    """(tag, end offset) of the last element pydicom read, or None (no element, or its end
    is unknown). pydicom reads a value cut by the end of the file short without a word, so
    a cut file shows as a last element ending past the file's size."""
    keys = list(ds.keys())
    if not keys:
        return None
    last = ds.get_item(max(keys), keep_deferred=True)
    tell = getattr(last, "value_tell", None)
    length = getattr(last, "length", None)
    if tell is None or length is None or length == 0xFFFFFFFF:
        return None
    return int(last.tag), tell + length


def _leftover(ds: Dataset, size: int) -> bool:
    """Whether bytes follow the last element pydicom could read (a cut element header)."""
    if not ds.keys():
        return size > 132  # past the preamble, yet not one element could be read
    last = _last_end(ds)
    return last is not None and last[1] < size


def _check_complete(ds: Dataset, path: Path, size: int, limit: int | None = None) -> None:
    """Raise if the file ends inside an element (such as PixelData), or if the pixel
    description is impossible (see :func:`check_pixels`)."""
    limit = decode_limit() if limit is None else limit
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "") or "") if meta is not None else ""
    last = _last_end(ds) if syntax != DEFLATED else None  # deflated: offsets count inflated
    if last is not None and last[1] > size:
        if last[0] == 0x7FE00010:
            raise BadDicomError(
                f"{path.name}: truncated (pixel data ends past the end of the file)"
            )
        tag = pydicom.tag.Tag(last[0])
        cut = pydicom.datadict.keyword_for_tag(tag) or str(tag)
        raise BadDicomError(f"{path.name}: truncated (the file ends inside {cut})")
    check_pixels(ds, path, syntax, limit)


def check_pixels(ds: Dataset, path: Path, syntax: str, limit: int | None = None) -> None:
    """Raise BadDicomError when the object's pixel description is impossible: one frame
    over ``limit`` bytes decoded, uncompressed pixel data shorter than Rows x Columns x
    Frames x Samples x Bits say, fewer compressed fragments than frames, or unusable
    attributes (the rules of :func:`tuipacs.imaging.limits.pixel_problem`, which the
    viewer and ``tuipacs render`` apply too). Objects without Pixel Data pass."""
    limit = decode_limit() if limit is None else limit
    if 0x7FE00010 not in ds:
        return
    compressed = bool(syntax) and syntax != DEFLATED and UID(syntax).is_compressed
    problem = pixel_problem(layout_of(ds, path, compressed=compressed), limit)
    if problem is not None:
        raise BadDicomError(f"{path.name}: {problem}")


def read_record(path: Path, limit: int | None = None) -> InstanceRecord:
    """Read the index fields of ``path``, headers only (large values are skipped, not read).

    A deflated file that would inflate too far, or a file with more elements and items
    than the decode limit allows, is refused before pydicom builds it all in memory (see
    :mod:`tuipacs.imaging.guard`).
    """
    limit = decode_limit() if limit is None else limit
    try:
        size = os.path.getsize(path)
        inflated = deflate_problem(path, limit)
        if inflated is not None:
            raise BadDicomError(f"{path.name}: {inflated}")
        ds = read_counted(path, limit, defer_size=256, force=False)
    except TooComplex as exc:
        raise BadDicomError(f"{path.name}: {exc}") from None
    except InvalidDicomError as exc:
        raise NotDicomError(f"{path.name}: not a DICOM file") from exc
    except FileNotFoundError as exc:
        raise BadDicomError(f"{path}: no such file") from exc
    except BadDicomError:
        raise
    except Exception as exc:  # pydicom raises many types on broken input
        raise BadDicomError(f"{path.name}: unreadable DICOM ({exc})") from exc
    return record_from_dataset(ds, path, size, limit)


def record_from_dataset(
    ds: Dataset, path: Path, size: int, limit: int | None = None
) -> InstanceRecord:
    """Build the record from an already parsed dataset (pixel values are not touched)."""
    limit = decode_limit() if limit is None else limit
    meta = getattr(ds, "file_meta", None)
    try:
        # raw text: a malformed meta element must not escape as pydicom's exception
        if meta is not None and _text(meta, "MediaStorageSOPClassUID") == MEDIA_STORAGE_DIRECTORY:
            raise NotDicomError(f"{path.name}: a DICOMDIR, not an image (import it by name)")
        _check_complete(ds, path, size, limit)
        sop_uid = _text(ds, "SOPInstanceUID") or (
            _text(meta, "MediaStorageSOPInstanceUID") if meta is not None else ""
        )
        study_uid = _text(ds, "StudyInstanceUID")
        series_uid = _text(ds, "SeriesInstanceUID")
        problem = uid_problem(sop_uid, study_uid, series_uid)
        if problem is not None:
            meta_syntax = _text(meta, "TransferSyntaxUID") if meta is not None else ""
            if meta_syntax != DEFLATED and _leftover(ds, size):
                problem = "truncated (the file ends before its study, series or SOP instance UID)"
            raise BadDicomError(f"{path.name}: {problem}")
        sop_class = _text(ds, "SOPClassUID") or (
            _text(meta, "MediaStorageSOPClassUID") if meta is not None else ""
        )
        tsyntax = _text(meta, "TransferSyntaxUID") if meta is not None else ""
        return InstanceRecord(
            patient_id=_text(ds, "PatientID"),
            patient_name=_text(ds, "PatientName"),
            birth_date=_text(ds, "PatientBirthDate"),
            sex=_text(ds, "PatientSex"),
            study_uid=study_uid,
            study_date=_text(ds, "StudyDate"),
            study_time=_text(ds, "StudyTime"),
            accession=_text(ds, "AccessionNumber"),
            study_description=_text(ds, "StudyDescription"),
            referring=_text(ds, "ReferringPhysicianName"),
            study_id=_text(ds, "StudyID"),
            series_uid=series_uid,
            series_number=_text(ds, "SeriesNumber"),
            series_description=_text(ds, "SeriesDescription"),
            modality=_text(ds, "Modality"),
            body_part=_text(ds, "BodyPartExamined"),
            series_date=_text(ds, "SeriesDate"),
            sop_uid=sop_uid,
            sop_class_uid=sop_class,
            instance_number=_int(ds, "InstanceNumber"),
            transfer_syntax=tsyntax,
            rows=_int(ds, "Rows"),
            columns=_int(ds, "Columns"),
            frames=_int(ds, "NumberOfFrames") or 1,
            file_size=size,
            image_position=_text(ds, "ImagePositionPatient"),
            image_orientation=_text(ds, "ImageOrientationPatient"),
            issuer_of_patient_id=_text(ds, "IssuerOfPatientID"),
        )
    except (BadDicomError, NotDicomError):
        raise
    except Exception as exc:
        raise BadDicomError(f"{path.name}: unreadable DICOM header ({exc})") from exc
