"""``tuipacs serve``: the archive server, i.e. the SCP of tuipacs.dicom.scp over the archive.

Storing is two-phase so that a sender waits for durability but not for the index:

1. ``ArchiveBackend.store`` (on the association's thread, before the C-STORE response)
   reads the header (a dataset that does not parse is refused with 0xC000 and dropped),
   renames the received file into ``<archive>/inbox/<server>/``, fsyncs it and that folder.
   From then on the instance survives a crash: the answer is 0x0000.
2. The :class:`Inbox` thread adds queued files to the archive in batches
   (``Archive.add_files``: one pending and one index transaction per batch) and calls
   ``on_stored(study_uid, series_uid, sop_uid)`` for each new instance. Files still in the
   inbox when the server starts (after a crash) are indexed first.

Queries and retrieves first wait for the inbox to be empty, so what was stored is found.
The inbox folder belongs to the server; ``Archive.recover`` does not touch it.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import logging
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from tuipacs import safe_text
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
from tuipacs.server_records import fast_record
from tuipacs.store import qr
from tuipacs.store.archive import Archive, ArchiveError
from tuipacs.store.records import BadDicomError, InstanceRecord, NotDicomError, read_record

LOG = logging.getLogger("tuipacs.server")

#: Called from the inbox thread for every newly indexed instance.
OnStored = Callable[[str, str, str], None]

INBOX = "inbox"
#: Refuse C-STOREs (0xA700) when less than this is free on the archive's file system.
MIN_FREE_BYTES = 64 * 1024 * 1024
#: Most instances indexed in one batch.
BATCH = 500
#: The inbox indexes once no file arrived for IDLE seconds, or after MAX_DELAY at the latest
#: (indexing while a sender waits for its answers would slow it down).
IDLE = 0.1
MAX_DELAY = 1.0
DEFAULT_BIND = "0.0.0.0"
_RETRY_SECONDS = 2.0


class ServerError(Exception):
    """The server cannot run (port in use, bad configuration); the message says what to do."""


def _fsync_path(path: Path) -> None:
    """fsync a file or folder by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- inbox


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
        self._queue: list[tuple[Path, InstanceRecord]] = []
        self._busy = 0
        self._flushing = 0
        self._last_put = 0.0
        self._first_put = 0.0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._folder_fd: int | None = None
        self._lock_fd: int | None = None
        self.indexed = 0

    def open(self) -> int:
        """Create this server's locked inbox folder and adopt what dead servers left.

        Each running server has its own folder (several may share an archive); a folder
        whose lock is free belonged to a server that died: its files are queued here.
        Returns the number of instances queued that way.
        """
        self.folder.mkdir(parents=True)
        self._lock_fd = os.open(self.folder / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._folder_fd = os.open(self.folder, os.O_RDONLY)
        for other in self.base.iterdir():
            if other != self.folder and other.is_dir():
                self._adopt(other)
        os.fsync(self._folder_fd)
        left: list[tuple[Path, InstanceRecord]] = []
        for path in sorted(self.folder.glob("*.dcm")):
            try:
                left.append((path, read_record(path)))
            except (NotDicomError, BadDicomError) as exc:
                LOG.warning("dropping an unreadable file left in the inbox: %s", exc)
                path.unlink(missing_ok=True)
        with self._cond:
            self._queue.extend(left)
        if left:
            LOG.info("indexing %d instances received before the last shutdown", len(left))
        return len(left)

    def _adopt(self, other: Path) -> None:
        """Take over the files of another server's inbox folder if that server is gone."""
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

    def put(self, path: Path, record: InstanceRecord) -> None:
        """Move a complete file into the inbox, make it durable, queue it (OSError if not).

        The rename comes first: one journal commit (the file's fsync) then covers the data
        and the new directory entry, and the folder's fsync has little left to do. With
        ``sync`` False nothing is fsynced here (the archive fsyncs when it indexes, within
        about a second): the instance then survives a crash of tuipacs but not of the
        machine, and answers come about 0.5 ms sooner per image.
        """
        assert self._folder_fd is not None, "Inbox.open() first"
        target = self.folder / f"{uuid.uuid4().hex}.dcm"
        try:
            os.rename(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # spool on another file system: copy
                raise
            shutil.copyfile(path, target)
        try:
            if self.sync:
                _fsync_path(target)
                os.fsync(self._folder_fd)
        except OSError:
            target.unlink(missing_ok=True)
            raise
        with self._cond:
            self._last_put = time.monotonic()
            if not self._queue:
                self._first_put = self._last_put
            self._queue.append((target, record))
            self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued is indexed; False on timeout."""
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

    def _next_batch(self) -> list[tuple[Path, InstanceRecord]] | None:
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

    def _failed(self, batch: list[tuple[Path, InstanceRecord]], exc: Exception) -> None:
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

    def _index(self, batch: list[tuple[Path, InstanceRecord]]) -> None:
        """Add a batch to the archive through hard links, so a crash loses nothing."""
        links = []
        try:
            for path, record in batch:
                link = path.with_suffix(".idx")
                link.unlink(missing_ok=True)
                os.link(path, link)
                links.append((link, record))
            # synced: put() fsynced each file (with sync off the archive fsyncs them here)
            results = self.archive.add_files(links, move=True, synced=self.sync)
        finally:
            for link, _ in links:
                link.unlink(missing_ok=True)
        for (path, _), result in zip(batch, results, strict=True):
            path.unlink(missing_ok=True)
            if result.status != "added":
                continue
            self.indexed += 1
            if self.on_stored is not None:
                try:
                    self.on_stored(result.study_uid, result.series_uid, result.sop_uid)
                except Exception:  # noqa: BLE001 - a listener bug must not stop indexing
                    LOG.exception("on_stored callback failed")


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
        """Parse the header, make the file durable in the inbox, answer (see module doc)."""
        if not self._space_left(info.size):
            LOG.error("archive file system nearly full: refusing %s", info.sop_instance_uid)
            return STORE_OUT_OF_RESOURCES
        try:
            record = fast_record(path)
        except (NotDicomError, BadDicomError) as exc:
            LOG.warning("refusing %s: %s", info.sop_instance_uid, exc)
            return STORE_CANNOT_UNDERSTAND
        try:
            if record.sop_uid != info.sop_instance_uid:
                LOG.warning(
                    "dataset SOP Instance UID %s differs from the request's %s: kept as %s",
                    record.sop_uid,
                    info.sop_instance_uid,
                    record.sop_uid,
                )
            self.inbox.put(path, record)
        except OSError as exc:
            LOG.error("cannot store %s: %s", info.sop_instance_uid, exc)
            return STORE_OUT_OF_RESOURCES
        return STORE_SUCCESS

    def find(self, level: Level, root: Root, identifier: Dataset) -> Iterator[Dataset]:
        """C-FIND over the index (after the inbox is indexed)."""
        self.inbox.flush()
        return qr.find(self.archive, level, identifier)

    def instances_for(self, level: Level, root: Root, identifier: Dataset) -> list[StoredInstance]:
        """Instances for C-GET/C-MOVE (after the inbox is indexed)."""
        self.inbox.flush()
        return qr.instances_for(self.archive, root, identifier)


# --------------------------------------------------------------------------- server


def _spool_folder(archive: Archive) -> tuple[Path, int]:
    """A private, locked spool folder in the archive's tmp/ (Archive.recover skips it)."""
    folder = archive.root / "tmp" / f"scp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    fd = os.open(folder / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return folder, fd


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
        )
        self.scp = ArchiveSCP(self.backend, self.settings)
        self._spool_fd: int | None = None

    @property
    def port(self) -> int:
        """The port bound."""
        return self.scp.port

    def start(self) -> ArchiveServer:
        """Index what a previous run left, then listen; ServerError if it cannot."""
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
        if server.settings.access.is_open and server.settings.bind not in ("127.0.0.1", "::1"):
            LOG.warning("no [serve] allow list: any caller may store, query and retrieve")
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
