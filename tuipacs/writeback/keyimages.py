"""The key images of a study (pure: no Textual): those referenced by the Key Object
Selection documents in the archive, and those the reader flagged or unflagged in this
session, as the images of a *virtual series* the browser and the viewer list after the
study's series ("Key images (N)").

A KOS is untrusted input: it is read header-only by the guarded reader; only its IMAGE
references to instances of the same study in the archive count (at most
:data:`MAX_REFERENCES`), a frame number outside the image is dropped, and an unreadable KOS
is skipped (the others still count).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tuipacs.store.query import SeriesRow

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from tuipacs.store.archive import Archive

KOS_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"
"""Key Object Selection Document Storage."""
KEY_SERIES_UID = "tuipacs.key-images"
"""The series UID of the virtual series (not a DICOM UID: it can never be a real one)."""
MAX_REFERENCES = 10_000
"""Images a study's KOS objects mark at most."""
MAX_KOS = 200
"""KOS objects of one study read at most."""
MAX_FRAMES = 10_000
"""Frames of one multi-frame image a reference without frame numbers marks at most."""

ImageKey = tuple[str, int]
"""An image: its file in the archive (as a string) and its frame number (from 0)."""
Flags = Mapping[ImageKey, bool]
"""The reader's flags of one study: True flagged, False unflagged (over a KOS)."""


def study_files(archive: Archive, study_uid: str) -> dict[str, tuple[str, str, int]]:
    """Every instance of ``study_uid``: SOP UID -> (file path, series UID, frames)."""
    rows = archive.execute(
        "SELECT i.sop_uid, i.path, se.series_uid, i.frames, i.sop_class_uid FROM instance i "
        "JOIN series se ON i.series_fk = se.id JOIN study st ON se.study_fk = st.id "
        "WHERE st.study_uid = ?",
        (study_uid,),
    )
    return {r[0]: (str(archive.absolute(r[1])), r[2], max(1, int(r[3] or 1))) for r in rows}


def _kos_paths(archive: Archive, study_uid: str) -> list[Path]:
    rows = archive.execute(
        "SELECT i.path FROM instance i JOIN series se ON i.series_fk = se.id "
        "JOIN study st ON se.study_fk = st.id WHERE st.study_uid = ? AND i.sop_class_uid = ? "
        "ORDER BY i.instance_number, i.sop_uid LIMIT ?",
        (study_uid, KOS_CLASS, MAX_KOS),
    )
    return [archive.absolute(r[0]) for r in rows]


def has_kos(archive: Archive, study_uid: str) -> bool:
    """Does the archive hold a KOS of ``study_uid``?"""
    return bool(_kos_paths(archive, study_uid)[:1])


def _frame_numbers(value: object) -> list[int] | None:
    """Referenced Frame Number(s) as ints from 1 (malformed ones dropped); None when the
    reference has none (it is then to every frame)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        values: list[object] = list(value.split("\\"))
    elif isinstance(value, Iterable):  # a list, or pydicom's MultiValue
        values = list(itertools.islice(value, MAX_FRAMES))
    else:
        values = [value]
    found = []
    for part in values[:MAX_FRAMES]:
        try:
            number = int(str(part).strip())
        except ValueError:
            continue
        if number >= 1:
            found.append(number)
    return found


def _image_items(ds: Dataset) -> Iterator[Dataset]:
    """The IMAGE items of a KOS's content (first level, as TID 2010 puts them)."""
    for item in list(ds.get("ContentSequence") or [])[:MAX_REFERENCES]:
        if str(item.get("ValueType", "")) == "IMAGE":
            yield from list(item.get("ReferencedSOPSequence") or [])[:1]


def references(ds: Dataset, files: Mapping[str, tuple[str, str, int]]) -> list[ImageKey]:
    """The images of the study (``files``: :func:`study_files`) a KOS references."""
    found: list[ImageKey] = []
    for ref in _image_items(ds):
        try:
            sop_uid = str(ref.get("ReferencedSOPInstanceUID", "") or "")
            numbers = _frame_numbers(ref.get("ReferencedFrameNumber"))
        except (ValueError, TypeError, OverflowError):  # a malformed value: this one skipped
            continue
        if sop_uid not in files:
            continue
        path, _series, frames = files[sop_uid]
        wanted = (
            range(min(frames, MAX_FRAMES))
            if numbers is None
            else [n - 1 for n in numbers if n <= frames]
        )
        found += [(path, frame) for frame in wanted]
        if len(found) >= MAX_REFERENCES:
            break
    return found[:MAX_REFERENCES]


def kos_keys(archive: Archive, study_uid: str) -> list[ImageKey]:
    """The images of ``study_uid`` its KOS objects in the archive mark (in the order they
    are referenced, each once); an unreadable KOS is skipped."""
    paths = _kos_paths(archive, study_uid)
    if not paths:
        return []  # the common case: one small query, no listing of the study, no pydicom
    from tuipacs.imaging.errors import ImagingError
    from tuipacs.imaging.reading import read_dataset

    files = study_files(archive, study_uid)
    keys: dict[ImageKey, None] = {}
    for path in paths:
        try:
            ds = read_dataset(path, header_only=True)
            found = references(ds, files)
        except (ImagingError, OSError, ValueError, TypeError, AttributeError):
            continue  # a broken KOS marks nothing; the others still count
        for key in found:
            keys.setdefault(key, None)
        if len(keys) >= MAX_REFERENCES:
            break
    return list(keys)[:MAX_REFERENCES]


def merged(kos: list[ImageKey], flags: Flags) -> list[ImageKey]:
    """The key images: those of the KOS objects and those flagged, less those unflagged."""
    keys = {key: None for key in kos if flags.get(key, True)}
    keys.update({key: None for key, on in flags.items() if on})
    return list(keys)


def study_keys(archive: Archive, study_uid: str, flags: Flags) -> list[ImageKey]:
    """The key images of ``study_uid``, in the study's order (series, then instance and
    frame): those of its KOS objects and the reader's ``flags``; images no longer in the
    archive are left out."""
    keys = set(merged(kos_keys(archive, study_uid), flags))
    if not keys:
        return []
    files = study_files(archive, study_uid)
    order: dict[ImageKey, int] = {}
    for series in _series_order(archive, study_uid):
        for row in _instances(archive, series):
            for frame in range(min(row[1], MAX_FRAMES)):
                order[(row[0], frame)] = len(order)
    known = {path for path, _series, _frames in files.values()}
    present = [key for key in keys if key[0] in known and key in order]
    return sorted(present, key=lambda key: order[key])


def _series_order(archive: Archive, study_uid: str) -> list[str]:
    from tuipacs.store.query import list_series

    return [row.series_uid for row in list_series(archive, study_uid)]


def _instances(archive: Archive, series_uid: str) -> list[tuple[str, int]]:
    from tuipacs.store.query import list_instances

    return [(str(row.path), max(1, row.frames)) for row in list_instances(archive, series_uid)]


def key_series(study_uid: str, count: int) -> SeriesRow:
    """The virtual series row of ``count`` key images."""
    return SeriesRow(KEY_SERIES_UID, study_uid, "", "KEY", f"Key images ({count})", "", count)


def with_key_series(
    archive: Archive, study_uid: str, rows: list[SeriesRow], flags: Flags
) -> list[SeriesRow]:
    """``rows`` (the study's series) with the virtual series after them when the study has
    key images."""
    try:
        count = len(study_keys(archive, study_uid, flags))
    except Exception:  # noqa: BLE001 - the real series list even when the keys fail
        return rows
    return [*rows, key_series(study_uid, count)] if count else rows
