"""The server's inbox: received files that are durable but not yet indexed.

``Inbox.put`` (on an association's thread, before the C-STORE response) decides at once
whether the instance may enter, against the index as it stands *and* the instances queued
here (their *claims*: SOP Instance UID -> file, series -> study, study -> patient):

* the same object again (same dataset bytes): a duplicate, dropped, answered as stored;
* a different object with a SOP Instance UID archived or queued: a conflict;
* a series of another study, a study of another patient (:mod:`tuipacs.store.identity`):
  refused.

Conflicting and refused files go to the quarantine and ``put`` raises RefusedError (the
server answers a warning or failure status). The decision and the claim are made under one
lock, so two associations cannot both pass. Other processes (an import running at the same
time) may still index a clashing instance first: the archive's own check, inside the
indexing transaction, then sends the queued file to the quarantine and logs it.

The inbox thread adds queued files to the archive in batches (``Archive.add_files``) and
releases their claims once they are indexed. Files still in the inbox when the server
starts (after a crash) are claimed and indexed first. The inbox folder belongs to the
server; ``Archive.recover`` does not touch it.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tuipacs.store import identity, quarantine
from tuipacs.store.adding import AddResult, same_or_conflict
from tuipacs.store.archive import Archive, ArchiveError
from tuipacs.store.files import (
    PRIVATE_FILE,
    flush_files,
    make_locked_dir,
    make_private_dirs,
    stale_new,
)
from tuipacs.store.group_flush import GroupFlush
from tuipacs.store.identity import RefusedError, patient_key, shown
from tuipacs.store.instance import BadDicomError, InstanceRecord, NotDicomError

LOG = logging.getLogger("tuipacs.server")

#: Called from the inbox thread for every newly indexed instance.
OnStored = Callable[[str, str, str], None]

INBOX = "inbox"
#: Most instances indexed in one batch.
BATCH = 500
#: The inbox indexes once no file arrived for IDLE seconds, or after MAX_DELAY at the latest
#: (indexing while a sender waits for its answers would slow it down).
IDLE = 0.1
MAX_DELAY = 1.0
_RETRY_SECONDS = 2.0

_Item = tuple[Path, InstanceRecord]


def _fsync_path(path: Path) -> None:
    """fsync a file or folder by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Claims:
    """What the queued instances claim; use under Inbox._claim_lock."""

    def __init__(self) -> None:
        self.sops: dict[str, Path] = {}
        self.series: dict[str, list[object]] = {}  # series -> [study, count]
        self.studies: dict[str, list[object]] = {}  # study -> [patient key, count]

    def verdict(self, archive: Archive, rec: InstanceRecord, path: Path) -> AddResult | None:
        """Duplicate, conflict or refusal of ``rec`` (None: it may enter)."""
        queued = self.sops.get(rec.sop_uid)
        if queued is not None:
            return same_or_conflict(rec, path, queued)
        old = archive.instance_path(rec.sop_uid)
        if old is not None:
            return same_or_conflict(rec, path, old)
        series = self.series.get(rec.series_uid)
        if series is not None and series[0] != rec.study_uid:
            refusal = identity.refusal("series", rec, str(series[0]))
        else:
            study = self.studies.get(rec.study_uid)
            if study is not None and study[0] != patient_key(rec):
                refusal = identity.refusal("study", rec, rec.study_uid)
            else:
                found = identity.check(archive.connection(), rec)
                if found is None:
                    return None
                refusal = found
        return AddResult("refused", rec.sop_uid, rec.study_uid, rec.series_uid, refusal)

    def add(self, rec: InstanceRecord, path: Path) -> None:
        """Claim for a queued instance."""
        self.sops[rec.sop_uid] = path
        self.series.setdefault(rec.series_uid, [rec.study_uid, 0])[1] += 1  # type: ignore[operator]
        self.studies.setdefault(rec.study_uid, [patient_key(rec), 0])[1] += 1  # type: ignore[operator]

    def drop(self, rec: InstanceRecord) -> None:
        """Release the claims of an instance that left the queue."""
        self.sops.pop(rec.sop_uid, None)
        for table, key in ((self.series, rec.series_uid), (self.studies, rec.study_uid)):
            entry = table.get(key)
            if entry is not None:
                entry[1] -= 1  # type: ignore[operator]
                if entry[1] <= 0:  # type: ignore[operator]
                    del table[key]


