"""A background thread that only ever works on the most recently submitted job.

Frames requested while an encode is running replace each other; when the encode finishes the
thread picks up the latest one, so a burst of key repeats costs one encode, not one per key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")


class LatestOnlyWorker(Generic[J, R]):
    """Runs ``work(job)`` off the calling thread for the latest job, then ``done(job, result)``.

    ``done`` runs on the worker thread: hand the result to the UI thread from there (for
    Textual, ``post_message`` is thread-safe). Exceptions from ``work`` go to ``failed``.
    """

    def __init__(
        self,
        work: Callable[[J], R],
        done: Callable[[J, R], None],
        failed: Callable[[J, BaseException], None] | None = None,
        name: str = "tuipacs-encoder",
    ) -> None:
        self._work = work
        self._done = done
        self._failed = failed
        self._name = name
        self._cond = threading.Condition()
        self._pending: J | None = None
        self._has_pending = False
        self._stopped = False
        self._busy = False
        self._thread: threading.Thread | None = None

    def submit(self, job: J) -> None:
        """Queue ``job``, replacing any job that has not started yet. Cheap; never blocks long."""
        with self._cond:
            if self._stopped:
                return
            self._pending = job
            self._has_pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    @property
    def idle(self) -> bool:
        """True when nothing is running or waiting."""
        with self._cond:
            return not self._busy and not self._has_pending

    def stop(self, timeout: float = 2.0) -> None:
        """Drop the pending job, let a running one finish, and end the thread."""
        with self._cond:
            self._stopped = True
            self._pending = None
            self._has_pending = False
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _next_job(self) -> list[J]:
        """Wait for the next job: a one-element list, or an empty list once stopped."""
        with self._cond:
            while not self._has_pending and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return []
            job, self._pending, self._has_pending = self._pending, None, False
            self._busy = True
            return [job]  # type: ignore[list-item]

    def _run(self) -> None:
        """Thread body: take the latest job, work, report, repeat."""
        while True:
            jobs = self._next_job()
            if not jobs:
                return
            job = jobs[0]
            try:
                result = self._work(job)
            except Exception as error:  # an encoder bug must not kill the thread
                log.exception("frame encoding failed")
                if self._failed is not None:
                    self._failed(job, error)
            else:
                self._done(job, result)
            finally:
                with self._cond:
                    self._busy = False
