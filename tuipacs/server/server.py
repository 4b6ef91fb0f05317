"""``tuipacs serve``: the archive server, i.e. the SCP of tuipacs.dicom.scp over the archive.

:class:`ArchiveServer` runs it in the background (the TUI's ``--serve``, tests); :func:`serve`
in the foreground until SIGTERM or SIGINT (``tuipacs serve``). What storing, querying and
retrieving do is in :mod:`tuipacs.server.backend`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import signal
import sys
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tuipacs import safe_text
from tuipacs.audit import AuditLog
from tuipacs.dicom.scp import ArchiveSCP, ScpError, ScpSettings
from tuipacs.dicom.scp_access import SERVICES, AccessPolicy
from tuipacs.dicom.tls import TlsError, TlsFiles, server_context
from tuipacs.server.backend import ArchiveBackend
from tuipacs.server.inbox import Inbox, OnStored
from tuipacs.store.archive import Archive
from tuipacs.store.files import make_locked_dir

LOG = logging.getLogger("tuipacs.server")

DEFAULT_BIND = "127.0.0.1"


class ServerError(Exception):
    """The server cannot run (port in use, bad configuration); the message says what to do."""


def _spool_folder(archive: Archive) -> tuple[Path, int]:
    """A private, locked spool folder in the archive's tmp/ (Archive.recover skips it)."""
    return make_locked_dir(archive.root / "tmp", f"scp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def is_loopback(bind: str) -> bool:
    """True for a listen address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if bind.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_exposure(settings: ScpSettings, allow_any: bool, tls_mode: str) -> None:
    """Refuse to listen beyond loopback with no allow list, unless the config says so.

    AE titles are not authentication, so an open server on the network lets anyone read
    and write the archive. Mutual TLS authenticates callers by certificate and counts as an
    allow rule.
    """
    if is_loopback(settings.bind) or not settings.access.is_open:
        return
    if allow_any or tls_mode == "mutual":
        return
    raise ServerError(
        f"refusing to listen on {settings.bind} with no [serve] allow list: anyone who can "
        f"reach port {settings.port} could read and write the archive (AE titles are not "
        'authentication). Add an allow list with hosts (allow = ["CT1@10.0.0.5"]), require '
        'client certificates ([serve] tls = "mutual"), or set [serve] allow_any = true'
    )


def destinations(cfg: Any) -> dict[str, tuple[str, int]]:
    """C-MOVE destinations from cfg.nodes: AE title -> (host, port)."""
    out: dict[str, tuple[str, int]] = {}
    for table in (getattr(cfg, "nodes", None) or {}).values():
        try:
            ae, host, port = str(table["ae_title"]).strip(), str(table["host"]), int(table["port"])
        except (KeyError, TypeError, ValueError):
            continue
        out.setdefault(ae, (host, port))
    return out


def access_policy(cfg: Any) -> AccessPolicy:
    """The allow-lists of cfg: serve_allow, and serve_allow_store/_query/_retrieve if set."""
    try:
        return AccessPolicy.from_lists(
            getattr(cfg, "serve_allow", None) or [],
            store=getattr(cfg, "serve_allow_store", None),
            query=getattr(cfg, "serve_allow_query", None),
            retrieve=getattr(cfg, "serve_allow_retrieve", None),
        )
    except ValueError as exc:
        raise ServerError(f"bad [serve] allow rule: {exc}") from exc


class ArchiveServer:
    """The archive server as an object: start() serves in the background, stop() ends it.

    ``on_stored(study_uid, series_uid, sop_uid)`` runs (on the inbox thread) for each new
    instance once it is in the index. ``services`` may limit the server to e.g. {"store"}.
    """

    def __init__(
        self,
        archive: Archive,
        cfg: Any,
        *,
        aet: str | None = None,
        port: int | None = None,
        bind: str | None = None,
        services: Sequence[str] = SERVICES,
        on_stored: OnStored | None = None,
        grace: float = 5.0,
        sync: bool | None = None,
    ) -> None:
        """Describe the server from the config, with command-line overrides."""
        self.archive = archive
        self.grace = grace
        if sync is None:
            sync = bool(getattr(cfg, "serve_sync", True))
        self.inbox = Inbox(archive, on_stored, sync)
        self.backend = ArchiveBackend(archive, self.inbox)
        self.settings = ScpSettings(
            ae_title=str(aet or getattr(cfg, "ae_title", None) or "TUIPACS"),
            port=getattr(cfg, "port", 11112) if port is None else port,
            bind=bind or getattr(cfg, "serve_bind", None) or DEFAULT_BIND,
            access=access_policy(cfg),
            destinations=destinations(cfg),
            services=frozenset(services),
            audit=AuditLog.for_archive(archive.root, bool(getattr(cfg, "audit", True))),
            max_associations=int(getattr(cfg, "serve_max_associations", 32)),
            max_associations_per_address=int(getattr(cfg, "serve_max_per_address", 16)),
        )
        self.allow_any = bool(getattr(cfg, "serve_allow_any", False))
        self.tls_mode = str(getattr(cfg, "serve_tls", "off"))
        self.tls_files = getattr(cfg, "tls", None) or TlsFiles()
        self.scp = ArchiveSCP(self.backend, self.settings)
        self._spool_fd: int | None = None

    @property
    def port(self) -> int:
        """The port bound."""
        return self.scp.port

    def start(self) -> ArchiveServer:
        """Index what a previous run left, then listen; ServerError if it cannot."""
        check_exposure(self.settings, self.allow_any, self.tls_mode)
        if self.tls_mode != "off":
            try:
                self.settings.ssl_context = server_context(self.tls_files, self.tls_mode)
            except TlsError as exc:
                raise ServerError(str(exc)) from None
        try:
            spool, self._spool_fd = _spool_folder(self.archive)
        except OSError as exc:
            raise ServerError(f"cannot write to the archive at {self.archive.root}: {exc}") from exc
        self.settings.spool = spool
        self.inbox.open()
        self.inbox.start()
        try:
            self.scp.start()
        except ScpError as exc:
            self._cleanup()
            raise ServerError(str(exc)) from None
        return self

    def stop(self) -> None:
        """Stop listening, finish or abort associations, index everything received."""
        self.scp.stop(self.grace)
        self._cleanup()
        LOG.info("%d instances indexed", self.inbox.indexed)

    def _cleanup(self) -> None:
        self.inbox.stop()
        if self.settings.spool is not None:
            shutil.rmtree(self.settings.spool, ignore_errors=True)
            self.settings.spool = None
        if self._spool_fd is not None:
            os.close(self._spool_fd)
            self._spool_fd = None

    def __enter__(self) -> ArchiveServer:
        """Start on entry."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on exit."""
        self.stop()


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr (once); pynetdicom only for warnings (its INFO lines carry identifiers)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    safe_text.protect_logging()  # no raw control from peers or files in a log line
    logging.getLogger("tuipacs").setLevel(level)
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    # pydicom's warnings about odd values quote them (names, IDs): not for a log
    logging.getLogger("pydicom").setLevel(logging.ERROR)


def serve(
    archive: Archive,
    cfg: Any,
    *,
    aet: str | None = None,
    port: int | None = None,
    bind: str | None = None,
    stop: threading.Event | None = None,
    sync: bool | None = None,
) -> int:
    """Run the server in the foreground until SIGTERM/SIGINT (or `stop` is set); returns 0.

    Raises ServerError (one-line message) if it cannot start.
    """
    configure_logging()
    done = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: done.set())
    try:
        server = ArchiveServer(archive, cfg, aet=aet, port=port, bind=bind, sync=sync).start()
        if not server.inbox.sync:
            LOG.warning("answering C-STOREs before fsync: a power loss may lose the last images")
        if not is_loopback(server.settings.bind) and server.settings.access.is_open:
            LOG.warning(
                "listening on %s with no [serve] allow list (allow_any = true): any caller "
                "may store, query and retrieve",
                server.settings.bind,
            )
        try:
            while not done.wait(0.5):
                pass
            LOG.info("shutting down")
        finally:
            server.stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
