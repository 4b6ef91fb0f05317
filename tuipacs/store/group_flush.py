"""Group commit: one flush makes every file waiting at that moment durable.

Several threads (the server's associations) each need their own file durable before they
answer. :meth:`GroupFlush.wait` adds the file to the next flush and returns only once a
flush that included it has finished. One caller at a time flushes (the *leader*: the first
to find no flush running) and takes every file waiting at that moment; the others wait
for it, or lead the next flush for the files that arrived meanwhile. With one sender each
file is flushed on its own, as before; with several, the flush floor is shared.

A failed flush raises its OSError in every caller whose file it held.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from pathlib import Path

#: Makes the given files durable (raises OSError when it cannot).
Flush = Callable[[list[Path]], None]


class GroupFlush:
    """Flushes of files, shared by the callers waiting at the same time."""

    def __init__(self, flush: Flush) -> None:
        """``flush`` makes a list of files durable (e.g. fsyncs them and their folder)."""
        self._flush = flush
        self._cond = threading.Condition()
        self._waiting: list[Path] = []
        self._flushing = False
        self._next = 1  # the number of the flush that will take the files waiting now
        self._done = 0  # the number of the last flush finished
        self._failed: dict[int, OSError] = {}
        #: Flushes done, and the files they covered (for the benchmarks and tests).
        self.flushes = 0
        self.files = 0

    def wait(self, path: Path) -> None:
        """Return once ``path`` is durable (a flush that included it finished); raise the
        flush's OSError if that flush failed."""
        with self._cond:
            self._waiting.append(path)
            mine = self._next
            while self._done < mine:
                if not self._flushing:
                    batch, self._waiting = self._waiting, []
                    self._flushing = True
                    self._next += 1
                    break
                self._cond.wait()
            else:
                failure = self._failed.get(mine)
                if failure is not None:
                    raise failure
                return
        self._lead(mine, batch)

    def _lead(self, number: int, batch: list[Path]) -> None:
        """Flush ``batch`` (flush number ``number``) and wake its waiters."""
        failure: OSError | None = None
        unexpected: BaseException | None = None
        try:
            self._flush(batch)
        except OSError as exc:
            failure = exc
        except BaseException as exc:  # a bug: its waiters fail too, none waits for ever
            unexpected = exc
            failure = OSError(errno.EIO, f"flush failed: {exc!r}")
        with self._cond:
            self._flushing = False
            self._done = number
            self.flushes += 1
            self.files += len(batch)
            if failure is not None:
                self._failed[number] = failure
                for old in [n for n in self._failed if n < number - 64]:
                    del self._failed[old]
            self._cond.notify_all()
        if unexpected is not None:
            raise unexpected
        if failure is not None:
            raise failure
