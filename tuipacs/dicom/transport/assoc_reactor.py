"""The association reactor of pynetdicom 3.0, with its pause race closed.

pynetdicom's ``Association._run_reactor`` takes complete DIMSE messages off the queue and
serves them as requests. Before ``send_c_find`` (and the other ``send_*`` methods) send a
request, they clear ``_reactor_checkpoint`` and wait until ``_is_paused`` is true, so the
reactor cannot take the responses. But the reactor sets ``_is_paused = True`` *before*
waiting on the checkpoint and false only after: a sender that clears the checkpoint just as
the reactor passes it sees the stale ``True``, sends, and the reactor then takes the first
response off the queue and drops it (it is not a request). With a fast peer on loopback
this lost the only pending C-FIND response of about 1 query in 30 under load (a series
that "lists no instances"); pynetdicom's own 1 ms sleeps merely make it rarer.

Here the reactor checks the checkpoint again after clearing ``_is_paused``: a sender that
read the stale flag had cleared the checkpoint before, so the reactor goes back to wait
instead of touching the queue. Everything else is pynetdicom's loop as it is.
"""

from __future__ import annotations

import logging
import time
import types
from typing import cast

from pynetdicom import evt
from pynetdicom.association import Association

LOG = logging.getLogger("pynetdicom.assoc")

#: Idle sleep between two turns of the loop (pynetdicom's value).
_TURN = 0.001


def _run_reactor(self: Association) -> None:
    """pynetdicom's Association._run_reactor with the pause checked twice (see module)."""
    self._is_paused = False
    while not self._kill:
        time.sleep(_TURN)
        self._is_paused = True
        self._reactor_checkpoint.wait()
        self._is_paused = False
        if not self._reactor_checkpoint.is_set():
            continue  # a send_*() paused us while we passed the checkpoint: back to waiting
        context_id, msg = self.dimse.get_msg(block=False)
        if msg:
            self._serve_request(msg, cast(int, context_id))
        if _ended(self):
            return


def _ended(self: Association) -> bool:
    """Release, abort, a dead DUL or the network timeout: end the association (True)."""
    if self.is_established and self.acse.is_release_requested():
        self.acse.send_release(is_response=True)
        LOG.info("Association Released")
        self.is_released = True
        self.is_established = False
        evt.trigger(self, evt.EVT_RELEASED, {})
        self.kill()
        return True
    if self.acse.is_aborted():
        LOG.info(
            "Association Aborted" + (" (A-P-ABORT)" if self.acse.is_aborted("a-p-abort") else "")
        )
        self.dul.receive_pdu(wait=False)  # EVT_ACSE_RECV fires for subscribers
        self.is_aborted = True
        self.is_established = False
        evt.trigger(self, evt.EVT_ABORTED, {})
        self.kill()
        return True
    if not self.dul.is_alive():
        self.kill()
        return True
    if self.dul.idle_timer_expired():
        LOG.error("Network timeout reached")
        if self.network_timeout_response == "A-RELEASE":
            self._is_paused = True
            self._reactor_checkpoint.wait()
            self.release()
            self._is_paused = False
        else:
            self.abort()
        self.kill()
        return True
    return False


def install(assoc: Association) -> None:
    """Give a (not yet started) association the checked reactor."""
    assoc._run_reactor = types.MethodType(_run_reactor, assoc)  # type: ignore[method-assign]
