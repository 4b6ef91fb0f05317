"""pynetdicom's DUL with bounded reading (safety): the DUL of the stock transport.

pynetdicom reads a PDU with two blocking reads sized by the length the peer declares: a
peer that declares 4 GiB makes it collect up to 4 GiB, and one that sends half a PDU and
falls silent blocks the reactor in a read, so that ARTIM, the network timeout, a request
timeout and kill never fire. :class:`SafeDUL` keeps pynetdicom's reactor loop, state
machine and PDU decoding, and changes how a PDU is read and what happens to it:

* PDUs are assembled by :class:`~tuipacs.dicom.transport.wire.PduReader` from what the
  socket has, never waiting in a read longer than wire.BODY_WAIT (5 ms); a declared length
  over our limits (:mod:`~tuipacs.dicom.transport.wire`) is answered with A-ABORT and the
  connection closed, before anything is allocated for it;
* P-DATA-TF PDUs in state Sta6 go through a
  :class:`~tuipacs.dicom.transport.guard.MessageGuard` (bounded DIMSE messages, failure
  statuses for requests we cannot serve) before pynetdicom's DIMSE layer;
* an accepted connection that has not sent its whole A-ASSOCIATE-RQ within
  ``LinkOptions.request_timeout`` is closed; so is one whose first byte is no PDU type
  (an HTTP or TLS server, say) at once, instead of waiting for the ARTIM timer.

It notes what the peer did (:attr:`SafeDUL.non_dicom`, ``peer_aborted``, ``peer_closed``,
``bad_pdu``) so that a failed association can be explained, and when bytes last came
(``LinkOptions.last_activity``). The fast transport's
:class:`~tuipacs.dicom.transport.fast_dul.FastDUL` replaces the reactor loop on top.
"""

from __future__ import annotations

import logging
import select
import time

from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.utils import make_target

from tuipacs.dicom.transport import chunked
from tuipacs.dicom.transport.guard import MessageGuard
from tuipacs.dicom.transport.options import LinkOptions
from tuipacs.dicom.transport.wire import PDU_NAMES, PduReader, ReadResult

LOG = logging.getLogger(__name__)

_A_ASSOCIATE_RQ = 1
_A_ASSOCIATE_RJ = 3
_P_DATA_TF = 4
_A_ABORT = 7
#: Most bytes of a non-DICOM answer kept to explain it (they are never logged).
NON_DICOM_KEEP = 64
#: pynetdicom's loop delay while an accepted connection has not sent its request: a
#: connection that stays silent costs little CPU (a real caller sends at once).
WAITING_LOOP_DELAY = 0.005


