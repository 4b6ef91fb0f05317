"""Retrieve a study (or some series) by C-GET or C-MOVE, straight to a sink.

Plan: when nothing of the study is stored locally (no ``have``, or ``have_any`` says
so), a STUDY- and a SERIES-level C-FIND (one row per series) give the SOP classes and
instance counts, and whole series are requested at once (one job per series). Else, or
when the archive does not return SOPClassesInStudy and the counts, an IMAGE-level C-FIND
lists the study's instances (SOP class, series); instances the caller already has
(``have``) are skipped; the rest is split into jobs (whole series, or UID lists for
partial or big series). Jobs run on ``node.parallel`` associations. Received files go to
the sink undecoded (see storage.py / fastdul.py). Cancel sends C-CANCEL, then aborts
after a grace period. Errors end up in the summary, never as exceptions.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import shutil
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom.association import Association
from pynetdicom.dsutils import decode
from pynetdicom.presentation import build_context

from tuipacs.dicom import net, tls
from tuipacs.dicom.errors import DicomError, DicomNetError, MoveDestinationUnknown
from tuipacs.dicom.nodes import LocalAE, Method, Node
from tuipacs.dicom.scu import STUDY_ROOT_FIND, STUDY_ROOT_GET, STUDY_ROOT_MOVE, iter_find
from tuipacs.dicom.status import CANCEL, FAILURE, PENDING, WARNING, describe
from tuipacs.dicom.storage import (
    COMMON_STORAGE_CLASSES,
    ReceivedInstance,
    Sink,
    StorageServer,
    StoreHandler,
    storage_contexts,
)
from tuipacs.dicom.transport import StoreRequest, context_id, options_of, scan_elements

LOG = logging.getLogger(__name__)

_SOP_CLASS = 0x00080016
_SOP_INSTANCE = 0x00080018
_SERIES = 0x0020000E

#: Most SOP Instance UIDs sent in one IMAGE-level request.
MAX_UIDS_PER_REQUEST = 500
#: Smallest chunk a big series is split into for parallel associations.
MIN_SPLIT = 16
#: Seconds between C-CANCEL and A-ABORT if the archive keeps going.
CANCEL_GRACE = 5.0


@dataclass(frozen=True)
class RetrieveProgress:
    """Progress of a retrieve (instances); callbacks get one after each change."""

    total: int
    completed: int
    failed: int
    warning: int
    skipped: int
    remaining: int
    bytes: int
    elapsed: float


@dataclass
class RetrieveSummary:
    """Outcome of a retrieve. `ok` is True when nothing failed and it was not cancelled."""

    study_uid: str
    method: str
    total: int = 0
    completed: int = 0
    failed: int = 0
    warning: int = 0
    skipped: int = 0
    bytes: int = 0
    seconds: float = 0.0
    first_image_seconds: float | None = None
    cancelled: bool = False
    errors: list[str] = field(default_factory=list)
    error: DicomError | None = None

    @property
    def ok(self) -> bool:
        """True when the retrieve finished without failures or errors."""
        return not self.errors and self.failed == 0 and not self.cancelled

    @property
    def remaining(self) -> int:
        """Instances neither received, skipped nor failed (e.g. after a cancel)."""
        return max(0, self.total - self.completed - self.skipped - self.failed)

    @property
    def mb_per_s(self) -> float:
        """Throughput in MB/s (10^6 bytes)."""
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[RetrieveProgress], None]
Have = Callable[[str], bool]
#: has_any(study_uid): True if any instance of the study is stored locally.
HaveAny = Callable[[str], bool]


@dataclass
class _Instance:
    """One instance found by the IMAGE-level query."""

    sop_uid: str
    sop_class: str
    series_uid: str


@dataclass
class _Job:
    """One C-GET/C-MOVE request: UIDs of one series (sent at SERIES level if whole)."""

    series_uid: str
    uids: list[str]
    whole: bool = False
    count: int | None = None

    @property
    def expected(self) -> int:
        """Instances this job should bring (`count` for a whole series not listed)."""
        return self.count if self.count is not None else len(self.uids)


@dataclass
class _Active:
    """A request in flight, watched by the monitor (timeouts, cancel)."""

    assoc: Association
    msg_id: int
    context_id: int
    cancel_sent: float | None = None


class _State:
    """Counters shared by worker, DUL and receiver threads (all under one lock)."""

    def __init__(self, summary: RetrieveSummary, progress: Progress | None) -> None:
        """Start the clock."""
        self.summary = summary
        self.progress = progress
        self.lock = threading.Lock()
        self.progress_lock = threading.Lock()
        self.start = time.perf_counter()
        self.last_activity = time.monotonic()
        self.received: set[str] = set()
        self.per_series: dict[str | None, int] = {}
        #: Set when the retrieve must end early (the archive's disk is full).
        self.stop = threading.Event()

    def stored(self, instance: ReceivedInstance) -> None:
        """Count a file the sink accepted."""
        with self.lock:
            if instance.sop_instance_uid in self.received:
                return
            self.received.add(instance.sop_instance_uid)
            self.per_series[instance.series_uid] = self.per_series.get(instance.series_uid, 0) + 1
            self.summary.completed += 1
            self.summary.bytes += instance.size
            if self.summary.first_image_seconds is None:
                self.summary.first_image_seconds = time.perf_counter() - self.start
            self.last_activity = time.monotonic()
        self.report()

    def touch(self, _counts: object = None) -> None:
        """Note activity (a pending response)."""
        self.last_activity = time.monotonic()

    def activity(self) -> float:
        """When the retrieve last progressed (time.monotonic)."""
        return self.last_activity

    def disk_full(self, folder: Path) -> None:
        """A received image could not be kept, the disk is full: stop the retrieve."""
        if self.stop.is_set():
            return
        where = folder.parent if folder.name.startswith("tuipacs-") else folder
        try:
            free = f"{shutil.disk_usage(where).free / 1e6:.1f} MB free"
        except OSError:
            free = "no space left"
        self.error(
            f"the archive's disk is full ({free} on the file system of {where}): free space "
            "there, then retrieve again to fetch the rest"
        )
        self.stop.set()

    def error(self, message: str, exc: DicomError | None = None) -> None:
        """Record an error message (first exception kept)."""
        with self.lock:
            if message not in self.summary.errors:
                self.summary.errors.append(message)
            if exc is not None and self.summary.error is None:
                self.summary.error = exc

    def add(self, failed: int = 0, warning: int = 0) -> None:
        """Add archive-reported failures/warnings."""
        with self.lock:
            self.summary.failed += failed
            self.summary.warning += warning
        self.report()

    def report(self) -> None:
        """Call the progress callback (serialised: never runs twice at once)."""
        if self.progress is None:
            return
        with self.lock:
            s = self.summary
            snapshot = RetrieveProgress(
                s.total,
                s.completed,
                s.failed,
                s.warning,
                s.skipped,
                s.remaining,
                s.bytes,
                time.perf_counter() - self.start,
            )
        with self.progress_lock:
            try:
                self.progress(snapshot)
            except Exception:  # noqa: BLE001 - a progress bug must not stop the transfer
                LOG.exception("progress callback failed")


# --------------------------------------------------------------------------- planning


_ROW_TAGS = frozenset({_SOP_CLASS, _SOP_INSTANCE, _SERIES})


def _parse_row(raw: bytes, explicit: bool, series_uid: str | None) -> _Instance | None:
    """An instance from a raw C-FIND identifier (minimal reader, pydicom as fallback)."""
    try:
        values, _ = scan_elements(raw, explicit, _ROW_TAGS)
        row = {
            tag: value.decode("ascii", "replace").rstrip("\x00 ") for tag, value in values.items()
        }
    except (ValueError, UnicodeError):
        ds = decode(BytesIO(raw), not explicit, True)
        row = {
            _SOP_CLASS: str(ds.get("SOPClassUID", "") or ""),
            _SOP_INSTANCE: str(ds.get("SOPInstanceUID", "") or ""),
            _SERIES: str(ds.get("SeriesInstanceUID", "") or ""),
        }
    uid = row.get(_SOP_INSTANCE, "")
    if not uid:
        return None
    return _Instance(uid, row.get(_SOP_CLASS, ""), row.get(_SERIES) or series_uid or "")


def _image_query(study_uid: str, series_uid: str | None) -> Dataset:
    """The IMAGE-level C-FIND identifier listing a study (or one series)."""
    query = Dataset()
    query.QueryRetrieveLevel = "IMAGE"
    query.StudyInstanceUID = study_uid
    query.SeriesInstanceUID = series_uid or ""
    query.SOPInstanceUID = ""
    query.SOPClassUID = ""
    return query


def list_instances(
    node: Node, local: LocalAE, study_uid: str, series_uids: Sequence[str] | None
) -> list[_Instance]:
    """IMAGE-level C-FIND of the study (or of each series): SOP UIDs, classes, series.

    Pending responses are read on the fast path (raw identifiers, see fastdul); any
    that take pynetdicom's normal path are decoded by iter_find. A watchdog aborts the
    association after node.timeout seconds of silence.
    """
    model = STUDY_ROOT_FIND
    found: list[_Instance] = []
    target: list[str | None] = [None]

    def on_row(raw: bytes, explicit: bool) -> None:
        instance = _parse_row(raw, explicit, target[0])
        if instance is not None:
            found.append(instance)

    assoc = net.associate(node, local, [build_context(model)], find=on_row)
    done = threading.Event()
    watchdog = threading.Thread(target=_watch_find, args=(assoc, node, done), daemon=True)
    watchdog.start()
    try:
        # the wait for each response ends after node.timeout of silence (see net._get_msg)
        for series_uid in list(series_uids) if series_uids else [None]:
            target[0] = series_uid
            for row in iter_find(assoc, node, _image_query(study_uid, series_uid), model):
                uid = row.get("SOPInstanceUID", "")
                if uid:
                    series = row.get("SeriesInstanceUID") or series_uid or ""
                    found.append(_Instance(uid, row.get("SOPClassUID", ""), series))
    except BaseException:
        net.abort(assoc)
        raise
    finally:
        done.set()
    # pynetdicom's release waits ~10 ms for its reactor to stop: not on our critical path
    threading.Thread(target=net.close, args=(assoc,), name="tuipacs-release", daemon=True).start()
    return found


def _watch_find(assoc: Association, node: Node, done: threading.Event) -> None:
    """Abort a listing association when the archive stays silent for node.timeout."""
    options = options_of(assoc)
    start = time.monotonic()
    while not done.wait(0.25):
        last = max(start, options.last_activity if options is not None else 0.0)
        if time.monotonic() - last > node.timeout:
            LOG.info("no C-FIND response for %.0f s: aborting", node.timeout)
            net.abort(assoc)
            return


def plan_jobs(
    instances: Sequence[_Instance], parallel: int, complete: set[str] | None = None
) -> list[_Job]:
    """Jobs for the missing instances: whole series, or UID lists split for parallelism.

    `complete` names series of which every instance is wanted (SERIES-level request
    when not split).
    """
    by_series: dict[str, list[str]] = {}
    for inst in instances:
        by_series.setdefault(inst.series_uid, []).append(inst.sop_uid)
    jobs: list[_Job] = []
    total = sum(len(u) for u in by_series.values())
    for series_uid, uids in by_series.items():
        pieces = 1
        if parallel > 1 and len(by_series) < parallel:
            share = max(1, round(parallel * len(uids) / max(total, 1)))
            pieces = max(1, min(share, len(uids) // MIN_SPLIT))
        size = min(MAX_UIDS_PER_REQUEST, -(-len(uids) // pieces))
        whole = size >= len(uids) and series_uid in (complete or set()) and bool(series_uid)
        for start in range(0, len(uids), size):
            jobs.append(_Job(series_uid, uids[start : start + size], whole))
    jobs.sort(key=lambda j: -j.expected)
    return jobs


@dataclass
class _QuickPlan:
    """What a STUDY- and SERIES-level query tell: SOP classes, instances per series."""

    sop_classes: list[str]
    series: dict[str, int]


def quick_plan(
    node: Node, local: LocalAE, study_uid: str, series_uids: Sequence[str] | None
) -> _QuickPlan | None:
    """SOP classes and per-series counts without listing instances; None if unknown.

    None when the archive does not return SOPClassesInStudy or a series' count (then
    the caller lists instances). An empty `series` means the study is unknown.
    """
    model = STUDY_ROOT_FIND
    study = Dataset()
    study.QueryRetrieveLevel = "STUDY"
    study.StudyInstanceUID = study_uid
    study.SOPClassesInStudy = ""
    series = Dataset()
    series.QueryRetrieveLevel = "SERIES"
    series.StudyInstanceUID = study_uid
    series.SeriesInstanceUID = ""
    series.NumberOfSeriesRelatedInstances = ""
    with net.association(node, local, [build_context(model)]) as assoc:
        studies = list(iter_find(assoc, node, study, model))
        if not studies:
            return _QuickPlan([], {})
        classes = [c for c in studies[0].get("SOPClassesInStudy", "").split("\\") if c]
        if len(studies) != 1 or not classes:
            return None
        rows = list(iter_find(assoc, node, series, model))
    counts: dict[str, int] = {}
    for row in rows:
        uid, count = row.get("SeriesInstanceUID", ""), row.get("NumberOfSeriesRelatedInstances", "")
        if not uid or not count.strip().isdigit():
            return None
        if not series_uids or uid in series_uids:
            counts[uid] = int(count)
    if series_uids and set(series_uids) - set(counts):
        return None  # a series we were asked for is not listed: let the listing decide
    return _QuickPlan(classes, {uid: n for uid, n in counts.items() if n > 0})


def _whole_series_jobs(plan: _QuickPlan) -> list[_Job]:
    """One SERIES-level job per series, largest first."""
    jobs = [_Job(uid, [], True, count) for uid, count in plan.series.items()]
    jobs.sort(key=lambda j: -j.expected)
    return jobs


def _identifier(study_uid: str, job: _Job) -> Dataset:
    """The C-GET/C-MOVE identifier of a job."""
    ds = Dataset()
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = job.series_uid
    if job.whole:
        ds.QueryRetrieveLevel = "SERIES"
        return ds
    ds.QueryRetrieveLevel = "IMAGE"
    ds.SOPInstanceUID = job.uids if len(job.uids) > 1 else job.uids[0]
    return ds


# --------------------------------------------------------------------------- C-MOVE receiver


class MoveReceiver:
    """Our Storage SCP for C-MOVE, shared by retrieves: routes files by SOP Instance UID.

    Each retrieve registers a StoreHandler with the UIDs it expects; a file nobody
    expects goes to the only registered handler, else to `default` (if any), else it
    is refused (0xA700).
    """

    def __init__(
        self,
        local: LocalAE,
        default: StoreHandler | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Describe the receiver; start() listens on local.bind_host:local.port (TLS only
        with an ssl_context: for nodes with tls = true)."""
        self.local = local
        self.default = default
        self._routes: dict[str, StoreHandler] = {}
        self._studies: dict[str, StoreHandler] = {}
        self._handlers: list[StoreHandler] = []
        self._lock = threading.Lock()
        self._server = StorageServer(local, StoreHandler(self._refuse), ssl_context=ssl_context)
        self._server.handler = self  # type: ignore[assignment]

    def _refuse(self, path: Path, instance: ReceivedInstance) -> None:
        """Sink of last resort: nobody expects this instance."""
        raise OSError(f"no retrieve expects instance {instance.sop_instance_uid}")

    def start(self) -> MoveReceiver:
        """Start listening (ReceiverError if the port is taken)."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop listening and clean the spool folder."""
        self._server.stop()

    @property
    def port(self) -> int:
        """The port actually bound."""
        return self._server.port

    def register(
        self, handler: StoreHandler, uids: Sequence[str], study_uids: Sequence[str] = ()
    ) -> None:
        """Route these SOP Instance UIDs, instances of these studies (and strays, if
        alone) to handler."""
        with self._lock:
            self._handlers.append(handler)
            for uid in uids:
                self._routes[uid] = handler
            for uid in study_uids:
                self._studies[uid] = handler

    def unregister(self, handler: StoreHandler) -> None:
        """Forget a retrieve's routes."""
        with self._lock:
            self._handlers = [h for h in self._handlers if h is not handler]
            self._routes = {k: v for k, v in self._routes.items() if v is not handler}
            self._studies = {k: v for k, v in self._studies.items() if v is not handler}

    def _route(self, sop_uid: str, study_uid: str | None = None) -> StoreHandler | None:
        """The handler for an incoming instance (by SOP Instance UID, then study)."""
        with self._lock:
            handler = self._routes.get(sop_uid)
            if handler is None and study_uid:
                handler = self._studies.get(study_uid)
            if handler is None and len(self._handlers) == 1:
                handler = self._handlers[0]
        return handler or self.default

    def store(self, request: StoreRequest) -> int:
        """Store callback (the transport's, see StorageServer): route then store."""
        handler = self._route(request.sop_instance_uid, request.study_uid)
        if handler is None:
            return 0xA700
        return handler.store(request)


