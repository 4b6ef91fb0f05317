"""``tuipacs serve --http PORT``: the DICOMweb server beside the DIMSE SCP, in one process.

Both share the archive and the inbox (so a STOW-RS and a C-STORE obey the same identity
rules and the same durability), the bind address, the [serve] tls mode and the [tls]
certificate. Listening beyond loopback with anonymous access needs [serve] allow_any (or
tls = "mutual"), as an open DIMSE server does; with credentials over plain HTTP beyond
loopback a warning says they travel in clear.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

from tuipacs.audit import AuditLog
from tuipacs.dicom.tls import TlsError, TlsFiles, server_context
from tuipacs.dicomweb.server.app import WebApp
from tuipacs.dicomweb.server.httpd import WebHttpServer
from tuipacs.dicomweb.server.settings import SettingsError, WebSettings
from tuipacs.server import ArchiveServer, ServerError, configure_logging, is_loopback
from tuipacs.store.archive import Archive
from tuipacs.store.files import make_locked_dir

LOG = logging.getLogger("tuipacs.server.http")
BASE = "/dicom-web"


def web_settings(cfg: Any) -> WebSettings:
    """The [serve] http_* settings, secrets read; ServerError (one line) when they cannot
    work."""
    try:
        return WebSettings.from_config(cfg)
    except SettingsError as exc:
        raise ServerError(str(exc)) from None


class WebServer:
    """The DICOMweb server over an :class:`ArchiveServer`'s archive and inbox."""

    def __init__(self, server: ArchiveServer, cfg: Any, port: int) -> None:
        """Describe it; start() listens. ServerError for bad settings."""
        self.dimse = server
        self.archive: Archive = server.archive
        self.port = port
        self.bind = server.settings.bind
        self.settings = web_settings(cfg)
        self.tls_mode = str(getattr(cfg, "serve_tls", "off"))
        self.tls_files: TlsFiles = getattr(cfg, "tls", None) or TlsFiles()
        self.allow_any = bool(getattr(cfg, "serve_allow_any", False))
        self.audit = AuditLog.for_archive(self.archive.root, bool(getattr(cfg, "audit", True)))
        self.httpd: WebHttpServer | None = None
        self._thread: threading.Thread | None = None
        self._spool_fd: int | None = None
        self._spool: Path | None = None
        self._checked = False

    def check(self) -> None:
        """Refuse an exposure the config does not allow (before anything listens)."""
        if self._checked or is_loopback(self.bind):
            return
        if self.settings.allow_anonymous and not (self.allow_any or self.tls_mode == "mutual"):
            raise ServerError(
                f"refusing DICOMweb on {self.bind} with http_allow_anonymous = true: anyone "
                "who can reach it could read and write the archive. Require credentials "
                "(http_allow_anonymous = false), or set [serve] allow_any = true"
            )
        if self.tls_mode == "off":
            LOG.warning("DICOMweb on %s over plain HTTP: credentials travel in clear "
                        '(set [serve] tls = "on")', self.bind)  # fmt: skip
        self._checked = True

    def start(self) -> WebServer:
        """Listen and answer in the background; ServerError if it cannot."""
        self.check()
        context = None
        if self.tls_mode != "off":
            try:
                context = server_context(self.tls_files, self.tls_mode)
            except TlsError as exc:
                raise ServerError(str(exc)) from None
        try:
            spool, self._spool_fd = make_locked_dir(
                self.archive.root / "tmp", f"http-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            )
        except OSError as exc:
            raise ServerError(f"cannot write to the archive at {self.archive.root}: {exc}") from exc
        self._spool = spool
        host = self.bind if ":" not in self.bind else f"[{self.bind}]"
        app = WebApp(self.archive, self.dimse.backend, spool,
                     "https" if context else "http", f"{host}:{self.port}", BASE)  # fmt: skip
        try:
            self.httpd = WebHttpServer((self.bind, self.port), app, self.settings, self.audit,
                                       BASE, context)  # fmt: skip
        except OSError as exc:
            self._cleanup()
            raise ServerError(
                f"cannot listen for DICOMweb on {self.bind}:{self.port}: {exc.strerror} "
                "(is another server on that port? pick another with --http PORT)"
            ) from None
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
            name="tuipacs-http-accept", daemon=True,
        )  # fmt: skip
        self._thread.start()
        LOG.info("DICOMweb on %s://%s:%d%s/ (auth %s%s)", app.scheme, host, self.port, BASE,
                 self.settings.auth,
                 ", anonymous allowed" if self.settings.allow_anonymous else "")  # fmt: skip
        return self

    def stop(self) -> None:
        """Stop listening; requests under way are cut."""
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._cleanup()

    def _cleanup(self) -> None:
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)
            self._spool = None
        if self._spool_fd is not None:
            os.close(self._spool_fd)
            self._spool_fd = None


def serve_with_http(
    archive: Archive,
    cfg: Any,
    *,
    http_port: int,
    aet: str | None = None,
    port: int | None = None,
    bind: str | None = None,
    sync: bool | None = None,
) -> int:
    """``tuipacs serve --http``: DIMSE and DICOMweb until SIGTERM/SIGINT; returns 0.

    Raises ServerError (one line) if either cannot start."""
    configure_logging()
    done = threading.Event()
    previous = {s: signal.signal(s, lambda *_: done.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server = ArchiveServer(archive, cfg, aet=aet, port=port, bind=bind, sync=sync)
        web = WebServer(server, cfg, http_port)  # settings read, secrets found
        web.check()  # nothing listens yet
        server.start()
        try:
            web.start()
        except ServerError:
            server.stop()
            raise
        try:
            while not done.wait(0.5):
                pass
            LOG.info("shutting down")
        finally:
            web.stop()
            server.stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
