"""Bounded waits on our associations (safety): no thread waits for a DIMSE message forever.

pynetdicom waits for the next DIMSE message up to ``dimse_timeout`` (or forever when it
is None), even after the association was aborted or its connection closed, and
``Association.abort()`` does not wake a thread that waits. :func:`bounded_get_msg`
(installed as ``assoc.dimse.get_msg`` by tuning.tune_association, both transports) and
:func:`abort` fix both.
"""

from __future__ import annotations

import logging
import queue
import time
from typing import Any

from pynetdicom.association import Association

from tuipacs.dicom.transport.safe_dul import SafeDUL

LOG = logging.getLogger(__name__)

#: How often a thread waiting for a DIMSE message checks the association and the timeout.
_SLICE = 0.2


def bounded_get_msg(assoc: Association, block: bool = False) -> tuple[Any, Any]:
    """dimse.get_msg that never waits for a dead association or a silent peer.

    The wait ends with (None, None) as soon as the DUL has stopped or lost its connection, or
    when nothing arrived for ``dimse_timeout`` seconds: silence, not the time since the
    request, so a long C-GET streaming images never times out while data flows (bytes
    received on the association and, with ``LinkOptions.activity``, elsewhere count).
    """
    dimse = assoc.dimse
    if not block:
        try:
            return dimse.msg_queue.get(block=False)
        except queue.Empty:
            return None, None
    dul = assoc.dul
    options = dul.options if isinstance(dul, SafeDUL) else None
    start = time.monotonic()
    while True:
        try:
            return dimse.msg_queue.get(timeout=_SLICE)
        except queue.Empty:
            pass
        if not dul.is_alive() or dul.state_machine.current_state in ("Sta1", "Sta13"):
            return None, None
        timeout = assoc.dimse_timeout
        if timeout is None:
            continue
        last = start
        if options is not None:
            last = max(last, options.last_activity, options.activity() if options.activity else 0)
        if time.monotonic() - last > timeout:
            LOG.info("no DIMSE message for %.0f s: giving up", timeout)
            return None, None


def abort(assoc: Association) -> None:
    """Abort an association and wake a thread waiting for its next DIMSE message."""
    try:
        assoc.abort()
    except Exception:  # noqa: BLE001 - aborting is best effort
        LOG.debug("abort failed", exc_info=True)
    finally:
        assoc.dimse.msg_queue.put((None, None))