# --------------------------------------------------------------------------- workers


class _Retrieval:
    """One retrieve run: workers, monitor and shared state."""

    def __init__(
        self,
        node: Node,
        local: LocalAE,
        study_uid: str,
        method: Method,
        state: _State,
        handler: StoreHandler,
        cancel: threading.Event,
        spool: Path,
    ) -> None:
        """Keep the run's settings."""
        self.node = node
        self.local = local
        self.study_uid = study_uid
        self.method = method
        self.state = state
        self.handler = handler
        self.cancel = cancel
        self.spool = spool
        self.jobs: queue.Queue[_Job] = queue.Queue()
        self.active: dict[int, _Active] = {}
        self.active_lock = threading.Lock()
        self.msg_ids = itertools.count(1)
        self.done = threading.Event()
        #: Set when the retrieve must end early (the archive's disk is full): C-CANCEL.
        self.stop = state.stop
        self.sop_classes: list[str] = []

    @property
    def model(self) -> str:
        """The retrieve information model UID."""
        if self.method == "move":
            return STUDY_ROOT_MOVE
        return STUDY_ROOT_GET

    def run(self, jobs: Sequence[_Job]) -> None:
        """Run all jobs on up to node.parallel associations; watch them."""
        for job in jobs:
            self.jobs.put(job)
        workers = [
            threading.Thread(target=self._worker, name=f"tuipacs-retrieve-{i}", daemon=True)
            for i in range(max(1, min(self.node.parallel, len(jobs))))
        ]
        monitor = threading.Thread(target=self._monitor, name="tuipacs-monitor", daemon=True)
        monitor.start()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        self.done.set()
        monitor.join()
        leftover = 0
        while not self.jobs.empty():
            leftover += self.jobs.get().expected
        if leftover and not self.cancel.is_set():
            self.state.add(failed=leftover)

    def _associate(self) -> Association:
        """Open an association for our method (storage contexts for C-GET)."""
        contexts = [build_context(self.model)]
        roles: list[Any] = []
        if self.method == "get":
            storage, roles = storage_contexts(self.sop_classes or COMMON_STORAGE_CLASSES)
            contexts += storage
        assoc = net.associate(
            self.node,
            self.local,
            contexts,
            ext_neg=roles,
            spool=self.spool,
            handlers=[],
            store=self.handler.store if self.method == "get" else None,
            pending=self.state.touch,
        )
        options = options_of(assoc)
        if options is not None:  # images a C-MOVE brings elsewhere count as activity too
            options.activity = self.state.activity
        return assoc

    def _worker(self) -> None:
        """Take jobs until none are left, cancelled, or the association dies."""
        assoc: Association | None = None
        try:
            while not self.cancel.is_set() and not self.stop.is_set():
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    return
                if assoc is None or not assoc.is_established:
                    assoc = self._associate()
                if not self._run_job(assoc, job):
                    return
        except DicomNetError as exc:
            self.state.error(str(exc), exc)
        except Exception as exc:  # noqa: BLE001 - reported in the summary, never raised
            LOG.exception("retrieve worker failed")
            self.state.error(f"retrieve failed: {exc}")
        finally:
            if assoc is not None:
                net.close(assoc)

    def _run_job(self, assoc: Association, job: _Job) -> bool:
        """Send one C-GET/C-MOVE and follow its responses; False if the association died."""
        msg_id = next(self.msg_ids) % 65536 or 1
        context = context_id(assoc, self.model)
        identifier = _identifier(self.study_uid, job)
        # a DIMSE wait ends after node.timeout of silence (net._get_msg); the monitor also
        # aborts then, and its abort wakes the waiting thread
        assoc.dimse_timeout = self.node.timeout
        key = id(assoc)
        with self.active_lock:
            self.active[key] = _Active(assoc, msg_id, context)
        try:
            if self.method == "move":
                responses = assoc.send_c_move(
                    identifier, self.local.ae_title, self.model, msg_id=msg_id
                )
            else:
                responses = assoc.send_c_get(identifier, self.model, msg_id=msg_id)
            final = None
            for status, _identifier_ds in responses:
                self.state.touch()
                if "Status" in status and describe(int(status.Status)).category == PENDING:
                    continue
                final = status
        finally:
            with self.active_lock:
                self.active.pop(key, None)
        return self._finish_job(assoc, job, final)

    def _finish_job(self, assoc: Association, job: _Job, final: Dataset | None) -> bool:
        """Account for a job's final response; False if the association is gone."""
        if final is None or "Status" not in final:
            self.state.add(failed=self._unreceived(job))
            if not self.cancel.is_set() and not self.stop.is_set():
                self.state.error(
                    f"{self.node.name}: the association was aborted or timed out during "
                    "the transfer; retrieve again to fetch what is missing"
                )
            return False
        info = describe(int(final.Status))
        failed = int(final.get("NumberOfFailedSuboperations", 0) or 0)
        warning = int(final.get("NumberOfWarningSuboperations", 0) or 0)
        self.state.add(failed=failed, warning=warning)
        if info.category == FAILURE and not self.stop.is_set():
            self._job_failure(info.code, info.line(), job, failed)
        elif info.category == WARNING and failed and not self.stop.is_set():
            self.state.error(f"{self.node.name}: {failed} instance(s) failed: {info.line()}")
        elif info.category == CANCEL and not self.stop.is_set():
            self.cancel.set()
        return assoc.is_established

    def _unreceived(self, job: _Job) -> int:
        """Instances of a job that did not arrive."""
        with self.state.lock:
            if job.count is not None:
                return max(0, job.count - self.state.per_series.get(job.series_uid, 0))
            return sum(1 for uid in job.uids if uid not in self.state.received)

    def _job_failure(self, code: int, line: str, job: _Job, failed: int) -> None:
        """Record a failed C-GET/C-MOVE with advice."""
        missing = self._unreceived(job)
        if missing > failed:
            self.state.add(failed=missing - failed)
        if code == 0xA801:
            message = (
                f"{self.node.name} does not know our AE title {self.local.ae_title!r} as a move "
                f"destination (0xA801): add it with our host and port {self.local.port} to the "
                "archive's list of modalities, or use C-GET"
            )
            self.state.error(message, MoveDestinationUnknown(message, code))
            return
        if self.method == "move" and missing == job.expected:
            self.state.error(
                f"{self.node.name}: C-MOVE failed and nothing arrived ({line}): the archive "
                f"may not know our AE title {self.local.ae_title!r} or cannot connect to our "
                f"port {self.local.port}; check its modality entry for our AE (host and port), "
                "use C-GET, or an SSH reverse tunnel"
            )
            return
        self.state.error(f"{self.node.name}: retrieve failed: {line}")

    def _monitor(self) -> None:
        """Send C-CANCEL on cancel, abort after a grace period or on a silent peer."""
        while not self.done.wait(0.1):
            now = time.monotonic()
            with self.active_lock:
                active = list(self.active.values())
            for item in active:
                self._watch(item, now)

    def _watch(self, item: _Active, now: float) -> None:
        """Cancel/abort one request in flight if needed."""
        if (self.cancel.is_set() or self.stop.is_set()) and item.cancel_sent is None:
            item.cancel_sent = now
            try:
                item.assoc.send_c_cancel(item.msg_id, item.context_id)
            except Exception:  # noqa: BLE001 - abort below if the cancel cannot be sent
                net.abort(item.assoc)
            return
        grace = min(CANCEL_GRACE, self.node.timeout)
        if item.cancel_sent is not None and now - item.cancel_sent > grace:
            LOG.info("archive ignored C-CANCEL for %.0f s: aborting", grace)
            net.abort(item.assoc)
            return
        silent = now - max(self.state.last_activity, self._activity(item))
        if silent > self.node.timeout:
            self.state.error(
                f"{self.node.name} sent nothing for {self.node.timeout:.0f} s: aborted; retrieve "
                "again later or raise the node's timeout"
            )
            net.abort(item.assoc)

    @staticmethod
    def _activity(item: _Active) -> float:
        """Last activity seen on the association's fast path."""
        options = options_of(item.assoc)
        return options.last_activity if options is not None else 0.0


