"""The local archive: DICOM files laid out by UID plus a SQLite index.

Every write is atomic: the file is copied to a private temporary folder inside the archive,
fsynced, announced in the ``pending`` table, placed (never over an existing file) and only
then indexed, in one transaction, under the archive lock; an instance is in the index only
if its file is complete. If a writer dies mid-way, the next ``Archive.open`` finishes or
discards what it left. See :mod:`tuipacs.store.adding` for the steps and
:mod:`tuipacs.store.identity` for the rules every added instance must keep (refused ones go
to :mod:`tuipacs.store.quarantine`).

The archive is private: its folders are 0700 and its files 0600 whatever the umask.
Opening an archive written by an earlier version tightens the root, its top folders, the
index and the lock file; files and folders below ``files/`` keep their modes but cannot be
reached by other users through the 0700 root.

Readers never wait for writers (SQLite WAL): a query sees the index as it stands.
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
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tuipacs.store import adding, expected, removal
from tuipacs.store.adding import AddResult
from tuipacs.store.files import (
    PRIVATE_DIR,
    PRIVATE_FILE,
    make_locked_dir,
    make_private_dirs,
    remove_dead_dirs,
    tighten,
)
from tuipacs.store.identity import RefusedError
from tuipacs.store.instance import InstanceRecord
from tuipacs.store.removal import EvictResult, VerifyReport
from tuipacs.store.schema import migrate

__all__ = ["AddResult", "Archive", "ArchiveError", "RefusedError"]

INDEX_NAME = "index.sqlite"
LOCK_NAME = "archive.lock"
#: Folders of the archive root (all private).
FOLDERS = ("files", "tmp", "inbox", "quarantine")
_UID_RE = re.compile(r"[0-9.]{1,64}")
#: How long a writer waits for the archive lock before it gives up.
LOCK_TIMEOUT = 120.0


class ArchiveError(Exception):
    """A problem with the archive itself (permissions, full disk, broken index)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """How much the archive holds."""

    bytes: int
    studies: int
    series: int
    instances: int
    pinned_studies: int


def _safe_component(uid: str) -> str:
    """A UID as a path component (UIDs are digits and dots; anything else is hashed)."""
    if _UID_RE.fullmatch(uid) and uid not in {".", ".."}:
        return uid
    return "x" + uuid.uuid5(uuid.NAMESPACE_OID, uid).hex


