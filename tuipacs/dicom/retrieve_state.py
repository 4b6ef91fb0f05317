"""What a retrieve reports (progress, summary) and the counters its threads share."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tuipacs.dicom.errors import DicomError
from tuipacs.dicom.storage import ReceivedInstance

LOG = logging.getLogger(__name__)


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


class RetrieveState:
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
