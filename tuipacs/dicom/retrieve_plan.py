"""Planning a retrieve: what the archive holds of a study, and the C-GET/C-MOVE jobs.

When nothing of the study is stored locally, a STUDY- and a SERIES-level C-FIND give the
SOP classes and instance counts (:func:`quick_plan`), and whole series are requested at
once. Else (or when the archive does not return those) an IMAGE-level C-FIND lists the
study's instances (:func:`list_instances`) and :func:`plan_jobs` splits the missing ones
into jobs: whole series, or UID lists for partial or big series.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

from pydicom.dataset import Dataset
from pynetdicom.association import Association
from pynetdicom.dsutils import decode
from pynetdicom.presentation import build_context

from tuipacs.dicom import net
from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.scu import STUDY_ROOT_FIND, iter_find
from tuipacs.dicom.transport import options_of
from tuipacs.elements import scan_elements

LOG = logging.getLogger(__name__)

_SOP_CLASS = 0x00080016
_SOP_INSTANCE = 0x00080018
_SERIES = 0x0020000E

#: Most SOP Instance UIDs sent in one IMAGE-level request.
MAX_UIDS_PER_REQUEST = 500
#: Smallest chunk a big series is split into for parallel associations.
MIN_SPLIT = 16


@dataclass
class Instance:
    """One instance found by the IMAGE-level query."""

    sop_uid: str
    sop_class: str
    series_uid: str


@dataclass
class Job:
    """One C-GET/C-MOVE request: UIDs of one series (sent at SERIES level if whole)."""

    series_uid: str
    uids: list[str]
    whole: bool = False
    count: int | None = None

    @property
    def expected(self) -> int:
        """Instances this job should bring (`count` for a whole series not listed)."""
        return self.count if self.count is not None else len(self.uids)


_ROW_TAGS = frozenset({_SOP_CLASS, _SOP_INSTANCE, _SERIES})


def parse_row(raw: bytes, explicit: bool, series_uid: str | None) -> Instance | None:
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
    return Instance(uid, row.get(_SOP_CLASS, ""), row.get(_SERIES) or series_uid or "")


def image_query(study_uid: str, series_uid: str | None) -> Dataset:
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
) -> list[Instance]:
    """IMAGE-level C-FIND of the study (or of each series): SOP UIDs, classes, series.

    Pending responses are read on the fast path (raw identifiers, see transport.fastpath); any
    that take pynetdicom's normal path are decoded by iter_find. A watchdog aborts the
    association after node.timeout seconds of silence.
    """
    model = STUDY_ROOT_FIND
    found: list[Instance] = []
    target: list[str | None] = [None]

    def on_row(raw: bytes, explicit: bool) -> None:
        instance = parse_row(raw, explicit, target[0])
        if instance is not None:
            found.append(instance)

    assoc = net.associate(node, local, [build_context(model)], find=on_row)
    done = threading.Event()
    watchdog = threading.Thread(target=_watch_find, args=(assoc, node, done), daemon=True)
    watchdog.start()
    try:
        # the wait for each response ends after node.timeout of silence (see transport.waits)
        for series_uid in list(series_uids) if series_uids else [None]:
            target[0] = series_uid
            for row in iter_find(assoc, node, image_query(study_uid, series_uid), model):
                uid = row.get("SOPInstanceUID", "")
                if uid:
                    series = row.get("SeriesInstanceUID") or series_uid or ""
                    found.append(Instance(uid, row.get("SOPClassUID", ""), series))
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
    instances: Sequence[Instance], parallel: int, complete: set[str] | None = None
) -> list[Job]:
    """Jobs for the missing instances: whole series, or UID lists split for parallelism.

    `complete` names series of which every instance is wanted (SERIES-level request
    when not split).
    """
    by_series: dict[str, list[str]] = {}
    for inst in instances:
        by_series.setdefault(inst.series_uid, []).append(inst.sop_uid)
    jobs: list[Job] = []
    total = sum(len(u) for u in by_series.values())
    for series_uid, uids in by_series.items():
        pieces = 1
        if parallel > 1 and len(by_series) < parallel:
            share = max(1, round(parallel * len(uids) / max(total, 1)))
            pieces = max(1, min(share, len(uids) // MIN_SPLIT))
        size = min(MAX_UIDS_PER_REQUEST, -(-len(uids) // pieces))
        whole = size >= len(uids) and series_uid in (complete or set()) and bool(series_uid)
        for start in range(0, len(uids), size):
            jobs.append(Job(series_uid, uids[start : start + size], whole))
    jobs.sort(key=lambda j: -j.expected)
    return jobs


@dataclass
class QuickPlan:
    """What a STUDY- and SERIES-level query tell: SOP classes, instances per series."""

    sop_classes: list[str]
    series: dict[str, int]


def quick_plan(
    node: Node, local: LocalAE, study_uid: str, series_uids: Sequence[str] | None
) -> QuickPlan | None:
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
            return QuickPlan([], {})
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
    return QuickPlan(classes, {uid: n for uid, n in counts.items() if n > 0})


def whole_series_jobs(plan: QuickPlan) -> list[Job]:
    """One SERIES-level job per series, largest first."""
    jobs = [Job(uid, [], True, count) for uid, count in plan.series.items()]
    jobs.sort(key=lambda j: -j.expected)
    return jobs


def job_identifier(study_uid: str, job: Job) -> Dataset:
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
