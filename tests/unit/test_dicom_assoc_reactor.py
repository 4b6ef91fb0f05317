"""The association reactor never takes a response a send_*() call is waiting for.

pynetdicom's reactor sets ``_is_paused`` before waiting on its checkpoint: a sender that
pauses it just as it passes the checkpoint reads the stale flag, sends its request, and the
reactor takes the response off the queue (and drops it). This plays that interleaving.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from pynetdicom.association import Association

from tuipacs.dicom.transport import assoc_reactor


class _PausedJustAfter(threading.Event):
    """A checkpoint that a sender clears right after the reactor's wait() returned."""

    def wait(self, timeout: float | None = None) -> bool:
        passed = super().wait(timeout)
        self.clear()  # the sender: checkpoint cleared, _is_paused still reads True
        return passed


def _fake_association(checkpoint: threading.Event) -> Any:
    taken: list[object] = []
    assoc = SimpleNamespace(
        _kill=False,
        _is_paused=False,
        _reactor_checkpoint=checkpoint,
        is_established=True,
        acse=SimpleNamespace(is_release_requested=lambda: False, is_aborted=lambda *a: False),
        dul=SimpleNamespace(is_alive=lambda: True, idle_timer_expired=lambda: False),
        dimse=SimpleNamespace(get_msg=lambda block=False: (1, "C-FIND-RSP (pending)")),
        _serve_request=lambda msg, cx: taken.append(msg),
        kill=lambda: None,
    )
    return assoc, taken


@pytest.mark.parametrize(
    ("reactor", "steals"),
    [(assoc_reactor._run_reactor, False), (Association._run_reactor, True)],
    ids=["ours", "pynetdicom"],
)
def test_reactor_paused_as_it_passes_the_checkpoint(reactor: Any, steals: bool) -> None:
    checkpoint = _PausedJustAfter()
    checkpoint.set()
    assoc, taken = _fake_association(checkpoint)
    thread = threading.Thread(target=reactor, args=(assoc,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not assoc._is_paused and time.monotonic() < deadline:
        time.sleep(0.001)  # the reactor waits on the checkpoint the sender cleared
    time.sleep(0.05)
    assoc._kill = True
    checkpoint.set()
    thread.join(5)
    # pynetdicom's own loop is checked too, so this test notices if a release fixes it
    assert bool(taken) is steals
