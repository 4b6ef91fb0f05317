"""Removing studies from the archive (delete, evict) and checking the index against the disk.

Deletion removes a study's rows first (one transaction, under the archive lock), then only
the files the index named (never a linked file), then the folders that became empty: a file
the index does not name is never touched.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuipacs.store.archive import Archive


@dataclass(frozen=True, slots=True)
class EvictResult:
    """What an eviction removed."""

    studies: int
    bytes_freed: int
    bytes_after: int
    study_uids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Differences between the index and the files on disk."""

    missing_files: list[str]
    size_mismatches: list[str]
    orphan_files: list[str]

    @property
    def ok(self) -> bool:
        """True when index and files agree."""
        return not (self.missing_files or self.size_mismatches or self.orphan_files)


def delete_study(archive: Archive, study_uid: str) -> int:
    """Remove a study from the index, then the files the index named (never a linked
    file), then the folders that became empty. Returns the bytes freed."""
    with archive.locked():
        with archive.write() as conn:
            row = conn.execute(
                "SELECT id, patient_fk, size_bytes FROM study WHERE study_uid = ?",
                (study_uid,),
            ).fetchone()
            if row is None:
                return 0
            paths = conn.execute(
                "SELECT i.path FROM instance i JOIN series s ON i.series_fk = s.id "
                "WHERE s.study_fk = ? AND i.linked = 0",
                (row["id"],),
            ).fetchall()
            conn.execute("DELETE FROM study WHERE id = ?", (row["id"],))
            conn.execute(
                "DELETE FROM patient WHERE id = ? AND NOT EXISTS "
                "(SELECT 1 FROM study WHERE patient_fk = ?)",
                (row["patient_fk"], row["patient_fk"]),
            )
        folders: set[Path] = set()
        for (rel,) in paths:
            path = archive.absolute(rel)
            path.unlink(missing_ok=True)
            folders.add(path.parent)
            folders.add(path.parent.parent)
        # deepest first; a folder that still holds anything stays
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            if folder != archive.files_dir and folder.is_relative_to(archive.files_dir):
                with suppress(OSError):
                    folder.rmdir()
    return int(row["size_bytes"])


def evict(archive: Archive, limit_bytes: int) -> EvictResult:
    """Delete least recently opened, unpinned studies until the archive fits the limit."""
    total = archive.usage().bytes
    freed = 0
    removed: list[str] = []
    candidates = (
        archive.connection()
        .execute(
            "SELECT study_uid, size_bytes FROM study WHERE pinned = 0 "
            "ORDER BY coalesce(last_opened, received) ASC"
        )
        .fetchall()
    )
    for row in candidates:
        if total - freed <= limit_bytes:
            break
        freed += delete_study(archive, row["study_uid"])
        removed.append(row["study_uid"])
    return EvictResult(len(removed), freed, total - freed, tuple(removed))


def verify(archive: Archive) -> VerifyReport:
    """Compare the index with the files on disk."""
    missing: list[str] = []
    mismatched: list[str] = []
    indexed: set[Path] = set()
    for row in archive.connection().execute("SELECT path, file_size, linked FROM instance"):
        path = archive.absolute(row["path"])
        if not row["linked"]:
            indexed.add(path)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            missing.append(str(path))
            continue
        if size != row["file_size"]:
            mismatched.append(str(path))
    on_disk = {p for p in archive.files_dir.rglob("*") if p.is_file()}
    orphans = sorted(str(p) for p in on_disk - indexed)
    return VerifyReport(missing, mismatched, orphans)
