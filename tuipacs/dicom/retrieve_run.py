"""Running a retrieve's jobs: worker associations, and a monitor for cancel and silence.

Jobs run on ``node.parallel`` associations. Cancel (or a full disk) sends C-CANCEL, then
aborts after a grace period; an archive silent for ``node.timeout`` is aborted. Errors end
up in the shared state (and so in the summary), never as exceptions.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom.association import Association
from pynetdicom.presentation import build_context

from tuipacs.dicom import net
from tuipacs.dicom.errors import DicomNetError, MoveDestinationUnknown
from tuipacs.dicom.nodes import LocalAE, Method, Node
from tuipacs.dicom.retrieve_plan import Job, job_identifier
from tuipacs.dicom.retrieve_state import RetrieveState
from tuipacs.dicom.scu import STUDY_ROOT_GET, STUDY_ROOT_MOVE
from tuipacs.dicom.status import CANCEL, FAILURE, PENDING, WARNING, describe
from tuipacs.dicom.storage import COMMON_STORAGE_CLASSES, StoreHandler, storage_contexts
from tuipacs.dicom.transport import context_id, options_of

LOG = logging.getLogger(__name__)

#: Seconds between C-CANCEL and A-ABORT if the archive keeps going.
CANCEL_GRACE = 5.0


@dataclass
class _Active:
    """A request in flight, watched by the monitor (timeouts, cancel)."""

    assoc: Association
    msg_id: int
    context_id: int
    cancel_sent: float | None = None


class Retrieval:
    """One retrieve run: workers, monitor and shared state."""

    def __init__(
        self,
        node: Node,
        local: LocalAE,
        study_uid: str,
        method: Method,
        state: RetrieveState,
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
        self.jobs: queue.Queue[Job] = queue.Queue()
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

    def run(self, jobs: Sequence[Job]) -> None:
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

    def _run_job(self, assoc: Association, job: Job) -> bool:
        """Send one C-GET/C-MOVE and follow its responses; False if the association died."""
        msg_id = next(self.msg_ids) % 65536 or 1
        context = context_id(assoc, self.model)
        identifier = job_identifier(self.study_uid, job)
        # a DIMSE wait ends after node.timeout of silence (transport.waits); the monitor also
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

    def _finish_job(self, assoc: Association, job: Job, final: Dataset | None) -> bool:
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

    def _unreceived(self, job: Job) -> int:
        """Instances of a job that did not arrive."""
        with self.state.lock:
            if job.count is not None:
                return max(0, job.count - self.state.per_series.get(job.series_uid, 0))
            return sum(1 for uid in job.uids if uid not in self.state.received)

    def _job_failure(self, code: int, line: str, job: Job, failed: int) -> None:
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
