"""The DIMSE client: :class:`~tuipacs.remote.client.PacsClient` over tuipacs.dicom.

C-ECHO, C-FIND, C-GET or C-MOVE, C-STORE and the node check, with the archive callbacks
bound once: received files are added to the archive in batches (moved, with ``retrieve from
NODE`` as their source; see :mod:`tuipacs.remote.archive_sink`; refusals by the identity
rules are reported in the result), instances the
archive has are skipped, and a study the archive has nothing of is fetched whole series at
a time. Each retrieve and send writes one audit line (:mod:`tuipacs.audit`).

pydicom and pynetdicom load on the first call, not on import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tuipacs.dicom.errors import DicomError, DicomNetError, QueryError
from tuipacs.dicom.nodes import LocalAE, Method, Node
from tuipacs.remote.client import ProgressCallback, SendProgressCallback
from tuipacs.remote.results import (
    CheckStep,
    EchoResult,
    Level,
    QueryInvalid,
    QueryRow,
    RemoteError,
    RemoteNetError,
    RetrieveProgress,
    RetrieveResult,
    Root,
    SendResult,
)

if TYPE_CHECKING:
    from tuipacs.audit import AuditLog
    from tuipacs.dicom import retrieve as dicom_retrieve
    from tuipacs.store.archive import Archive


@contextmanager
def _remote_errors() -> Iterator[None]:
    """tuipacs.dicom's errors as the seam's (the same one-line message)."""
    try:
        yield
    except QueryError as exc:
        raise QueryInvalid(str(exc)) from exc
    except DicomNetError as exc:
        raise RemoteNetError(str(exc)) from exc
    except DicomError as exc:
        raise RemoteError(str(exc)) from exc


class DimseClient:
    """A DICOM node over DIMSE, bound to the local archive (needed only to retrieve).

    ``method`` ("get" or "move") overrides the node's retrieve method; ``audit`` (None: no
    audit) receives a line per retrieve and send.
    """

    def __init__(
        self,
        node: Node,
        local: LocalAE,
        archive: Archive | None = None,
        *,
        audit: AuditLog | None = None,
        method: Method | None = None,
    ) -> None:
        """Talk to ``node`` as ``local``."""
        self.node = replace(node, method=method) if method else node
        self.local = local
        self.archive = archive
        self.audit = audit

    @property
    def name(self) -> str:
        """The node's name."""
        return self.node.name

    @property
    def address(self) -> str:
        """AE@host:port."""
        return self.node.address

    def echo(self) -> EchoResult:
        """C-ECHO the node: first without pydicom (tuipacs.remote.quick_echo), and with
        tuipacs.dicom, whose errors carry the advice, unless that answered success."""
        from tuipacs.remote import quick_echo as quick

        if quick.usable(self.node):
            try:
                fast = quick.quick_echo(self.node, self.local)
            except quick.Unsure:
                pass
            else:
                from tuipacs.dicom.status import describe

                line = describe(fast.status).line()
                return EchoResult(
                    self.node.name, self.node.address, True, fast.ms, fast.total_ms, line
                )
        from tuipacs.dicom import scu

        with _remote_errors():
            result = scu.echo(self.node, self.local)
        return EchoResult(
            self.node.name, self.node.address, result.ok, result.ms, result.total_ms, result.status
        )

    def find(
        self,
        level: Level = "study",
        root: Root = "study",
        keys: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> list[QueryRow]:
        """C-FIND at ``level`` in the ``root`` information model."""
        from tuipacs.dicom import scu

        with _remote_errors():
            rows = scu.find(self.node, self.local, level=level, root=root, keys=keys, limit=limit)
        return [QueryRow(row) for row in rows]

    def retrieve(
        self,
        study_uid: str,
        series_uids: Sequence[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> RetrieveResult:
        """C-GET or C-MOVE (the node's method) into the archive; errors in the result."""
        from tuipacs.dicom.retrieve import retrieve
        from tuipacs.remote.archive_sink import ArchiveSink

        archive = self.archive
        if archive is None:
            raise RemoteError("no local archive to retrieve into")
        sink = ArchiveSink(archive, f"retrieve from {self.node.name}")
        try:
            summary = retrieve(
                self.node,
                self.local,
                study_uid,
                sink=sink,
                series_uids=list(series_uids or []) or None,
                have=archive.has_instance,
                have_any=archive.has_study,
                progress=_progress(progress),
                cancel=cancel,
            )
        finally:  # the received files are committed even on an interrupt
            report = sink.ingest.close()
        result = sink.finish(_result(self.node.name, summary, list(series_uids or [])), report)
        if not series_uids:  # the count `ls` and the browser compare the archive's with
            sink.record_expected(result, self.node.name)
        refused = result.refused
        if self.audit is not None:
            self.audit.record(
                "retrieve", node=self.node.name, address=self.node.address,
                study_uid=study_uid, series_uids=result.series_uids, method=result.method,
                received=result.completed, failed=result.failed, refused=len(refused),
            )  # fmt: skip
        return result

    def send(
        self,
        paths: Sequence[Path],
        *,
        progress: SendProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> SendResult:
        """C-STORE the files over one association, as stored."""
        from tuipacs.dicom.send import send

        with _remote_errors():
            summary = send(self.node, self.local, paths, progress=progress, cancel=cancel)
        if self.audit is not None:
            self.audit.record(
                "send", node=self.node.name, address=self.node.address, files=len(paths),
                sent=summary.sent, failed=summary.failed,
            )  # fmt: skip
        return SendResult(
            sent=summary.sent,
            warnings=summary.warnings,
            failed=summary.failed,
            skipped=summary.skipped,
            bytes=summary.bytes,
            seconds=summary.seconds,
            errors=list(summary.errors),
        )

    def check(self) -> list[CheckStep]:
        """Echo, find and a one-instance retrieve by the node's method (kept nowhere)."""
        from tuipacs.dicom.doctor import check_node

        steps = check_node(self.node, self.local)
        return [CheckStep(s.name, s.ok, s.detail, s.seconds, s.skipped) for s in steps]


def _progress(
    callback: ProgressCallback | None,
) -> Callable[[dicom_retrieve.RetrieveProgress], None] | None:
    """tuipacs.dicom's progress callback feeding ``callback`` the seam's type."""
    if callback is None:
        return None

    def report(p: dicom_retrieve.RetrieveProgress) -> None:
        callback(
            RetrieveProgress(
                p.total,
                p.completed,
                p.failed,
                p.warning,
                p.skipped,
                p.remaining,
                p.bytes,
                p.elapsed,
            )  # fmt: skip
        )

    return report


def _result(
    node: str, summary: dicom_retrieve.RetrieveSummary, series: list[str]
) -> RetrieveResult:
    """The seam's result of a DIMSE retrieve."""
    return RetrieveResult(
        node=node,
        study_uid=summary.study_uid,
        method=summary.method,
        series_uids=series,
        total=summary.total,
        completed=summary.completed,
        failed=summary.failed,
        warning=summary.warning,
        skipped=summary.skipped,
        bytes=summary.bytes,
        seconds=summary.seconds,
        first_image_seconds=summary.first_image_seconds,
        cancelled=summary.cancelled,
        errors=list(summary.errors),
    )
