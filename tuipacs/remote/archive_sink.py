"""The retrieve sink that puts received files into the archive, a batch at a time.

For C-GET and C-MOVE the remote archive still holds every instance, so an fsync per
received file buys nothing: each file is renamed into the archive's staging folder as it
arrives (the C-STORE is answered at once) and an :class:`~tuipacs.store.batch.Ingest`
commits them in batches (one flush, one placement sweep, one index transaction). The first
batch closes at once, so the first image opens while the rest arrives. A crash loses at
most the batches not committed yet: the next retrieve fetches what the index lacks.

:meth:`ArchiveSink.finish` waits until the last batch is durable and indexed, then
corrects the retrieve's counts: refused files (identity rules, kept in the quarantine) and
unreadable ones were answered as stored, so they move from ``completed`` to ``failed``.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tuipacs.store.batch import Ingest, IngestReport

if TYPE_CHECKING:
    from tuipacs.dicom.scp_types import ReceivedInstance
    from tuipacs.remote.results import RetrieveResult
    from tuipacs.store.archive import Archive


class ArchiveSink:
    """A retrieve sink (``sink(path, instance)``) feeding ``archive`` in batches."""

    def __init__(self, archive: Archive, source: str) -> None:
        """Start the batch committer; ``source`` names the node for the quarantine."""
        from tuipacs.server.records import fast_record  # pydicom only for unusual files

        self.started = time.monotonic()
        self.archive = archive
        self.ingest = Ingest(archive, source=source, move=True, reader=fast_record)

    def __call__(self, path: Path, instance: ReceivedInstance) -> None:
        """Take one received file (renamed into the staging folder). Raises the archive's
        error once a batch failed (e.g. a full disk): the peer is answered a failure."""
        self.ingest.put(path, label=instance.sop_instance_uid)

    def finish(self, result: RetrieveResult, report: IngestReport) -> RetrieveResult:
        """Fold the outcomes of the ingest (``report``: what ``ingest.close()`` returned,
        once everything is durable and indexed) into ``result``."""
        refused = [r.message for _, r in report.refused]
        result.refused.extend(refused)
        failed = len(refused) + len(report.errors) + report.lost
        result.completed = max(0, result.completed - failed)
        result.failed += failed
        for label, message in report.errors[:5]:
            line = message if label in message else f"{label}: {message}"
            if line not in result.errors:
                result.errors.append(line)
        if len(report.errors) > 5:
            result.errors.append(f"{len(report.errors) - 5} more files not archived")
        failure = self.ingest.failure
        if failure is not None and not _said(result.errors, failure):
            result.errors.append(str(failure))
        result.seconds = max(result.seconds, time.monotonic() - self.started)
        if report.first_commit is not None:
            result.first_image_seconds = round(report.first_commit - self.started, 3)
        return result

    def record_expected(self, result: RetrieveResult, node: str) -> None:
        """Record in the archive how many instances ``node`` gave for the whole study
        (its count, or what is here and came if more), once the received files are indexed,
        interrupted or not: a study retrieved only in part is then shown as such. Nothing is
        recorded when the node gave no count (the query failed); a failure to write is one
        more error of the result."""
        from tuipacs.store.archive import ArchiveError

        known = max(result.total, result.completed + result.skipped)
        if known <= 0:
            return
        try:
            self.archive.record_expected(result.study_uid, known, node)
        except (ArchiveError, OSError, sqlite3.Error) as exc:
            result.errors.append(f"cannot record the study's image count: {exc}")


def _said(errors: list[str], failure: Exception) -> bool:
    """Whether the retrieve already reported this failure (a full disk is said once)."""
    from tuipacs.dicom.transport import disk_full

    if disk_full(failure):
        return any("disk is full" in line for line in errors)
    return str(failure) in errors