# --------------------------------------------------------------------------- entry point


def retrieve(
    node: Node,
    local: LocalAE,
    study_uid: str,
    sink: Sink,
    series_uids: Sequence[str] | None = None,
    method: Method | None = None,
    have: Have | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    receiver: MoveReceiver | None = None,
    have_any: HaveAny | None = None,
) -> RetrieveSummary:
    """Retrieve a study (or the given series) from `node` into `sink`.

    `method` defaults to node.method. `have(sop_uid)` says an instance is already
    stored (skipped). `have_any(study_uid)` says whether anything of the study is
    stored: if not (or if `have` is None) the instances are not listed one by one and
    whole series are requested at once (faster start). `progress` is called
    (serialised, from worker threads) after each change. Setting `cancel` sends
    C-CANCEL and aborts after a grace period. For C-MOVE a temporary receiver
    listens on local.port unless `receiver` (a running MoveReceiver) is given. Never
    raises DicomNetError: see summary.errors.
    """
    how: Method = method or node.method
    summary = RetrieveSummary(study_uid=study_uid, method=how)
    state = _State(summary, progress)
    cancel = cancel or threading.Event()
    try:
        plan: _QuickPlan | list[_Instance] | None = None
        if have is None or (have_any is not None and not have_any(study_uid)):
            plan = quick_plan(node, local, study_uid, series_uids)
        if plan is None:
            plan = list_instances(node, local, study_uid, series_uids)
    except DicomError as exc:
        state.error(str(exc), exc)
        summary.seconds = time.perf_counter() - state.start
        return summary
    try:
        if isinstance(plan, _QuickPlan):
            _run_quick(node, local, study_uid, how, sink, plan, state, cancel, receiver)
        else:
            _run(node, local, study_uid, how, sink, plan, have, state, cancel, receiver)
    except DicomError as exc:  # e.g. the C-MOVE receiver cannot listen
        state.error(str(exc), exc)
    summary.cancelled = cancel.is_set() and summary.remaining > 0
    summary.seconds = time.perf_counter() - state.start
    return summary


