"""Batched ingest: files for the archive, committed a batch at a time in the background.

A retrieve (C-GET, C-MOVE) or an import hands files to an :class:`Ingest` one by one and
goes on at once; a committer thread adds them to the archive in batches through
``Archive.add_files`` (:mod:`tuipacs.store.adding`): one flush for the batch's files (one
syncfs, or an fsync each), one placement sweep by exclusive hard links, one index
transaction under the archive lock in which every identity rule is checked, refused files
to the quarantine. A batch closes when it holds ``max_files`` files, ``max_delay`` seconds
after its first file arrived, or at :meth:`Ingest.close`; the very first batch closes at
once, so the first image can be opened while the rest arrives. While the thread commits a
batch, the next one fills.

What a crash costs: files handed over wait in this process's private staging folder (moved
there by :meth:`Ingest.put`), which the next ``Archive.open`` removes once the process is
gone; a crash mid-commit is finished by ``recover_pending`` as for any writer. So a crash
loses at most the batches not committed yet; for a retrieve the remote archive still holds
them and the next retrieve fetches what the index lacks. :meth:`Ingest.close` returns only
when every batch is durable and indexed, or has failed (see :class:`IngestReport`).
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tuipacs.store.files import PRIVATE_FILE, copy_synced
from tuipacs.store.instance import BadDicomError, InstanceRecord, NotDicomError

if TYPE_CHECKING:
    from tuipacs.store.adding import AddResult
    from tuipacs.store.archive import Archive

LOG = logging.getLogger(__name__)

#: Reads the index record of a file (NotDicomError/BadDicomError for bad input).
Reader = Callable[[Path], InstanceRecord]

#: Most files in one batch of a retrieve, and the longest a file waits for its batch to close.
MAX_FILES = 500
MAX_DELAY = 0.1


@dataclass
class _Item:
    """A file handed over: where it is now, its record (None: read it), its label."""

    path: Path
    record: InstanceRecord | None
    label: str
    owned: bool


@dataclass
class IngestReport:
    """What an ingest did so far.

    ``results`` pairs each file's label with its outcome (added, duplicate, conflict,
    refused: see AddResult); ``errors`` pairs the labels of files that were not added
    for another reason (unreadable, or the archive could not be written) with one line.
    ``lost`` counts the files of batches that failed as a whole (the archive could not be
    written: see ``Ingest.failure``). ``first_commit`` is when a batch first indexed a file
    (``time.monotonic``).
    """

    results: list[tuple[str, AddResult]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    added: int = 0
    duplicates: int = 0
    bytes_added: int = 0
    batches: int = 0
    lost: int = 0
    first_commit: float | None = None

    @property
    def refused(self) -> list[tuple[str, AddResult]]:
        """The files refused or in conflict (kept in the quarantine)."""
        return [(label, r) for label, r in self.results if r.refusal is not None]

    @property
    def stored(self) -> int:
        """Files now in the archive (added, or the same object was there already)."""
        return self.added + self.duplicates


#: Called from the committer thread after each batch with the report so far.
OnCommit = Callable[[IngestReport], None]


class Ingest:
    """Files handed over one by one, added to ``archive`` in batches by a thread.

    ``move``: the files are taken (renamed into the staging folder at once; for a retrieve,
    whose spool folder goes away); else they are copied when their batch is committed (an
    import). ``reader`` reads the record of a file handed over without one. ``source``
    says where quarantined files came from. Call :meth:`close` at the end.
    """

    def __init__(
        self,
        archive: Archive,
        *,
        source: str,
        move: bool,
        reader: Reader | None = None,
        max_files: int = MAX_FILES,
        max_delay: float = MAX_DELAY,
        on_commit: OnCommit | None = None,
    ) -> None:
        """Start the committer thread."""
        self.archive = archive
        self.source = source
        self.move = move
        self.reader = reader
        self.max_files = max(1, max_files)
        self.max_delay = max_delay
        self.on_commit = on_commit
        self.report = IngestReport()
        self.failure: Exception | None = None
        self._queue: list[_Item] = []
        self._opened = 0.0
        self._closing = False
        self._committed_once = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="tuipacs-ingest", daemon=True)
        self._thread.start()

    # -- the caller's side -------------------------------------------------------------------

    def put(self, path: Path, record: InstanceRecord | None = None, label: str = "") -> None:
        """Hand over one file (taken at once if ``move``). Raises the error that made a
        batch fail (an ArchiveError, e.g. a full disk): the caller should stop."""
        if self.failure is not None:
            raise self.failure
        item = _Item(path, record, label or path.name, owned=False)
        if self.move:
            item.path, item.owned = self._take(path), True
        with self._cond:
            if self._closing:
                raise RuntimeError("Ingest.put after close")
            if not self._queue:
                self._opened = time.monotonic()
            self._queue.append(item)
            if len(self._queue) >= self.max_files or not self._committed_once:
                self._cond.notify_all()

    def _take(self, path: Path) -> Path:
        """Move ``path`` into this process's staging folder (copied across file systems)."""
        held = self.archive.tmp_dir() / f"{uuid.uuid4().hex}.in"
        try:
            os.rename(path, held)
            os.chmod(held, PRIVATE_FILE)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            copy_synced(path, held, sync=False)
            path.unlink(missing_ok=True)
        return held

    def close(self) -> IngestReport:
        """Commit what is left, stop the thread; the report once everything is durable and
        indexed (or failed)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        return self.report

    def __enter__(self) -> Ingest:
        """The ingest itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close (commit the rest)."""
        self.close()

    # -- the committer thread ---------------------------------------------------------------

    def _next_batch(self) -> list[_Item] | None:
        """Wait until a batch closes; None when closed with nothing left."""
        with self._cond:
            while True:
                if self._queue:
                    waited = time.monotonic() - self._opened
                    due = (
                        self._closing
                        or not self._committed_once
                        or len(self._queue) >= self.max_files
                        or waited >= self.max_delay
                    )
                    if due:
                        batch = self._queue[: self.max_files]
                        del self._queue[: self.max_files]
                        self._opened = time.monotonic()
                        return batch
                    self._cond.wait(self.max_delay - waited)
                elif self._closing:
                    return None
                else:
                    self._cond.wait()

    def _run(self) -> None:
        """Commit batches until closed."""
        try:
            while (batch := self._next_batch()) is not None:
                try:
                    self._commit(batch)
                except Exception as exc:  # noqa: BLE001 - never lose files silently
                    LOG.exception("a batch of %d files failed", len(batch))
                    self._fail(batch, exc)
                self._committed_once = True
        finally:
            self.archive.close_connection()

    def _commit(self, batch: list[_Item]) -> None:
        """Add one batch to the archive; record its outcomes."""
        from tuipacs.store.archive import ArchiveError

        items: list[tuple[Path, InstanceRecord]] = []
        kept: list[_Item] = []
        for item in batch:
            record = item.record
            if record is None:
                try:
                    record = self._read(item.path)
                except (NotDicomError, BadDicomError, OSError) as exc:
                    self._drop(item, str(exc) if not isinstance(exc, OSError) else
                               f"{item.label}: {exc.strerror or exc}")  # fmt: skip
                    continue
            items.append((item.path, record))
            kept.append(item)
        if not items:
            return
        try:
            results = self.archive.add_files(items, move=self.move, source=self.source)
        except (ArchiveError, OSError, sqlite3.Error) as exc:
            LOG.error("%d files not archived: %s", len(kept), exc)
            self._fail(kept, exc)
            return
        report = self.report
        for item, (_, record), result in zip(kept, items, results, strict=True):
            report.results.append((item.label, result))
            if result.status == "added":
                report.added += 1
                report.bytes_added += record.file_size
            elif result.status == "duplicate":
                report.duplicates += 1
        report.batches += 1
        if report.first_commit is None and report.stored:
            report.first_commit = time.monotonic()
        if self.on_commit is not None:
            try:
                self.on_commit(report)
            except Exception:  # noqa: BLE001 - a listener bug must not stop the ingest
                LOG.exception("on_commit callback failed")

    def _fail(self, items: list[_Item], exc: Exception) -> None:
        """A batch that could not be added: counted as lost, our files removed, and every
        later ``put`` raises the error (an ArchiveError; a full disk stays recognisable)."""
        from tuipacs.store.archive import ArchiveError

        failure = exc if isinstance(exc, ArchiveError) else self.archive.error(exc)
        if failure is not exc:
            failure.__cause__ = exc
        self.failure = failure
        self.report.lost += len(items)
        for item in items:
            if item.owned:
                item.path.unlink(missing_ok=True)

    def _read(self, path: Path) -> InstanceRecord:
        """The record of a file handed over without one."""
        if self.reader is not None:
            return self.reader(path)
        from tuipacs.store.records import read_record  # pydicom: only when needed

        return read_record(path)

    def _drop(self, item: _Item, message: str) -> None:
        """A file that will not be added: reported, removed if it is ours."""
        self.report.errors.append((item.label, message))
        if item.owned:
            item.path.unlink(missing_ok=True)
