"""Importing folders, files and DICOMDIRs into the archive (headers only)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuipacs.store.adding import AddResult
from tuipacs.store.archive import Archive
from tuipacs.store.batch import Ingest, Reader
from tuipacs.store.records import (
    MEDIA_STORAGE_DIRECTORY,
    BadDicomError,
    InstanceRecord,
    NotDicomError,
    read_record,
)

#: Files per batch of an import, and the longest a file read waits for its batch to close.
BATCH = 500
BATCH_DELAY = 0.5

Progress = Callable[[int, int], None]


@dataclass
class ImportSummary:
    """What an import did; ``errors``, ``refused`` and ``conflicts`` hold (path, one-line
    message) pairs: files that could not be read, files that broke an identity rule, and
    different objects with a SOP Instance UID the archive holds (the last two are in the
    quarantine)."""

    files: int = 0
    added: int = 0
    duplicates: int = 0
    not_dicom: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    bytes_added: int = 0
    seconds: float = 0.0
    studies: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (studies as a count plus their UIDs)."""
        return {
            "files": self.files,
            "added": self.added,
            "duplicates": self.duplicates,
            "not_dicom": self.not_dicom,
            "failed": len(self.errors),
            "errors": [{"path": p, "error": m} for p, m in self.errors],
            "refused": len(self.refused),
            "conflicts": len(self.conflicts),
            "quarantined": [
                {"path": p, "kind": kind, "error": m}
                for kind, pairs in (("refused", self.refused), ("conflict", self.conflicts))
                for p, m in pairs
            ],
            "bytes_added": self.bytes_added,
            "seconds": round(self.seconds, 3),
            "study_uids": sorted(self.studies),
        }


def _is_dicomdir(path: Path) -> bool:
    if path.name.upper() == "DICOMDIR":
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    return head[128:132] == b"DICM" and MEDIA_STORAGE_DIRECTORY.encode() in head


def _dicomdir_files(path: Path) -> list[Path]:
    """Files referenced by a DICOMDIR, resolved against its folder."""
    import pydicom  # only for a DICOMDIR: `send` lists files without loading pydicom

    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:
        raise BadDicomError(f"{path}: unreadable DICOMDIR ({exc})") from exc
    files: list[Path] = []
    for record in ds.get("DirectoryRecordSequence", []):
        ref = record.get("ReferencedFileID")
        if ref:
            parts = [ref] if isinstance(ref, str) else list(ref)
            files.append(path.parent.joinpath(*parts))
    return files


def collect_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every candidate file under ``paths``: folders walked, DICOMDIRs expanded."""
    for path in paths:
        if path.is_dir():
            for folder, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    candidate = Path(folder) / name
                    if name.upper() != "DICOMDIR":
                        yield candidate
        elif path.is_file() and _is_dicomdir(path):
            yield from _dicomdir_files(path)
        else:
            yield path


def import_paths(
    archive: Archive,
    paths: Iterable[Path],
    *,
    link: bool = False,
    progress: Progress | None = None,
    reader: Reader = read_record,
) -> ImportSummary:
    """Import every DICOM file under ``paths``; per-file errors are collected, not raised.

    Headers are read here (by ``reader``, e.g. the server's fast header scan; pydicom's by
    default) while a thread copies and commits the files read so far in batches
    (:class:`~tuipacs.store.batch.Ingest`: one flush, one placement sweep and one
    transaction per batch). ``link`` indexes the files where they are, a batch at a time.
    Raises ArchiveError only when the archive itself cannot be written (e.g. a full disk).
    """
    start = time.perf_counter()
    summary = ImportSummary()
    try:
        files = list(collect_files(paths))
    except BadDicomError as exc:
        summary.errors.append(("DICOMDIR", str(exc)))
        files = []
    total = len(files)
    if link:
        _import_linked(archive, files, reader, summary, progress)
    else:
        ingest = Ingest(
            archive, source="import", move=False, max_files=BATCH, max_delay=BATCH_DELAY
        )
        try:
            for done, path in enumerate(files, 1):
                summary.files += 1
                record = _read(path, summary, reader)
                if record is not None:
                    ingest.put(path, record, label=str(path))
                if progress is not None:
                    progress(done, total)
        finally:
            report = ingest.close()
        _count(summary, report.results)
        summary.errors.extend(report.errors)
        if ingest.failure is not None:
            raise ingest.failure
    summary.seconds = time.perf_counter() - start
    return summary


def _import_linked(
    archive: Archive,
    files: list[Path],
    reader: Reader,
    summary: ImportSummary,
    progress: Progress | None,
) -> None:
    """Index files where they are (``import --link``), a batch at a time."""
    batch: list[tuple[Path, InstanceRecord | None]] = []
    for done, path in enumerate(files, 1):
        summary.files += 1
        record = _read(path, summary, reader)
        if record is not None:
            batch.append((path, record))
        if len(batch) >= BATCH or (done == len(files) and batch):
            results = archive.add_files(batch, link=True, source="import")
            _count(summary, [(str(p), r) for (p, _), r in zip(batch, results, strict=True)])
            batch.clear()
        if progress is not None:
            progress(done, len(files))


def _read(path: Path, summary: ImportSummary, reader: Reader) -> InstanceRecord | None:
    try:
        return reader(path)
    except NotDicomError:
        summary.not_dicom += 1
    except BadDicomError as exc:
        summary.errors.append((str(path), str(exc)))
    except OSError as exc:
        summary.errors.append((str(path), f"{path.name}: {exc.strerror}"))
    return None


def _count(summary: ImportSummary, results: list[tuple[str, AddResult]]) -> None:
    """Add the outcomes of files to the summary."""
    for label, result in results:
        if result.status == "added":
            summary.added += 1
            summary.bytes_added += result.file_size
            summary.studies.add(result.study_uid)
        elif result.status == "refused":
            summary.refused.append((label, result.message))
        elif result.status == "conflict":
            summary.conflicts.append((label, result.message))
        else:
            summary.duplicates += 1
