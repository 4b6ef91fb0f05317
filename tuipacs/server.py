"""``tuipacs serve``: the archive server, i.e. the SCP of tuipacs.dicom.scp over the archive.

Storing is two-phase so that a sender waits for durability but not for the index:

1. ``ArchiveBackend.store`` (on the association's thread, before the C-STORE response)
   reads the header (a dataset that does not parse is refused with 0xC000 and dropped),
   checks the identity rules against the index and the instances waiting in the inbox
   (:mod:`tuipacs.store.inbox`, :mod:`tuipacs.store.identity`), renames the received file
   into ``<archive>/inbox/<server>/``, fsyncs it and that folder. From then on the instance
   survives a crash: the answer is 0x0000.
2. The inbox thread adds queued files to the archive in batches (``Archive.add_files``:
   one index transaction per batch, which checks the rules again) and calls
   ``on_stored(study_uid, series_uid, sop_uid)`` for each new instance. Files still in the
   inbox when the server starts (after a crash) are indexed first.

C-STORE statuses besides success:

* 0xA700 (out of resources): the archive's file system is nearly full or a write failed;
* 0xC000 (cannot understand): the dataset does not parse (nothing is kept);
* 0xC002 (cannot understand): the dataset's SOP Instance UID is not the one in the request
  (nothing is kept: the sender would believe the request's UID stored);
* 0xC001 (refused, identity): the instance's series belongs to another study, or its study
  to another patient (Patient ID plus issuer); the file goes to the quarantine
  (``tuipacs quarantine``);
* 0xB001 (warning, conflict): a different object with this SOP Instance UID is archived;
  the archive keeps the first object and quarantines the new one. The same object sent
  again is answered 0x0000 and dropped (a duplicate).

Each refusal and conflict is logged on one line with UIDs, the calling AE title and the
quarantine entry, never patient names or IDs.

Queries and retrieves answer from the index as it stands and never wait for the inbox:
an instance is found once it is indexed, within about a second of its answer
(``tuipacs.store.inbox.MAX_DELAY``).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import shutil
import signal
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from tuipacs import safe_text
from tuipacs.audit import AuditLog
from tuipacs.dicom.scp import ArchiveSCP, ScpError, ScpSettings
from tuipacs.dicom.scp_access import SERVICES, AccessPolicy
from tuipacs.dicom.scp_types import (
    STORE_CANNOT_UNDERSTAND,
    STORE_OUT_OF_RESOURCES,
    STORE_SUCCESS,
    Level,
    ReceivedFile,
    Root,
    StoredInstance,
)
from tuipacs.dicom.tls import TlsError, TlsFiles, server_context
from tuipacs.server_records import fast_record
from tuipacs.store import qr
from tuipacs.store.archive import Archive, ArchiveError
from tuipacs.store.files import make_locked_dir
from tuipacs.store.identity import RefusedError, shown, shown_text
from tuipacs.store.inbox import BATCH, IDLE, INBOX, MAX_DELAY, Inbox, OnStored
from tuipacs.store.records import BadDicomError, NotDicomError

__all__ = ["BATCH", "IDLE", "INBOX", "MAX_DELAY", "ArchiveServer", "Inbox", "OnStored", "serve"]

LOG = logging.getLogger("tuipacs.server")

#: Refuse C-STOREs (0xA700) when less than this is free on the archive's file system.
MIN_FREE_BYTES = 64 * 1024 * 1024
#: Refused: the series belongs to another study or the study to another patient.
STORE_IDENTITY_REFUSED = 0xC001
#: Warning: a different object with this SOP Instance UID is archived (the first is kept).
STORE_SOP_CONFLICT = 0xB001
#: The dataset's SOP Instance UID differs from the C-STORE request's.
STORE_UID_MISMATCH = 0xC002
DEFAULT_BIND = "127.0.0.1"


class ServerError(Exception):
    """The server cannot run (port in use, bad configuration); the message says what to do."""


# --------------------------------------------------------------------------- backend


class ArchiveBackend:
    """tuipacs.dicom.scp's Backend over the local archive."""

    def __init__(self, archive: Archive, inbox: Inbox, min_free: int = MIN_FREE_BYTES) -> None:
        """Serve `archive`; received files go through `inbox`."""
        self.archive = archive
        self.inbox = inbox
        self.min_free = min_free

    def _space_left(self, size: int) -> bool:
        try:
            free = shutil.disk_usage(self.archive.root).free
        except OSError:
            return True
        return free - size >= self.min_free

    def store(self, path: Path, info: ReceivedFile) -> int:
        """Parse the header, check it, make the file durable in the inbox, answer (see the
        module doc for the statuses)."""
        if not self._space_left(info.size):
            LOG.error("archive file system nearly full: refusing %s", shown(info.sop_instance_uid))
            return STORE_OUT_OF_RESOURCES
        try:
            record = fast_record(path)
        except (NotDicomError, BadDicomError) as exc:
            LOG.warning("refusing %s: %s", shown(info.sop_instance_uid), exc)
            return STORE_CANNOT_UNDERSTAND
        caller = shown_text(info.calling_ae)
        if record.sop_uid != info.sop_instance_uid:
            # answering "stored" for the request's UID while keeping another would lose it
            LOG.warning(
                "C-STORE from %s refused: the dataset's SOP Instance UID %s is not the "
                "request's %s",
                caller,
                shown(record.sop_uid),
                shown(info.sop_instance_uid),
            )
            return STORE_UID_MISMATCH
        try:
            self.inbox.put(path, record, source=f"C-STORE from {caller}")
        except RefusedError as exc:
            conflict = exc.refusal.kind == "instance"
            LOG.warning(
                "C-STORE from %s %s: %s",
                caller,
                "conflicts" if conflict else "refused",
                exc,
            )
            return STORE_SOP_CONFLICT if conflict else STORE_IDENTITY_REFUSED
        except (OSError, ArchiveError) as exc:
            LOG.error("cannot store %s: %s", shown(info.sop_instance_uid), exc)
            return STORE_OUT_OF_RESOURCES
        return STORE_SUCCESS

    def find(self, level: Level, root: Root, identifier: Dataset) -> Iterator[Dataset]:
        """C-FIND over the index as it stands (never waits for the inbox)."""
        return qr.find(self.archive, level, identifier)

    def instances_for(self, level: Level, root: Root, identifier: Dataset) -> list[StoredInstance]:
        """Instances for C-GET/C-MOVE, from the index as it stands."""
        return qr.instances_for(self.archive, root, identifier)


