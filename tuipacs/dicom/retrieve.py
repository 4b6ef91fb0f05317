"""Retrieve a study (or some series) by C-GET or C-MOVE, straight to a sink.

Plan: when nothing of the study is stored locally (no ``have``, or ``have_any`` says
so), a STUDY- and a SERIES-level C-FIND (one row per series) give the SOP classes and
instance counts, and whole series are requested at once (one job per series). Else, or
when the archive does not return SOPClassesInStudy and the counts, an IMAGE-level C-FIND
lists the study's instances (SOP class, series); instances the caller already has
(``have``) are skipped; the rest is split into jobs (whole series, or UID lists for
partial or big series); see retrieve_plan. Jobs run on ``node.parallel`` associations
(retrieve_run). Received files go to the sink undecoded (see storage and the transport).
Cancel sends C-CANCEL, then aborts after a grace period. Errors end up in the summary,
never as exceptions.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tuipacs.dicom import net, tls
from tuipacs.dicom.errors import DicomError
from tuipacs.dicom.move_receiver import MoveReceiver
from tuipacs.dicom.nodes import LocalAE, Method, Node
from tuipacs.dicom.retrieve_plan import (
    Instance,
    QuickPlan,
    list_instances,
    plan_jobs,
    quick_plan,
    whole_series_jobs,
)
from tuipacs.dicom.retrieve_run import Retrieval
from tuipacs.dicom.retrieve_state import (
    Progress,
    RetrieveProgress,
    RetrieveState,
    RetrieveSummary,
)
from tuipacs.dicom.storage import Sink, StoreHandler

__all__ = [
    "Have",
    "HaveAny",
    "MoveReceiver",
    "Progress",
    "RetrieveProgress",
    "RetrieveSummary",
    "list_instances",
    "plan_jobs",
    "quick_plan",
    "retrieve",
]

Have = Callable[[str], bool]
#: has_any(study_uid): True if any instance of the study is stored locally.
HaveAny = Callable[[str], bool]


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
    state = RetrieveState(summary, progress)
    cancel = cancel or threading.Event()
    try:
        plan: QuickPlan | list[Instance] | None = None
        if have is None or (have_any is not None and not have_any(study_uid)):
            plan = quick_plan(node, local, study_uid, series_uids)
        if plan is None:
            plan = list_instances(node, local, study_uid, series_uids)
    except DicomError as exc:
        state.error(str(exc), exc)
        summary.seconds = time.perf_counter() - state.start
        return summary
    try:
        if isinstance(plan, QuickPlan):
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
    plan: QuickPlan,
    state: RetrieveState,
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
        run = Retrieval(node, local, study_uid, method, state, handler, cancel, spool)
        run.sop_classes = plan.sop_classes
        run.run(whole_series_jobs(plan))


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
    instances: list[Instance],
    have: Have | None,
    state: RetrieveState,
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
        run = Retrieval(node, local, study_uid, method, state, handler, cancel, spool)
        run.sop_classes = sorted({i.sop_class for i in instances if i.sop_class})
        wanted_uids = {i.sop_uid for i in wanted}
        complete = {i.series_uid for i in instances} - {
            i.series_uid for i in instances if i.sop_uid not in wanted_uids
        }
        run.run(plan_jobs(wanted, node.parallel, complete))
