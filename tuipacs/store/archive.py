"""The local archive: DICOM files laid out by UID plus a SQLite index.

Every write is atomic: the file is copied to a private temporary folder inside the archive,
fsynced, announced in the ``pending`` table, renamed into place, and only then indexed, in one
transaction. An instance is in the index only if its file is complete. If a writer dies
mid-way, the next ``Archive.open`` finishes or discards what it left.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tuipacs.store.instance import BadDicomError, InstanceRecord, NotDicomError
from tuipacs.store.schema import migrate

INDEX_NAME = "index.sqlite"
_UID_RE = re.compile(r"^[0-9.]{1,64}$")


class ArchiveError(Exception):
    """A problem with the archive itself (permissions, full disk, broken index)."""


@dataclass(frozen=True, slots=True)
class AddResult:
    """Outcome of adding one file."""

    status: Literal["added", "duplicate"]
    sop_uid: str
    study_uid: str
    series_uid: str


@dataclass(frozen=True, slots=True)
class Usage:
    """How much the archive holds."""

    bytes: int
    studies: int
    series: int
    instances: int
    pinned_studies: int


@dataclass(frozen=True, slots=True)
class EvictResult:
    """What an eviction removed."""

    studies: int
    bytes_freed: int
    bytes_after: int


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


def _safe_component(uid: str) -> str:
    """A UID as a path component (UIDs are digits and dots; anything else is hashed)."""
    if _UID_RE.match(uid) and uid not in {".", ".."}:
        return uid
    return "x" + uuid.uuid5(uuid.NAMESPACE_OID, uid).hex


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_synced(src: Path, dst: Path) -> None:
    """Copy src to dst and fsync dst."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())