class SafeDUL(DULServiceProvider):
    """DULServiceProvider that reads PDUs within bounds and never waits in a read.

    Never instantiated directly: :func:`install` switches an existing (not started) DUL
    to this class.
    """

    options: LinkOptions
    _router: MessageGuard
    _reader: PduReader
    _drop_transport: bool
    _got_request: bool
    _request_deadline: float | None
    _advertised: int
    _loop_delay: float
    #: The first bytes received if the peer sent data that is not DICOM, else None.
    non_dicom: bytes | None
    #: A description of a PDU received that could not be decoded, else None.
    bad_pdu: str | None
    #: True once the peer sent an A-ABORT PDU.
    peer_aborted: bool
    #: True once the peer closed the connection (or it broke) while we were reading.
    peer_closed: bool
    #: (result, source, reason) of an A-ASSOCIATE-RJ received, else None.
    rejection: tuple[int, int, int] | None

    # -- setup

    def _install(self, options: LinkOptions) -> None:
        """Add our state to an existing DUL instance (called before it starts)."""
        self.options = options
        self._router = self._make_router(options)
        self._reader = PduReader()
        self._drop_transport = False
        self._got_request = False
        self._request_deadline = None
        self._advertised = 0
        self.non_dicom = None
        self.bad_pdu = None
        self.peer_aborted = False
        self.peer_closed = False
        self.rejection = None

    def _make_router(self, options: LinkOptions) -> MessageGuard:
        """What checks (and routes) received P-DATA-TF PDUs: the guard alone here."""
        return MessageGuard(self)

    # -- what the guard needs (tuipacs.dicom.transport.guard.Link)

    def peer(self) -> str:
        """The remote AE title (once known) and address, for log lines."""
        assoc = self.assoc
        remote = assoc.requestor if assoc.is_acceptor else assoc.acceptor
        address = remote.address if remote.address_info is not None else "?"
        title = str(remote.ae_title or "").strip()
        return f"{ascii(title)[1:-1]}@{address}" if title else address

    def send_raw(self, data: bytes) -> None:
        """Send bytes on the connection (Evt17 if it is gone)."""
        assert self.socket is not None
        self.socket.send(data)

    def to_pynetdicom(self, pdu: bytes) -> None:
        """Hand a PDU to pynetdicom's normal decoding and state machine."""
        self._standard(pdu)

    def protocol_abort(self, why: str) -> None:
        """The peer broke the protocol: A-ABORT (Evt19), then close the connection."""
        LOG.warning("%s sent %s: aborting the association", self.peer(), why)
        if self.bad_pdu is None:
            self.bad_pdu = why
        self._drop_transport = True
        self.event_queue.put("Evt19")

    # -- reactor

    def run_reactor(self) -> None:
        """The reactor (see _loop); what is half received is dropped when it ends."""
        self._advertised = self._max_pdu()
        self._loop_delay = self._run_loop_delay
        if self.assoc.is_acceptor:
            self._run_loop_delay = max(self._loop_delay, WAITING_LOOP_DELAY)
            if self.options.request_timeout is not None:
                self._request_deadline = time.monotonic() + self.options.request_timeout
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - never a traceback from a DUL thread
            self._fail(exc)
        finally:
            self._router.close(discard=True)
            chunked.discard(self.assoc)  # a C-STORE pynetdicom was receiving
            self._ended()
            if self.assoc.is_acceptor and not self._got_request:
                # the association thread waits for the request: no need to wait longer
                self.to_user_queue.put(None)  # type: ignore[arg-type]

    def _loop(self) -> None:
        """pynetdicom's own reactor loop (it sleeps _run_loop_delay when idle)."""
        DULServiceProvider.run_reactor(self)

    def _ended(self) -> None:
        """The reactor has stopped (subclasses release what they hold)."""

    def _is_transport_event(self) -> bool:
        """Close after an abort or at the request deadline, then read (pynetdicom's check).

        True if something happened on the connection (the idle timer restarts).
        """
        if self._drop_transport and self.event_queue.empty():
            # the A-ABORT is sent: close now (Evt17, back to Sta1) rather than wait for
            # the ARTIM timer or more bytes from a peer we no longer understand
            self._drop_transport = False
            if self.socket is not None:
                self.socket.close()
            return True
        if self._request_deadline is not None:
            self._check_request_deadline()
        busy = super()._is_transport_event()
        if busy:
            self.options.last_activity = time.monotonic()
        return busy

    def _check_request_deadline(self) -> None:
        """Close a connection that has not sent its whole A-ASSOCIATE-RQ in time (Evt18)."""
        if self._got_request:
            self._request_deadline = None
            return
        assert self._request_deadline is not None
        if time.monotonic() < self._request_deadline or self.state_machine.current_state != "Sta2":
            return
        self._request_deadline = None
        LOG.info(
            "%s sent no complete association request within %.0f s: closing",
            self.peer(),
            self.options.request_timeout or 0,
        )
        self.event_queue.put("Evt18")  # as if ARTIM expired: close, back to Sta1

    def _fail(self, exc: Exception) -> None:
        """Abort hard after an exception in the reactor (as pynetdicom does)."""
        LOG.error("exception in the DUL reactor, aborting the association: %s", exc)
        LOG.debug("DUL reactor exception", exc_info=exc)
        try:
            abort = A_ABORT_RQ()
            abort.source = 0x02
            abort.reason_diagnostic = 0x00
            if self.socket is not None and self.socket.socket is not None:
                self.socket.send(abort.encode())
        except Exception:  # noqa: BLE001 - best effort
            pass
        self.assoc.is_aborted = True
        self.assoc.is_established = False
        self.assoc._kill = True
        self._kill_thread = True
        self.assoc.dimse.msg_queue.put((None, None))  # wake a thread waiting for a message

    # -- PDU reading

    def _max_pdu(self) -> int:
        """The Maximum Length we advertised for P-DATA-TF (0: unlimited)."""
        assoc = self.assoc
        local = assoc.acceptor if assoc.is_acceptor else assoc.requestor
        return int(local.maximum_length or 0)

    def _read_pdu_data(self) -> None:
        """Read what has arrived; act on a PDU once it is complete."""
        raw = getattr(self.socket, "socket", None)
        if raw is None:
            self._transport_closed()
            return
        try:
            result = self._reader.read(raw, self._advertised)
        except (OSError, ValueError):
            self._transport_closed()
            return
        if result.outcome == "wait":
            return
        if result.outcome == "closed":
            self._transport_closed()
        elif result.outcome == "not_dicom":
            self._not_dicom(result.header)
        elif result.outcome == "too_long":
            self._too_long(result)
        else:
            assert result.body is not None
            try:
                self._pdu(result.header, result.body)
            finally:
                result.body.release()

    def _pdu(self, header: bytes, body: memoryview) -> None:
        """A complete PDU: P-DATA-TF in Sta6 to the guard, everything else to pynetdicom."""
        pdu_type = header[0]
        state = self.state_machine.current_state
        if pdu_type == _P_DATA_TF and state == "Sta6":
            self._router.route(header, body)
            return
        if pdu_type == _A_ABORT and state != "Sta13":
            self.peer_aborted = True  # in Sta13 it answers our own abort
        self._standard(header + bytes(body))

    def _too_long(self, result: ReadResult) -> None:
        """A PDU declares more bytes than we accept: A-ABORT and close, nothing read."""
        name = PDU_NAMES.get(result.pdu_type, f"type 0x{result.pdu_type:02X}")
        article = "an" if name.startswith("A-") else "a"
        self.protocol_abort(
            f"{article} {name} PDU of {result.length} bytes (our limit: {result.limit} bytes)"
        )

    def _transport_closed(self) -> None:
        """The peer closed the connection (or it broke) during a read: Evt17.

        In Sta13 we aborted first and wait for exactly this, so it is not noted.
        """
        if self.state_machine.current_state != "Sta13":
            self.peer_closed = True
        self.event_queue.put("Evt17")

    def _not_dicom(self, head: bytes) -> None:
        """The peer sent bytes that are no PDU: note them, abort (Evt19) and then close.

        The byte stream cannot be resynchronised, so the connection is closed right after
        the state machine has handled the invalid PDU.
        """
        if self.non_dicom is None:
            self.non_dicom = head + self._available(NON_DICOM_KEEP - len(head))
        LOG.info("the peer sent data that is not DICOM (first byte 0x%02X): closing", head[0])
        self._drop_transport = True
        self.event_queue.put("Evt19")

    def _available(self, limit: int) -> bytes:
        """Up to `limit` bytes already received on the socket, without waiting."""
        raw = getattr(self.socket, "socket", None)
        if raw is None or limit <= 0:
            return b""
        try:
            ready, _, _ = select.select([raw], [], [], 0)
            return bytes(raw.recv(limit)) if ready else b""
        except (OSError, ValueError):
            return b""

    def _standard(self, pdu_bytes: bytes) -> None:
        """Hand a PDU to pynetdicom's normal decoding and state machine."""
        try:
            pdu, event = self._decode_pdu(bytearray(pdu_bytes))
        except Exception as exc:  # noqa: BLE001 - as pynetdicom: invalid PDU
            # reported through the failed operation; the log keeps the detail
            LOG.info("unable to decode a received PDU (type 0x%02X): %s", pdu_bytes[0], exc)
            if self.bad_pdu is None:
                self.bad_pdu = f"a malformed PDU of type 0x{pdu_bytes[0]:02X}"
            self.event_queue.put("Evt19")
            return
        if pdu_bytes[0] == _A_ASSOCIATE_RQ:
            self._got_request = True
            self._run_loop_delay = self._loop_delay
        elif pdu_bytes[0] == _A_ASSOCIATE_RJ and len(pdu_bytes) >= 10:
            self.rejection = (pdu_bytes[7], pdu_bytes[8], pdu_bytes[9])
        self.event_queue.put(event)
        self._recv_pdu.put(pdu)


def install(dul: DULServiceProvider, options: LinkOptions, cls: type[SafeDUL] = SafeDUL) -> None:
    """Switch a not-yet-started DUL to `cls` (SafeDUL or a subclass) with these options."""
    dul.__class__ = cls
    assert isinstance(dul, SafeDUL)
    dul._install(options)
    # Thread.__init__ bound the target to the base class's reactor: point it at ours.
    dul._target = make_target(dul.run_reactor)  # type: ignore[attr-defined]