def _run_quick(
    node: Node,
    local: LocalAE,
    study_uid: str,
    method: Method,
    sink: Sink,
    plan: _QuickPlan,
    state: _State,
    cancel: threading.Event,
    receiver: MoveReceiver | None,
) -> None:
    """Run whole-series jobs planned from counts (nothing stored locally)."""
    state.summary.total = sum(plan.series.values())
    state.report()
    if not plan.series:
        state.error(f"{node.name} lists no instances for study {study_uid}: check the UID")
        return
    handler = StoreHandler(sink, on_stored=state.stored, on_disk_full=state.disk_full)
    with _receiving(node, local, method, receiver, handler, [], [study_uid]) as spool:
        run = _Retrieval(node, local, study_uid, method, state, handler, cancel, spool)
        run.sop_classes = plan.sop_classes
        run.run(_whole_series_jobs(plan))


@contextlib.contextmanager
def _receiving(
    node: Node,
    local: LocalAE,
    method: Method,
    receiver: MoveReceiver | None,
    handler: StoreHandler,
    uids: Sequence[str],
    study_uids: Sequence[str],
) -> Iterator[Path]:
    """A spool folder, and for C-MOVE a receiver routing our instances to `handler` (over
    TLS for a node with tls = true: the archive connects back the way we reach it)."""
    spool = net.spool_folder(local)
    own_receiver: MoveReceiver | None = None
    try:
        if method == "move" and receiver is None:
            context = tls.receiver_context(local.tls) if node.tls else None
            own_receiver = receiver = MoveReceiver(local, ssl_context=context).start()
        if receiver is not None and method == "move":
            receiver.register(handler, uids, study_uids)
        yield spool
    finally:
        if receiver is not None:
            receiver.unregister(handler)
        if own_receiver is not None:
            own_receiver.stop()
        shutil.rmtree(spool, ignore_errors=True)