class Archive:
    """The archive at ``root``. Safe to share between threads; several processes may open it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files_dir = root / "files"
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._lock_fd: int | None = None
        self._lock_depth = 0
        self._tmp: Path | None = None
        self._tmp_lock = threading.Lock()
        self._tmp_lock_fd: int | None = None
        self._pool: ThreadPoolExecutor | None = None

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, root: Path) -> Archive:
        """Open (creating if needed) the archive at ``root`` and recover from crashed writers."""
        archive = cls(root)
        try:
            make_private_dirs(root)
            tighten(root, PRIVATE_DIR)
            for name in FOLDERS:
                make_private_dirs(root / name)
                tighten(root / name, PRIVATE_DIR)
            index = root / INDEX_NAME
            os.close(os.open(index, os.O_CREAT | os.O_RDWR, PRIVATE_FILE))
            for name in (INDEX_NAME, INDEX_NAME + "-wal", INDEX_NAME + "-shm", LOCK_NAME):
                tighten(root / name, PRIVATE_FILE)
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

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the index (for the modules of this package)."""
        return self._conn()

    def close(self) -> None:
        """Close this thread's connection and release the temporary folder."""
        self.close_connection()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._tmp_lock_fd is not None:
            os.close(self._tmp_lock_fd)
            self._tmp_lock_fd = None
            shutil.rmtree(self._tmp or "", ignore_errors=True)
            self._tmp = None
        if self._lock_fd is not None and self._lock_depth == 0:
            os.close(self._lock_fd)
            self._lock_fd = None

    def close_connection(self) -> None:
        """Close this thread's connection to the index (a worker thread that is done)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction, serialised within this process."""
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The archive lock: this process's writers and every other process's (flock on
        ``archive.lock``). Reentrant within a thread; ArchiveError after LOCK_TIMEOUT."""
        with self._write_lock:
            if self._lock_depth == 0:
                self._flock()
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0 and self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _flock(self) -> None:
        """Take the flock, waiting up to LOCK_TIMEOUT."""
        if self._lock_fd is None:
            try:
                self._lock_fd = os.open(self.root / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
            except OSError as exc:
                raise self.error(exc) from exc
        deadline = time.monotonic() + LOCK_TIMEOUT
        pause = 0.001
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ArchiveError(
                        f"the archive at {self.root} stayed locked by another tuipacs for "
                        f"{LOCK_TIMEOUT:.0f} s; is one stuck?"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.02)

    def error(self, exc: BaseException) -> ArchiveError:
        """An ArchiveError for a storage failure while writing."""
        if isinstance(exc, ArchiveError):
            return exc
        return ArchiveError(f"cannot write to the archive at {self.root}: {exc}")

    def tmp_dir(self) -> Path:
        """This process's private temporary folder, locked so recovery leaves it alone."""
        with self._tmp_lock:  # the staging threads may ask at once
            if self._tmp is None:
                name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
                self._tmp, self._tmp_lock_fd = make_locked_dir(self.root / "tmp", name)
            return self._tmp

    def stage_pool(self) -> ThreadPoolExecutor:
        """Threads that stage (and fsync) files in parallel; made once, whichever thread asks
        first (the server's associations may ask at once)."""
        with self._tmp_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="archive-stage")
            return self._pool

    def recover(self) -> int:
        """Finish or discard what crashed writers left. Returns the number of files indexed."""
        remove_dead_dirs(self.root / "tmp", keep=self._tmp)
        if not self._conn().execute("SELECT 1 FROM pending LIMIT 1").fetchone():
            return 0
        with self.locked():  # live writers hold it while their rows are pending
            return adding.recover_pending(self)

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
        source: str = "",
    ) -> AddResult:
        """Add one DICOM file. ``move`` takes the file (renamed when on the same filesystem);
        ``link`` indexes it where it is. Raises NotDicomError/BadDicomError for bad input,
        RefusedError when it breaks an identity rule or conflicts with an archived object
        (the file is then in the quarantine) and ArchiveError for storage failures (full
        disk, permissions)."""
        result = self.add_files([(src, record)], move=move, link=link, source=source)[0]
        if result.refusal is not None:
            raise RefusedError(result.refusal, result.quarantine_id)
        return result

    def add_files(
        self,
        items: Iterable[tuple[Path, InstanceRecord | None]],
        *,
        move: bool = False,
        link: bool = False,
        synced: bool = False,
        source: str = "",
        quarantine: bool = True,
    ) -> list[AddResult]:
        """Add several files in one batch (see :mod:`tuipacs.store.adding`).

        ``synced`` says the sources are already fsynced (the server's inbox): moved on the
        same file system, they are not fsynced again (only the folders they land in are).
        Refused and conflicting files go to the quarantine (``source`` says where they came
        from) unless ``quarantine`` is False. Raises ArchiveError for storage failures.
        """
        try:
            return adding.add_files(
                self,
                items,
                move=move,
                link=link,
                synced=synced,
                source=source,
                quarantine=quarantine,
            )
        except (OSError, sqlite3.Error) as exc:
            raise self.error(exc) from exc

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
        return self.absolute(row["path"]) if row else None

    def absolute(self, rel: str) -> Path:
        """The absolute path of a path the index holds (relative to the root, or linked)."""
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
        with self.write() as conn:
            conn.execute(
                "UPDATE study SET last_opened = ? WHERE study_uid = ?", (time.time(), study_uid)
            )

    def set_pinned(self, study_uid: str, pinned: bool) -> bool:
        """Pin or unpin a study; False if there is no such study."""
        with self.write() as conn:
            cur = conn.execute(
                "UPDATE study SET pinned = ? WHERE study_uid = ?", (int(pinned), study_uid)
            )
            return cur.rowcount == 1

    def record_expected(self, study_uid: str, instances: int, node: str) -> bool:
        """Record what ``node`` said the study holds (see :mod:`tuipacs.store.expected`)."""
        return expected.record_expected(self, study_uid, instances, node)

    def expected_instances(self, study_uid: str) -> int | None:
        """How many instances the node said the study holds when retrieved (None: unknown)."""
        found = expected.get_expected(self, study_uid)
        return None if found is None else found.instances

    # -- deleting and checking (see tuipacs.store.removal) ---------------------------------

    def delete_study(self, study_uid: str) -> int:
        """Remove a study and the files the index names; returns the bytes freed."""
        return removal.delete_study(self, study_uid)

    def evict(self, limit_bytes: int) -> EvictResult:
        """Delete least recently opened, unpinned studies until the archive fits the limit."""
        return removal.evict(self, limit_bytes)

    def verify(self) -> VerifyReport:
        """Compare the index with the files on disk."""
        return removal.verify(self)


def _uids(record: InstanceRecord) -> tuple[str, str, str]:
    return record.sop_uid, record.study_uid, record.series_uid
