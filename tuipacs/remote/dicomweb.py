"""The DICOMweb client: :class:`~tuipacs.remote.client.PacsClient` over tuipacs.dicomweb.

echo is a cheap QIDO-RS search (one study), timed; find is QIDO-RS; retrieve is WADO-RS
into the archive through the same batched ingest as DIMSE (:mod:`tuipacs.remote.archive_sink`),
instances the archive holds skipped; send is STOW-RS; check searches, lists and retrieves
one instance (kept nowhere). Every failure is one line, a DICOM (DIMSE) port given as a URL
said as such. Each retrieve and send writes one audit line, as for DIMSE.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tuipacs.dicomweb import diagnose
from tuipacs.dicomweb.http import WebError, WebSession
from tuipacs.remote.client import ProgressCallback, SendProgressCallback
from tuipacs.remote.results import (
    CheckStep,
    EchoResult,
    Level,
    QueryRow,
    RemoteError,
    RetrieveResult,
    Root,
    SendResult,
)
from tuipacs.remote.web_node import WebNode

if TYPE_CHECKING:
    from tuipacs.audit import AuditLog
    from tuipacs.store.archive import Archive


class DicomWebClient:
    """A DICOMweb node, bound to the local archive (needed only to retrieve)."""

    def __init__(
        self, node: WebNode, archive: Archive | None = None, *, audit: AuditLog | None = None
    ) -> None:
        """Talk to ``node`` (nothing is sent until asked)."""
        self.node = node
        self.archive = archive
        self.audit = audit

    @property
    def name(self) -> str:
        """The node's name."""
        return self.node.name

    @property
    def address(self) -> str:
        """The base URL."""
        return self.node.url

    def _session(self) -> WebSession:
        """A new session (its connections closed by the caller)."""
        return WebSession(self.node)

    def echo(self) -> EchoResult:
        """One QIDO-RS search of one study, timed (RemoteNetError with advice if it fails)."""
        start = time.perf_counter()
        session = self._session()
        try:
            result = diagnose.guarded(self.node, lambda: session.timed_get(
                "/studies", {"limit": "1", "includefield": "StudyInstanceUID"}))  # fmt: skip
        finally:
            session.close()
        assert isinstance(result, tuple)
        ms, status = result
        total = (time.perf_counter() - start) * 1000.0
        return EchoResult(self.node.name, self.node.url, True, ms, total, f"HTTP {status}")

    def find(
        self,
        level: Level = "study",
        root: Root = "study",
        keys: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> list[QueryRow]:
        """QIDO-RS at ``level`` (``root`` does not matter: DICOMweb has none)."""
        from tuipacs.dicomweb import qido

        keys = dict(keys or {})
        path = qido.search_path(level, keys)
        params = qido.search_params(level, path, keys, limit)
        session = self._session()
        try:
            data = diagnose.guarded(self.node, lambda: session.get_json(path, params))
        finally:
            session.close()
        rows = qido.rows_from_json(data, level, keys, self.node.url)
        if limit is not None:
            rows = rows[: max(0, limit)]
        return [QueryRow(row) for row in rows]

    def retrieve(
        self,
        study_uid: str,
        series_uids: Sequence[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> RetrieveResult:
        """WADO-RS into the archive (instances here skipped); errors in the result."""
        from tuipacs.dicomweb.wado import WadoRetrieve
        from tuipacs.remote.archive_sink import ArchiveSink

        archive = self.archive
        if archive is None:
            raise RemoteError("no local archive to retrieve into")
        try:
            session = self._session()
        except WebError as exc:
            return RetrieveResult(self.node.name, study_uid, "wado-rs", errors=[str(exc)])
        sink = ArchiveSink(archive, f"retrieve from {self.node.name}")

        def put(path: Path, label: str) -> None:
            sink.ingest.put(path, label=label)

        job = WadoRetrieve(
            session, study_uid, list(series_uids or []), have=archive.has_instance, put=put,
            folder=archive.tmp_dir(), progress=progress, cancel=cancel,
        )  # fmt: skip
        try:
            result = job.run()
        finally:  # the received files are committed even on an interrupt
            report = sink.ingest.close()
            session.close()
        result = sink.finish(result, report)
        if not series_uids:
            sink.record_expected(result, self.node.name)
        if self.audit is not None:
            self.audit.record(
                "retrieve", node=self.node.name, address=self.node.url, study_uid=study_uid,
                series_uids=result.series_uids, method=result.method,
                received=result.completed, failed=result.failed, refused=len(result.refused),
            )  # fmt: skip
        return result

    def send(
        self,
        paths: Sequence[Path],
        *,
        progress: SendProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> SendResult:
        """STOW-RS the files as stored, a batch per request."""
        from tuipacs.dicomweb import stow

        session = self._session()
        try:
            result = diagnose.guarded(
                self.node, lambda: stow.send(session, paths, progress=progress, cancel=cancel)
            )
        finally:
            session.close()
        assert isinstance(result, SendResult)
        if self.audit is not None:
            self.audit.record(
                "send", node=self.node.name, address=self.node.url, files=len(paths),
                sent=result.sent, failed=result.failed,
            )  # fmt: skip
        return result

    def check(self) -> list[CheckStep]:
        """Search, list and retrieve one instance, with advice on what to fix."""
        try:
            session = self._session()
        except WebError as exc:
            return [CheckStep("settings", False, str(exc), 0.0)]
        try:
            return diagnose.check(session)
        finally:
            session.close()