def _run(
    node: Node,
    local: LocalAE,
    study_uid: str,
    method: Method,
    sink: Sink,
    instances: list[_Instance],
    have: Have | None,
    state: _State,
    cancel: threading.Event,
    receiver: MoveReceiver | None,
) -> None:
    """Plan and run the jobs; C-MOVE receiver and spool folder set up and torn down."""
    summary = state.summary
    summary.total = len(instances)
    wanted = [i for i in instances if have is None or not have(i.sop_uid)]
    summary.skipped = summary.total - len(wanted)
    state.report()
    if not instances:
        state.error(f"{node.name} lists no instances for study {study_uid}: check the UID")
        return
    if not wanted:
        return
    where = {i.sop_uid: (study_uid, i.series_uid) for i in instances}
    handler = StoreHandler(
        sink, lookup=where.get, on_stored=state.stored, on_disk_full=state.disk_full
    )
    with _receiving(
        node, local, method, receiver, handler, [i.sop_uid for i in wanted], []
    ) as spool:
        run = _Retrieval(node, local, study_uid, method, state, handler, cancel, spool)
        run.sop_classes = sorted({i.sop_class for i in instances if i.sop_class})
        wanted_uids = {i.sop_uid for i in wanted}
        complete = {i.series_uid for i in instances} - {
            i.series_uid for i in instances if i.sop_uid not in wanted_uids
        }
        run.run(plan_jobs(wanted, node.parallel, complete))
