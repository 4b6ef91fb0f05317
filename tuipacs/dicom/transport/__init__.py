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
  set with pydicom, and writes and flushes each fragment to the spool file); the Study and
  Series UIDs are then read from the file's first bytes (chunked.store_request);
* pending C-GET/C-MOVE and C-FIND responses go through pynetdicom's send_c_get/send_c_find
  (identifiers decoded by pydicom); a retrieve's silence watch uses the bytes received;
* archived files are decoded with pydicom and encoded again by pynetdicom's send_c_store
  (one file in memory at a time); a file pydicom cannot read fails its sub-operation;
* it reads PDUs with our bounded reader, not pynetdicom's blocking 4 KiB reads: a safety
  bound, so "stock" is pynetdicom's reactor loop, DIMSE layer and sending, not its reads;
* its reactor polls (tuning.STOCK_LOOP_DELAY, 0.2 ms; 5 ms while an accepted connection has
  not sent its request): idle connections cost CPU. Measured on `tuipacs serve` with 12
  idle associations and 12 silent connections: 0.82 cores on stock, 0.42 on fast (most of
  it pynetdicom's association reactor, which polls every 1 ms on both).

No safety property is lost on stock: every test of tests/net, tests/serve and tests/send
(hostile peers and files, full disks, timers, TLS) passes on both transports
(scripts/test.sh runs them twice).

Measured gain
-------------
``python scripts/bench_retrieve.py --slices 300 --runs 5``: a 300-slice 512x512 CT
(157.9 MB) from a private Orthanc on 127.0.0.1, 2 cores shared with other work, medians
of 5 interleaved runs (seconds):

    path                                        stock    fast   stock/fast
    C-GET into a folder, in process             1.331   0.522   2.55x
    C-GET into a folder, listed first           1.739   0.730   2.38x
    C-GET into the archive, in process          2.497   1.521   1.64x
    C-MOVE into the archive, in process         3.009   1.545   1.95x
    `tuipacs retrieve` C-GET, whole command     2.901   2.218   1.31x
    DCMTK getscu from `tuipacs serve`           2.031   1.663   1.22x

``TUIPACS_TRANSPORT=stock|fast python scripts/bench_serve.py --no-orthanc --runs 3`` (the
same CT by dcmsend into `tuipacs serve`): one sender 1.62 s / 0.98 s (1.65x), four senders
1.87 s / 0.77 s (2.4x); with --no-sync 1.35 s / 0.55 s (2.45x).

So the fast transport pays well over 1.3x on the transfer itself wherever tuipacs
receives (retrieve by C-GET or C-MOVE, the server's C-STOREs). On the server's C-GET
sending it pays 1.1-1.2x only (a second measurement: 1.68 s / 1.51 s): pynetdicom's
per-PDU sending costs the same on both. That part (stored_send and FastDUL when sending)
is below the 1.3x bar; it also sends archived files byte for byte as stored, never
decoded: whether to keep it is an open decision.
"""

from __future__ import annotations

from tuipacs.dicom.transport.chunked import store_handler, store_request
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
    "selected",
    "sendable",
    "store_handler",
    "store_request",
    "wake_acceptor",
]