class Inbox:
    """Durable received files waiting to be indexed, and the thread that indexes them."""

    def __init__(
        self, archive: Archive, on_stored: OnStored | None = None, sync: bool = True
    ) -> None:
        """The inbox of ``archive``; call open() then start(). See put() for ``sync``."""
        self.archive = archive
        self.sync = sync
        self.base = archive.root / INBOX
        self.folder = self.base / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.on_stored = on_stored
        self._queue: list[_Item] = []
        self._busy = 0
        self._flushing = 0
        self._last_put = 0.0
        self._first_put = 0.0
        self._cond = threading.Condition()
        self._claim_lock = threading.Lock()
        self._claims = _Claims()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._folder_fd: int | None = None
        self._lock_fd: int | None = None
        self.indexed = 0
        self.refused = 0
        #: Group commit: one flush for the files of every association waiting at once.
        self._durable = GroupFlush(self._flush)

    def _flush(self, paths: list[Path]) -> None:
        """Make received files and their directory entries durable: one file as before (an
        fsync of it, then of the folder); several at once (associations storing at the same
        time) fsynced in parallel, then the folder once (store.files.flush_files)."""
        assert self._folder_fd is not None, "Inbox.open() first"
        if len(paths) == 1:
            _fsync_path(paths[0])
            os.fsync(self._folder_fd)
        else:
            flush_files(paths, self.folder, self.archive.stage_pool(), dirs=[self.folder])

    def open(self) -> int:
        """Create this server's locked inbox folder and adopt what dead servers left.

        Each running server has its own folder (several may share an archive); a folder
        whose lock is free belonged to a server that died: its files are queued here.
        Returns the number of instances queued that way.
        """
        make_private_dirs(self.base)
        self.folder, self._lock_fd = make_locked_dir(self.base, self.folder.name)
        self._folder_fd = os.open(self.folder, os.O_RDONLY)
        for other in self.base.iterdir():
            if other != self.folder and other.is_dir():
                self._adopt(other)
        os.fsync(self._folder_fd)
        left: list[_Item] = []
        for path in sorted(self.folder.glob("*.dcm")):
            try:
                from tuipacs.store.records import read_record  # pydicom: only when needed

                left.append((path, read_record(path)))
            except (NotDicomError, BadDicomError) as exc:
                LOG.warning("dropping an unreadable file left in the inbox: %s", exc)
                path.unlink(missing_ok=True)
        with self._claim_lock:
            for path, rec in left:  # the archive's checks decide when they are indexed
                self._claims.add(rec, path)
        with self._cond:
            self._queue.extend(left)
        if left:
            LOG.info("indexing %d instances received before the last shutdown", len(left))
        return len(left)

    def _adopt(self, other: Path) -> None:
        """Take over the files of another server's inbox folder if that server is gone."""
        stale = stale_new(other)
        if stale is not None:  # a folder being made (make_locked_dir)
            if stale:
                shutil.rmtree(other, ignore_errors=True)
            return
        try:
            fd = os.open(other / ".lock", os.O_RDWR)
        except FileNotFoundError:
            fd = None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a live server owns it
        finally:
            if fd is not None:
                os.close(fd)
        for path in other.glob("*.dcm"):
            os.rename(path, self.folder / path.name)
        shutil.rmtree(other, ignore_errors=True)

    def start(self) -> None:
        """Start the indexing thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tuipacs-inbox", daemon=True)
        self._thread.start()

    def put(self, path: Path, record: InstanceRecord, source: str = "") -> str:
        """Check, then move a complete file into the inbox, make it durable and queue it.

        Returns ``queued``, or ``duplicate`` (the same object is archived or queued: the
        file is dropped). Raises RefusedError for a conflict or an identity refusal (the
        file is then in the quarantine) and OSError if the file cannot be kept.

        The rename comes first: one journal commit (the file's fsync) then covers the data
        and the new directory entry, and the folder's fsync has little left to do. Files of
        several associations waiting at once share one flush (group commit, see
        :class:`~tuipacs.store.group_flush.GroupFlush`); each answer still waits for its own
        file. With
        ``sync`` False nothing is fsynced here (the archive fsyncs when it indexes, within
        about a second): the instance then survives a crash of tuipacs but not of the
        machine, and answers come about 0.5 ms sooner per image.
        """
        assert self._folder_fd is not None, "Inbox.open() first"
        target = self.folder / f"{uuid.uuid4().hex}.dcm"
        with self._claim_lock:
            verdict = self._claims.verdict(self.archive, record, path)
            if verdict is None:
                self._move_in(path, target)
                self._claims.add(record, target)
        if verdict is not None:
            return self._turned_away(verdict, path, source)
        try:
            os.chmod(target, PRIVATE_FILE)
            if self.sync:
                self._durable.wait(target)
        except OSError:
            with self._claim_lock:
                self._claims.drop(record)
                target.unlink(missing_ok=True)
            raise
        with self._cond:
            self._last_put = time.monotonic()
            if not self._queue:
                self._first_put = self._last_put
            self._queue.append((target, record))
            self._cond.notify_all()
        return "queued"

    @staticmethod
    def _move_in(path: Path, target: Path) -> None:
        try:
            os.rename(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # spool on another file system: copy
                raise
            shutil.copyfile(path, target)

    def _turned_away(self, verdict: AddResult, path: Path, source: str) -> str:
        """Drop a duplicate; quarantine a conflict or refusal and raise RefusedError."""
        if verdict.refusal is None:
            path.unlink(missing_ok=True)
            return "duplicate"
        try:
            qid = quarantine.add(self.archive, path, verdict.refusal, source=source, move=True)
        except (OSError, sqlite3.Error) as exc:
            path.unlink(missing_ok=True)
            raise self.archive.error(exc) from exc
        self.refused += 1
        raise RefusedError(verdict.refusal, qid)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued is indexed; False on timeout (tests and shutdown;
        queries do not wait)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._queue or self._busy:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._thread is None:
                        return False
                    self._cond.wait(left)
            finally:
                self._flushing -= 1
        return True

    def stop(self) -> None:
        """Index what is queued, then stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._folder_fd is not None:
            os.close(self._folder_fd)
            self._folder_fd = None
        if self._lock_fd is not None:
            if not any(self.folder.glob("*.dcm")):
                shutil.rmtree(self.folder, ignore_errors=True)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _wait_time(self) -> float:
        """Seconds to hold the queue back still (0: index now). Called with the lock held."""
        if self._stopping or self._flushing or len(self._queue) >= BATCH:
            return 0.0
        now = time.monotonic()
        return max(0.0, min(self._last_put + IDLE - now, self._first_put + MAX_DELAY - now))

    def _next_batch(self) -> list[_Item] | None:
        """Wait for work (see IDLE, MAX_DELAY); None when stopping with nothing left."""
        with self._cond:
            while not self._queue or self._wait_time() > 0:
                if not self._queue and self._stopping:
                    return None
                self._cond.wait(self._wait_time() if self._queue else 0.5)
            batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
            self._first_put = time.monotonic()
            self._busy += len(batch)
            return batch

    def _run(self) -> None:
        """Index batches until stopped; keep files queued while the archive fails."""
        while (batch := self._next_batch()) is not None:
            try:
                self._index(batch)
            except (ArchiveError, OSError) as exc:
                self._failed(batch, exc)
            finally:
                with self._cond:
                    self._busy -= len(batch)
                    self._cond.notify_all()

    def _failed(self, batch: list[_Item], exc: Exception) -> None:
        """Requeue a batch that could not be indexed (the files stay in the inbox)."""
        LOG.error("cannot index %d received instances: %s", len(batch), exc)
        with self._cond:
            if self._stopping:
                LOG.error(
                    "%d instances stay in %s for the next start",
                    len(self._queue) + len(batch),
                    self.folder,
                )
                self._queue.clear()
                return
            self._queue[:0] = batch
        time.sleep(_RETRY_SECONDS)

    def _index(self, batch: list[_Item]) -> None:
        """Add a batch to the archive through hard links, so a crash loses nothing."""
        links = []
        try:
            for path, record in batch:
                link = path.with_suffix(".idx")
                link.unlink(missing_ok=True)
                os.link(path, link)
                links.append((link, record))
            # synced: put() fsynced each file (with sync off the archive fsyncs them here)
            results = self.archive.add_files(
                links, move=True, synced=self.sync, source="C-STORE (found when indexing)"
            )
        finally:
            for link, _ in links:
                link.unlink(missing_ok=True)
        with self._claim_lock:  # indexed now: the index answers for them
            for path, record in batch:
                self._claims.drop(record)
                path.unlink(missing_ok=True)
        for result in results:
            if result.refusal is not None:
                self.refused += 1
                LOG.warning(
                    "instance %s was acknowledged but not archived: %s",
                    shown(result.sop_uid),
                    result.message,
                )
            if result.status != "added":
                continue
            self.indexed += 1
            if self.on_stored is not None:
                try:
                    self.on_stored(result.study_uid, result.series_uid, result.sop_uid)
                except Exception:  # noqa: BLE001 - a listener bug must not stop indexing
                    LOG.exception("on_stored callback failed")