# --------------------------------------------------------------------------- server


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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tuipacs.server [--aet AE] [--port N] [--bind ADDR]`` (as ``tuipacs serve``)."""
    from tuipacs import config, locations

    parser = argparse.ArgumentParser(prog="tuipacs serve", description="run the archive server")
    parser.add_argument("--aet", help="our AE title (default: config ae_title)")
    parser.add_argument("--port", type=int, help="port to listen on (default: config port)")
    parser.add_argument("--bind", help=f"address to listen on (default {DEFAULT_BIND})")
    parser.add_argument(
        "--no-sync",
        action="store_true",
        help="answer C-STOREs before the files are fsynced (faster; not power-loss safe)",
    )
    args = parser.parse_args(argv)
    try:
        cfg = config.load()
        archive = Archive.open(locations.archive_dir())
    except (config.ConfigError, ArchiveError) as exc:
        print(f"tuipacs: error: {exc}", file=sys.stderr)
        return 1
    try:
        sync = False if args.no_sync else None
        return serve(archive, cfg, aet=args.aet, port=args.port, bind=args.bind, sync=sync)
    except ServerError as exc:
        print(f"tuipacs: error: {exc}", file=sys.stderr)
        return 1
    finally:
        archive.close()


if __name__ == "__main__":
    raise SystemExit(main())