class Archive:
    """The archive at ``root``. Safe to share between threads; several processes may open it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files_dir = root / "files"
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._tmp: Path | None = None
        self._tmp_lock_fd: int | None = None
        self._pool: ThreadPoolExecutor | None = None

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, root: Path) -> Archive:
        """Open (creating if needed) the archive at ``root`` and recover from crashed writers."""
        archive = cls(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            archive.files_dir.mkdir(exist_ok=True)
            (root / "tmp").mkdir(exist_ok=True)
            migrate(archive._conn())
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"archive index {root / INDEX_NAME} is unusable: {exc}") from exc
        except OSError as exc:
            raise ArchiveError(f"cannot open archive at {root}: {exc.strerror}") from exc
        archive.recover()
        return archive

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.root / INDEX_NAME, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection and release the temporary folder."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._tmp_lock_fd is not None:
            os.close(self._tmp_lock_fd)
            self._tmp_lock_fd = None
            shutil.rmtree(self._tmp or "", ignore_errors=True)
            self._tmp = None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction, serialised within this process."""
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _tmp_dir(self) -> Path:
        """This process's private temporary folder, locked so recovery leaves it alone."""
        if self._tmp is None:
            tmp = self.root / "tmp" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir(parents=True)
            fd = os.open(tmp / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._tmp, self._tmp_lock_fd = tmp, fd
        return self._tmp

    def recover(self) -> int:
        """Finish or discard what crashed writers left. Returns the number of files indexed."""
        for tmp in (self.root / "tmp").iterdir():
            if tmp == self._tmp or not tmp.is_dir():
                continue
            lock = tmp / ".lock"
            try:
                fd = os.open(lock, os.O_RDWR)
            except FileNotFoundError:
                shutil.rmtree(tmp, ignore_errors=True)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer owns it
            finally:
                os.close(fd)
            shutil.rmtree(tmp, ignore_errors=True)
        indexed = 0
        for row in self._conn().execute("SELECT path FROM pending").fetchall():
            path = self.root / row["path"]
            if path.exists():
                from tuipacs.store.records import read_record  # pydicom: only when needed

                try:
                    record = read_record(path)
                except (NotDicomError, BadDicomError):
                    path.unlink(missing_ok=True)
                else:
                    with self._write() as conn:
                        if self._insert(conn, record, row["path"], linked=False):
                            indexed += 1
            with self._write() as conn:
                conn.execute("DELETE FROM pending WHERE path = ?", (row["path"],))
        return indexed

    # -- writing -----------------------------------------------------------------------------

    def relative_path(self, record: InstanceRecord) -> str:
        """Where the file of ``record`` lives, relative to the archive root."""
        parts = (record.study_uid, record.series_uid, record.sop_uid)
        study, series, sop = (_safe_component(p) for p in parts)
        return f"files/{study}/{series}/{sop}.dcm"

    def add_file(
        self,
        src: Path,
        *,
        move: bool = False,
        link: bool = False,
        record: InstanceRecord | None = None,
    ) -> AddResult:
        """Add one DICOM file. ``move`` takes the file (renamed when on the same filesystem);
        ``link`` indexes it where it is. Raises NotDicomError/BadDicomError for bad input and
        ArchiveError for storage failures (full disk, permissions)."""
        return self.add_files([(src, record)], move=move, link=link)[0]

    def add_files(
        self,
        items: Iterable[tuple[Path, InstanceRecord | None]],
        *,
        move: bool = False,
        link: bool = False,
        synced: bool = False,
    ) -> list[AddResult]:
        """Add several files in one batch (one pending and one index transaction).

        ``synced`` says the sources are already fsynced (the server's inbox): moved on the
        same file system, they are not fsynced again (only the folders they land in are).
        """
        wanted: list[tuple[InstanceRecord, Path]] = []
        results: list[AddResult] = []
        seen: set[str] = set()
        for src, given in items:
            if given is None:
                from tuipacs.store.records import read_record  # pydicom: only when needed

                record = read_record(src)
            else:
                record = given
            if record.sop_uid in seen or self.has_instance(record.sop_uid):
                results.append(AddResult("duplicate", *_uids(record)))
                if move:
                    src.unlink(missing_ok=True)
                continue
            seen.add(record.sop_uid)
            wanted.append((record, src))
            results.append(AddResult("added", *_uids(record)))
        staged: list[tuple[InstanceRecord, str, Path | None]]
        if link:
            staged = [(rec, str(src.resolve()), None) for rec, src in wanted]
        else:
            tmps = self._stage_all([src for _, src in wanted], move, synced)
            staged = [
                (rec, self.relative_path(rec), tmp)
                for (rec, _), tmp in zip(wanted, tmps, strict=True)
            ]
        if not staged:
            return results
        try:
            inserted = self._commit_staged(staged, link)
        except OSError as exc:
            raise ArchiveError(f"cannot write to the archive at {self.root}: {exc}") from exc
        lost = {rec.sop_uid for (rec, _, _), ok in zip(staged, inserted, strict=True) if not ok}
        # another writer may have indexed some between our check and our insert
        return [
            AddResult("duplicate", r.sop_uid, r.study_uid, r.series_uid)
            if r.status == "added" and r.sop_uid in lost
            else r
            for r in results
        ]

    def _stage_all(self, sources: list[Path], move: bool, synced: bool = False) -> list[Path]:
        """Stage several files in parallel (copy and fsync overlap); all or nothing."""
        if len(sources) <= 1:
            return [self._stage(src, move, synced) for src in sources]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="archive-stage")
        futures = [self._pool.submit(self._stage, src, move, synced) for src in sources]
        wait(futures)
        failures = [f.exception() for f in futures if f.exception() is not None]
        if failures:
            for future in futures:
                if future.exception() is None:
                    future.result().unlink(missing_ok=True)
            raise failures[0]  # type: ignore[misc]
        return [f.result() for f in futures]

    def _stage(self, src: Path, move: bool, synced: bool = False) -> Path:
        """Put a complete, fsynced copy of ``src`` in the temporary folder.

        A ``synced`` source moved within the file system keeps its inode, whose data is on
        disk already: no second fsync.
        """
        tmp = self._tmp_dir() / f"{uuid.uuid4().hex}.part"
        try:
            if move and os.stat(src).st_dev == os.stat(tmp.parent).st_dev:
                os.replace(src, tmp)
                if not synced:
                    with open(tmp, "rb+") as fh:
                        os.fsync(fh.fileno())
            else:
                _copy_synced(src, tmp)
                if move:
                    src.unlink(missing_ok=True)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ArchiveError(f"cannot write to the archive at {self.root}: {exc}") from exc
        return tmp

    def _commit_staged(
        self, staged: list[tuple[InstanceRecord, str, Path | None]], link: bool
    ) -> list[bool]:
        """Announce, rename into place, then index; returns which were newly indexed."""
        now = time.time()
        if not link:
            with self._write() as conn:
                conn.executemany(
                    "INSERT OR IGNORE INTO pending(path, created) VALUES (?, ?)",
                    [(rel, now) for _, rel, _ in staged],
                )
            dirs: set[Path] = set()
            for _, rel, tmp in staged:
                final = self.root / rel
                final.parent.mkdir(parents=True, exist_ok=True)
                assert tmp is not None
                os.replace(tmp, final)
                dirs.add(final.parent)
            for folder in dirs:
                _fsync_dir(folder)
        with self._write() as conn:
            inserted = [self._insert(conn, rec, rel, linked=link) for rec, rel, _ in staged]
            if not link:
                conn.executemany("DELETE FROM pending WHERE path = ?", [(r,) for _, r, _ in staged])
        return inserted

    def _insert(
        self, conn: sqlite3.Connection, rec: InstanceRecord, rel: str, *, linked: bool
    ) -> bool:
        """Index one instance; False if it was already there."""
        if conn.execute("SELECT 1 FROM instance WHERE sop_uid = ?", (rec.sop_uid,)).fetchone():
            return False
        name_search = rec.patient_name.lower()
        patient_fk = conn.execute(
            "INSERT INTO patient(patient_id, patient_name, name_search, birth_date, sex) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(patient_id) DO UPDATE SET "
            "patient_name = excluded.patient_name, name_search = excluded.name_search, "
            "birth_date = excluded.birth_date, sex = excluded.sex RETURNING id",
            (rec.patient_id, rec.patient_name, name_search, rec.birth_date, rec.sex),
        ).fetchone()[0]
        now = time.time()
        conn.execute(
            "INSERT INTO study(patient_fk, study_uid, study_date, study_time, accession, "
            "description, referring, study_id, received, patient_id, name_search) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(study_uid) DO NOTHING",
            (
                patient_fk,
                rec.study_uid,
                rec.study_date,
                rec.study_time,
                rec.accession,
                rec.study_description,
                rec.referring,
                rec.study_id,
                now,
                rec.patient_id,
                name_search,
            ),
        )
        study = conn.execute(
            "SELECT id, modalities FROM study WHERE study_uid = ?", (rec.study_uid,)
        ).fetchone()
        cur = conn.execute(
            "INSERT INTO series(study_fk, series_uid, series_number, description, modality, "
            "body_part, series_date) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(series_uid) DO NOTHING",
            (
                study["id"],
                rec.series_uid,
                rec.series_number,
                rec.series_description,
                rec.modality,
                rec.body_part,
                rec.series_date,
            ),
        )
        new_series = cur.rowcount == 1
        series_fk = conn.execute(
            "SELECT id FROM series WHERE series_uid = ?", (rec.series_uid,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO instance(series_fk, sop_uid, sop_class_uid, instance_number, "
            "transfer_syntax, rows, columns, frames, file_size, path, linked, received, "
            "image_position, image_orientation) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                series_fk,
                rec.sop_uid,
                rec.sop_class_uid,
                rec.instance_number,
                rec.transfer_syntax,
                rec.rows,
                rec.columns,
                rec.frames,
                rec.file_size,
                rel,
                int(linked),
                now,
                rec.image_position,
                rec.image_orientation,
            ),
        )
        conn.execute(
            "UPDATE series SET num_instances = num_instances + 1 WHERE id = ?", (series_fk,)
        )
        modalities = study["modalities"].split("\\") if study["modalities"] else []
        if rec.modality and rec.modality not in modalities:
            modalities.append(rec.modality)
        conn.execute(
            "UPDATE study SET num_instances = num_instances + 1, size_bytes = size_bytes + ?, "
            "num_series = num_series + ?, modalities = ?, received = ? WHERE id = ?",
            (rec.file_size, int(new_series), "\\".join(modalities), now, study["id"]),
        )
        return True

    # -- reading -----------------------------------------------------------------------------

    def has_instance(self, sop_uid: str) -> bool:
        """Is this SOP Instance UID in the archive?"""
        row = self._conn().execute("SELECT 1 FROM instance WHERE sop_uid = ?", (sop_uid,))
        return row.fetchone() is not None

    def has_study(self, study_uid: str) -> bool:
        """Does the archive hold any instance of this study?"""
        row = self._conn().execute("SELECT 1 FROM study WHERE study_uid = ?", (study_uid,))
        return row.fetchone() is not None

    def execute(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        """Run a read-only query on the index (for the query modules of this package)."""
        return self._conn().execute(sql, tuple(params)).fetchall()

    def instance_path(self, sop_uid: str) -> Path | None:
        """Absolute path of an instance's file, or None."""
        row = (
            self._conn()
            .execute("SELECT path FROM instance WHERE sop_uid = ?", (sop_uid,))
            .fetchone()
        )
        return self._abs(row["path"]) if row else None

    def _abs(self, rel: str) -> Path:
        path = Path(rel)
        return path if path.is_absolute() else self.root / path

    def usage(self) -> Usage:
        """Totals over the whole archive."""
        row = (
            self._conn()
            .execute(
                "SELECT coalesce(sum(size_bytes), 0) AS b, count(*) AS n, "
                "coalesce(sum(num_series), 0) AS s, coalesce(sum(num_instances), 0) AS i, "
                "coalesce(sum(pinned), 0) AS p FROM study"
            )
            .fetchone()
        )
        return Usage(int(row["b"]), int(row["n"]), int(row["s"]), int(row["i"]), int(row["p"]))

    # -- study state -------------------------------------------------------------------------

    def touch_study(self, study_uid: str) -> None:
        """Record that a study was opened now (eviction keeps recently opened studies)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE study SET last_opened = ? WHERE study_uid = ?", (time.time(), study_uid)
            )

    def set_pinned(self, study_uid: str, pinned: bool) -> bool:
        """Pin or unpin a study; False if there is no such study."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE study SET pinned = ? WHERE study_uid = ?", (int(pinned), study_uid)
            )
            return cur.rowcount == 1

    # -- deleting ----------------------------------------------------------------------------

    def delete_study(self, study_uid: str) -> int:
        """Remove a study from the index, then its files. Returns the bytes freed."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, patient_fk, size_bytes FROM study WHERE study_uid = ?", (study_uid,)
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
        for (rel,) in paths:
            self._abs(rel).unlink(missing_ok=True)
        study_dir = self.files_dir / _safe_component(study_uid)
        shutil.rmtree(study_dir, ignore_errors=True)
        return int(row["size_bytes"])

    def evict(self, limit_bytes: int) -> EvictResult:
        """Delete least recently opened, unpinned studies until the archive fits the limit."""
        total = self.usage().bytes
        freed = removed = 0
        candidates = (
            self._conn()
            .execute(
                "SELECT study_uid, size_bytes FROM study WHERE pinned = 0 "
                "ORDER BY coalesce(last_opened, received) ASC"
            )
            .fetchall()
        )
        for row in candidates:
            if total - freed <= limit_bytes:
                break
            freed += self.delete_study(row["study_uid"])
            removed += 1
        return EvictResult(removed, freed, total - freed)

    # -- checking ----------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Compare the index with the files on disk."""
        missing: list[str] = []
        mismatched: list[str] = []
        indexed: set[Path] = set()
        for row in self._conn().execute("SELECT path, file_size, linked FROM instance"):
            path = self._abs(row["path"])
            if not row["linked"]:
                indexed.add(path)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                missing.append(str(path))
                continue
            if size != row["file_size"]:
                mismatched.append(str(path))
        on_disk = {p for p in self.files_dir.rglob("*") if p.is_file()}
        orphans = sorted(str(p) for p in on_disk - indexed)
        return VerifyReport(missing, mismatched, orphans)


def _uids(record: InstanceRecord) -> tuple[str, str, str]:
    return record.sop_uid, record.study_uid, record.series_uid
