"""tuipacs' DICOM transport: everything that subclasses or patches pynetdicom lives here.

pynetdicom (>= 3.0, < 3.1: this package uses its private names) does the DICOM work; this
package makes it safe against hostile peers and, on the *fast* transport, quick. One switch
selects the transport, read once per association by :func:`selected` (mode.py)::

    TUIPACS_TRANSPORT=fast   (default) FastDUL reactor, fast paths, streamed sending
    TUIPACS_TRANSPORT=stock  pynetdicom's own DUL reactor, DIMSE layer and send_c_store

Safety (always on, both transports)
-----------------------------------
* PDU lengths are checked before anything is allocated (P-DATA-TF against the Maximum
  Length we advertise, 1 MiB for other PDUs), and a read never blocks the reactor: PDUs are
  assembled by :class:`~.wire.PduReader` from what the socket has, so ARTIM, the network
  timeout, the request timeout and kill always fire (:mod:`.wire`, :mod:`.safe_dul`);
* DIMSE messages are bounded before pynetdicom sees them, and a request we cannot serve
  (command set too long, invalid SOP UIDs, dataset too long) gets a failure status
  instead of an abort (:mod:`.guard`);
* a connection that sends no complete A-ASSOCIATE-RQ in time, or no DICOM at all, is
  closed (:mod:`.safe_dul`);
* no thread waits for a DIMSE message forever; an abort wakes the waiting thread
  (:mod:`.waits`); pynetdicom's association reactor cannot steal a response from a
  send_*() call (:mod:`.assoc_reactor`);
* TLS handshakes run on the connection's thread with a deadline, never in the accept loop
  (:mod:`.sockets`, tuning.TunedRequestHandler);
* pynetdicom's own C-STORE receive writes to a spool file of the association; a write error
  (full disk) answers 0xA700 and the association goes on (:mod:`.chunked`).

Tuning a careful user of pynetdicom applies (both transports): TCP_NODELAY, chunked receive
and send (files on disk, never decoded on receive), pynetdicom's per-PDU log handlers
unbound, a short DUL loop delay (tuning.STOCK_LOOP_DELAY), a 4 MiB maximum PDU by default.

Speed (fast transport only)
---------------------------
* FastDUL's reactor waits in select() on the socket and a wake-up socket instead of
  sleeping between turns (:mod:`.fast_dul`);
* C-STOREs are written from the receive buffer to a spool file and answered without
  pydicom; pending C-GET/C-MOVE and C-FIND responses go straight to callbacks
  (:mod:`.fastpath`);
* archived files are sent for C-GET/C-MOVE as stored, not decoded and encoded again
  (:mod:`.stored_send`); servers copy their presentation contexts cheaply
  (:mod:`.contexts`).

What the stock transport does differently (still safe)
-------------------------------------------------------
* C-STOREs arrive through pynetdicom's EVT_C_STORE (its DIMSE layer decodes each command
  set with pydicom); a retrieve's progress and silence watch come from responses and
  received bytes instead of the fast callbacks;
* archived files are decoded with pydicom and encoded again by pynetdicom's send_c_store;
  a file pydicom cannot read fails its sub-operation;
* it reads PDUs with our bounded reader, not pynetdicom's blocking 4 KiB reads (a safety
  bound, so "stock" is pynetdicom's reactor, DIMSE layer and sending, not its socket reads).

Measured gain
-------------
See scripts/bench_retrieve.py (figures in the last section of this docstring once
measured).
"""

from __future__ import annotations

from tuipacs.dicom.transport.chunked import store_handler, store_request
from tuipacs.dicom.transport.codec import scan_elements
from tuipacs.dicom.transport.contexts import copy_context
from tuipacs.dicom.transport.links import (
    PeerNotes,
    context_id,
    options_of,
    peer_notes,
    wake_acceptor,
)
from tuipacs.dicom.transport.mode import MODES, VARIABLE, Mode, selected
from tuipacs.dicom.transport.options import FindCallback, LinkOptions, PendingCallback
from tuipacs.dicom.transport.sockets import TunedServer
from tuipacs.dicom.transport.spool import StoreCallback, StoreRequest, disk_full
from tuipacs.dicom.transport.stored_send import StoredRef, sendable
from tuipacs.dicom.transport.tuning import TunedAE, configure, make_server
from tuipacs.dicom.transport.waits import abort
from tuipacs.dicom.transport.wire import (
    DEFAULT_MAX_PDU,
    MAX_COMMAND,
    MAX_CONTROL_PDU,
    MAX_MESSAGE_DATASET,
    REQUEST_TIMEOUT,
)

__all__ = [
    "DEFAULT_MAX_PDU",
    "MAX_COMMAND",
    "MAX_CONTROL_PDU",
    "MAX_MESSAGE_DATASET",
    "MODES",
    "REQUEST_TIMEOUT",
    "VARIABLE",
    "FindCallback",
    "LinkOptions",
    "Mode",
    "PeerNotes",
    "PendingCallback",
    "StoreCallback",
    "StoreRequest",
    "StoredRef",
    "TunedAE",
    "TunedServer",
    "abort",
    "configure",
    "context_id",
    "copy_context",
    "disk_full",
    "make_server",
    "options_of",
    "peer_notes",
    "scan_elements",
    "selected",
    "sendable",
    "store_handler",
    "store_request",
    "wake_acceptor",
]
