"""A faster DUL reactor for pynetdicom associations that receive many images.

pynetdicom decodes every command set with pydicom, copies each PDU several times and
polls its reactor with sleeps; a plain C-GET spends ~2.5 ms of CPU per image. This
subclass of :class:`~pynetdicom.dul.DULServiceProvider` (installed on our own
associations by :func:`tuipacs.dicom.net.tune_association`) changes three things:

* the reactor waits in ``select()`` on the socket and on a wake-up socket written by
  every outgoing primitive, instead of sleeping and polling;
* in state Sta6 a C-STORE-RQ whose command set arrives whole is handled here: the
  dataset fragments are written straight from the receive buffer into a Part-10 spool
  file (preamble, file meta, dataset as sent), the store callback runs, and the
  C-STORE-RSP is sent directly; nothing is decoded by pydicom;
* pending C-GET/C-MOVE responses are parsed here and reported to a callback instead
  of going through the DIMSE layer (the final response still does);
* pending C-FIND responses hand their raw identifier bytes to a callback (no pydicom
  decoding, no pretty-printing for the debug log); the final response goes the normal way;
* the Study/Series Instance UIDs of a received C-STORE are read from the first dataset
  bytes with :func:`scan_elements` (``StoreRequest.study_uid``/``series_uid``), so a
  sink needs no second read of the file.

Any other PDU, or any message that starts in a way we do not handle, takes pynetdicom's
normal path unchanged.

It also notes what the peer did (:attr:`FastDUL.non_dicom`, ``peer_aborted``,
``peer_closed``, ``bad_pdu``) so that a failed association can be explained. A byte
stream that is not DICOM at all (an HTTP or TLS server, say) is recognised by its first
byte, before a whole PDU header is waited for, and the connection is closed at once
instead of waiting for the ARTIM timer.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.utils import make_target

LOG = logging.getLogger(__name__)

_C_STORE_RQ = 0x0001
_C_FIND_RSP = 0x8020
_C_GET_RSP = 0x8010
_C_MOVE_RSP = 0x8021
_NO_DATASET = 0x0101
_WAIT_MAX = 0.005  # longest select() wait, bounds timer and kill latency
#: The PDU types of PS3.8 (A-ASSOCIATE-RQ ... A-ABORT); any other first byte is not DICOM.
_PDU_TYPES = frozenset(range(1, 8))
_A_ABORT = 7
#: Most bytes of a non-DICOM answer kept to explain it (they are never logged).
NON_DICOM_KEEP = 64
_counter = itertools.count()


@dataclass
class StoreRequest:
    """A received C-STORE, complete on disk, for the store callback."""

    path: Path
    size: int
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    calling_ae: str
    move_originator_ae: str
    move_originator_id: int | None
    study_uid: str | None = None
    series_uid: str | None = None


#: Returns the C-STORE status to answer (0x0000 success).
StoreCallback = Callable[[StoreRequest], int]
#: Receives the sub-operation counts of a pending C-GET/C-MOVE response.
PendingCallback = Callable[[dict[str, int]], None]
#: Receives the raw identifier of a pending C-FIND response and whether it is Explicit VR.
FindCallback = Callable[[bytes, bool], None]


@dataclass
class FastOptions:
    """Per-association settings of the fast path (attached by tune_association)."""

    spool: Path | None = None
    store: StoreCallback | None = None
    pending: PendingCallback | None = None
    find: FindCallback | None = None
    last_activity: float = 0.0


# --------------------------------------------------------------------------- encoding


def _parse_command(data: memoryview) -> dict[int, bytes]:
    """Parse an Implicit VR Little Endian command set into {element number: raw value}."""
    out: dict[int, bytes] = {}
    pos, end = 0, len(data)
    while pos + 8 <= end:
        group, elem, length = struct.unpack_from("<HHL", data, pos)
        pos += 8
        if group != 0x0000 or pos + length > end:
            raise ValueError("not a command set")
        out[elem] = bytes(data[pos : pos + length])
        pos += length
    if pos != end:
        raise ValueError("truncated command set")
    return out


def _us(cmd: dict[int, bytes], elem: int) -> int | None:
    """An US value of a parsed command set, or None."""
    raw = cmd.get(elem)
    return struct.unpack("<H", raw[:2])[0] if raw is not None and len(raw) >= 2 else None


def _ul(cmd: dict[int, bytes], elem: int) -> int | None:
    """An UL value of a parsed command set, or None."""
    raw = cmd.get(elem)
    return struct.unpack("<L", raw[:4])[0] if raw is not None and len(raw) >= 4 else None


def _text(cmd: dict[int, bytes], elem: int) -> str:
    """A UI/AE value of a parsed command set, without padding."""
    return cmd.get(elem, b"").decode("ascii", "replace").rstrip("\x00 ")


_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
)
_STUDY_UID = 0x0020000D
_SERIES_UID = 0x0020000E
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_IMPLICIT_LE = "1.2.840.10008.1.2"
#: Most dataset bytes kept while looking for the Study/Series UIDs of a C-STORE.
_HEAD_MAX = 65536


def _header(data: memoryview | bytes | bytearray, pos: int, explicit: bool) -> tuple[int, int, int]:
    """(tag, value length, value position) of the element at pos (struct.error if short)."""
    group, elem = struct.unpack_from("<HH", data, pos)
    if explicit and group != 0xFFFE:
        vr = bytes(data[pos + 4 : pos + 6])
        if vr in _LONG_VRS:
            return (group << 16) | elem, struct.unpack_from("<L", data, pos + 8)[0], pos + 12
        return (group << 16) | elem, struct.unpack_from("<H", data, pos + 6)[0], pos + 8
    return (group << 16) | elem, struct.unpack_from("<L", data, pos + 4)[0], pos + 8


def _skip_sequence(data: memoryview | bytes | bytearray, pos: int, explicit: bool) -> int:
    """Position after an undefined-length sequence whose items start at pos."""
    while True:
        tag, length, pos = _header(data, pos, False)
        if tag == 0xFFFEE0DD:
            return pos
        if tag != 0xFFFEE000:
            raise ValueError("not a sequence item")
        if length != _UNDEFINED:
            pos += length
            continue
        while True:  # an undefined-length item: elements until the item delimiter
            tag, length, pos = _header(data, pos, explicit)
            if tag == 0xFFFEE00D:
                break
            pos = _skip_sequence(data, pos, explicit) if length == _UNDEFINED else pos + length


def scan_elements(
    data: memoryview | bytes | bytearray,
    explicit: bool,
    wanted: frozenset[int],
    stop_after: int | None = None,
) -> tuple[dict[int, bytes], bool]:
    """Raw values of the wanted top-level tags of a Little Endian dataset, without pydicom.

    Returns (values, done): done is True when the scan reached the end of `data` exactly
    or passed `stop_after`; False when `data` ends inside an element (more bytes may
    follow). Raises ValueError for data it cannot walk.
    """
    out: dict[int, bytes] = {}
    pos, end = 0, len(data)
    try:
        while pos < end:
            tag, length, start = _header(data, pos, explicit)
            if stop_after is not None and tag > stop_after:
                return out, True
            if length == _UNDEFINED:
                if tag == 0x7FE00010:  # encapsulated pixel data: nothing of ours follows
                    return out, True
                pos = _skip_sequence(data, start, explicit)
                continue
            if start + length > end:
                return out, False
            if tag in wanted:
                out[tag] = bytes(data[start : start + length])
            pos = start + length
    except struct.error:
        return out, False
    return out, True


def header_uids(data: memoryview | bytes | bytearray, syntax: str) -> tuple[str, str] | None:
    """Study and Series Instance UIDs from the first bytes of a dataset, or None."""
    if syntax not in (_EXPLICIT_LE, _IMPLICIT_LE) and not _encapsulated_le(syntax):
        return None
    try:
        values, _ = scan_elements(
            data, syntax != _IMPLICIT_LE, frozenset({_STUDY_UID, _SERIES_UID}), _SERIES_UID
        )
    except (ValueError, struct.error):
        return None
    study, series = values.get(_STUDY_UID), values.get(_SERIES_UID)
    if not study or not series:
        return None
    return _uid_text(study), _uid_text(series)


def _encapsulated_le(syntax: str) -> bool:
    """True for the compressed syntaxes (Explicit VR Little Endian dataset headers)."""
    return syntax.startswith(("1.2.840.10008.1.2.4.", "1.2.840.10008.1.2.5"))


def _uid_text(raw: bytes) -> str:
    """A UI value without padding."""
    return raw.decode("ascii", "replace").rstrip("\x00 ")


def _uid_bytes(uid: str) -> bytes:
    """A UID value padded with NUL to even length."""
    raw = uid.encode("ascii")
    return raw + b"\x00" if len(raw) % 2 else raw


def _implicit(elem: int, value: bytes) -> bytes:
    """One group-0000 element, Implicit VR Little Endian."""
    return struct.pack("<HHL", 0x0000, elem, len(value)) + value


def store_response(sop_class: str, sop_instance: str, message_id: int, status: int) -> bytes:
    """Encode a C-STORE-RSP command set."""
    body = b"".join(
        [
            _implicit(0x0002, _uid_bytes(sop_class)),
            _implicit(0x0100, struct.pack("<H", 0x8001)),
            _implicit(0x0120, struct.pack("<H", message_id)),
            _implicit(0x0800, struct.pack("<H", _NO_DATASET)),
            _implicit(0x0900, struct.pack("<H", status)),
            _implicit(0x1000, _uid_bytes(sop_instance)),
        ]
    )
    return _implicit(0x0000, struct.pack("<L", len(body))) + body


def _explicit(elem: int, vr: bytes, value: bytes) -> bytes:
    """One group-0002 element, Explicit VR Little Endian."""
    if vr == b"OB":
        return (
            struct.pack("<HH", 0x0002, elem)
            + vr
            + b"\x00\x00"
            + struct.pack("<L", len(value))
            + value
        )
    return struct.pack("<HH", 0x0002, elem) + vr + struct.pack("<H", len(value)) + value


def _padded(text: str) -> bytes:
    """A text value padded with a space to even length."""
    raw = text.encode("ascii", "replace")
    return raw + b" " if len(raw) % 2 else raw


def file_preamble(sop_class: str, sop_instance: str, syntax: str, source_ae: str) -> bytes:
    """Preamble, 'DICM' and File Meta Information for a received dataset."""
    body = b"".join(
        [
            _explicit(0x0001, b"OB", b"\x00\x01"),
            _explicit(0x0002, b"UI", _uid_bytes(sop_class)),
            _explicit(0x0003, b"UI", _uid_bytes(sop_instance)),
            _explicit(0x0010, b"UI", _uid_bytes(syntax)),
            _explicit(0x0012, b"UI", _uid_bytes(PYNETDICOM_IMPLEMENTATION_UID)),
            _explicit(0x0013, b"SH", _padded(PYNETDICOM_IMPLEMENTATION_VERSION)),
            _explicit(0x0016, b"AE", _padded(source_ae or "ANONYMOUS")),
        ]
    )
    group = _explicit(0x0000, b"UL", struct.pack("<L", len(body)))
    return b"\x00" * 128 + b"DICM" + group + body


def _pdata_pdu(context_id: int, control: int, payload: bytes) -> bytes:
    """A P-DATA-TF PDU with one PDV."""
    item = struct.pack(">LBB", len(payload) + 2, context_id, control) + payload
    return struct.pack(">BBL", 0x04, 0x00, len(item)) + item


# --------------------------------------------------------------------------- reactor


class _WakingQueue(queue.Queue):
    """The DUL's to_provider_queue: every put() wakes the reactor's select()."""

    def __init__(self, waker: socket.socket) -> None:
        """Wrap a queue around the writing end of the reactor's wake-up socket pair."""
        super().__init__()
        self._waker = waker

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Queue the primitive and wake the reactor."""
        super().put(item, block, timeout)
        try:
            self._waker.send(b"\x00")
        except OSError:
            pass  # full (already awake) or closed (reactor gone)


class _Incoming:
    """State of the C-STORE (or C-FIND identifier) being received on the fast path.

    A C-STORE has an open spool file (`handle`, `path`); a C-FIND identifier has only
    `head`, the bytes received so far. A C-STORE keeps the first dataset bytes in `head`
    until the Study/Series UIDs are found.
    """

    def __init__(
        self, handle: Any, path: Path | None, cmd: dict[int, bytes], context_id: int
    ) -> None:
        """Remember the open spool file (if any) and the message's command set."""
        self.handle = handle
        self.path = path
        self.cmd = cmd
        self.context_id = context_id
        self.size = 0
        self.head: bytearray | None = bytearray()
        self.uids: tuple[str, str] | None = None


class FastDUL(DULServiceProvider):
    """DULServiceProvider with a select()-driven reactor and a C-STORE fast path.

    Never instantiated directly: :func:`install` switches an existing (not started)
    DUL to this class.
    """

    _fast: FastOptions
    _wake_r: socket.socket
    _wake_w: socket.socket
    _incoming: _Incoming | None
    _drop_transport: bool
    #: The first bytes received if the peer sent data that is not DICOM, else None.
    non_dicom: bytes | None
    #: A description of a PDU received that could not be decoded, else None.
    bad_pdu: str | None
    #: True once the peer sent an A-ABORT PDU.
    peer_aborted: bool
    #: True once the peer closed the connection (or it broke) while we were reading.
    peer_closed: bool

    # -- setup

    def _install(self, options: FastOptions) -> None:
        """Add our state to an existing DUL instance (called before it starts)."""
        self._fast = options
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.to_provider_queue = _WakingQueue(self._wake_w)
        self._incoming = None
        self._drop_transport = False
        self.non_dicom = None
        self.bad_pdu = None
        self.peer_aborted = False
        self.peer_closed = False

    # -- reactor

    def _wait(self) -> None:
        """Block until the socket is readable, a primitive is queued, or _WAIT_MAX."""
        readers: list[Any] = [self._wake_r]
        sock = getattr(self.socket, "socket", None)
        if sock is not None and sock.fileno() >= 0:
            readers.append(sock)
        try:
            ready, _, _ = select.select(readers, [], [], _WAIT_MAX)
        except (OSError, ValueError):
            time.sleep(0.0005)
            return
        if self._wake_r in ready:
            try:
                while self._wake_r.recv(4096):
                    pass
            except OSError:
                pass

    def run_reactor(self) -> None:
        """The DUL loop of pynetdicom, waiting in select() instead of sleeping."""
        try:
            self._run()
        finally:
            self._close_incoming(discard=True)
            self._wake_r.close()
            self._wake_w.close()

    def _run(self) -> None:
        """Loop until killed: send queued primitives, read PDUs, run the state machine."""
        self._idle_timer.start()
        idle = False
        while True:
            if not self.assoc._dul_ready.is_set():
                self.assoc._dul_ready.set()
            if idle:
                self._wait()
            if self._kill_thread:
                break
            if self.artim_timer.expired:
                self.event_queue.put("Evt18")
            try:
                if self._process_recv_primitive():
                    pass
                elif self._is_transport_event():
                    self._idle_timer.restart()
                    self._fast.last_activity = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - same policy as pynetdicom
                self._fail(exc)
                return
            try:
                event = self.event_queue.get(block=False)
            except queue.Empty:
                idle = True
                continue
            self.state_machine.do_action(event)
            if self._drop_transport and self.event_queue.empty():
                # the A-ABORT for a non-DICOM peer is sent: close now (Evt17, back to Sta1)
                # rather than wait for the ARTIM timer or more bytes from it
                self._drop_transport = False
                if self.socket is not None:
                    self.socket.close()
            idle = False

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

    # -- PDU reading

    def _read_pdu_data(self) -> None:
        """Read one PDU; P-DATA-TF may take the fast path, everything else is standard.

        Outside Sta6 the first byte is read on its own: a peer that is not DICOM is
        recognised from it even if it sent fewer than six bytes and then went quiet.
        """
        sock = self.socket
        assert sock is not None
        try:
            if self.state_machine.current_state == "Sta6":
                header = sock.recv(6)
            else:
                header = sock.recv(1)
                if header and header[0] not in _PDU_TYPES:
                    self._not_dicom(bytes(header))
                    return
                if header:
                    header += sock.recv(5)
        except (OSError, TimeoutError):
            self._transport_closed()
            return
        if len(header) < 6:
            self._transport_closed()
            return
        pdu_type, _, length = struct.unpack(">BBL", header)
        if pdu_type not in _PDU_TYPES:
            self._not_dicom(bytes(header))
            return
        if pdu_type == _A_ABORT and self.state_machine.current_state != "Sta13":
            self.peer_aborted = True  # in Sta13 it answers our own abort
        try:
            body = sock.recv(length)
        except (OSError, TimeoutError):
            self._transport_closed()
            return
        if len(body) != length:
            self._transport_closed()
            return
        if pdu_type == 4 and self.state_machine.current_state == "Sta6":
            if self._fast_pdata(body):
                return
        self._standard(bytes(header) + bytes(body))

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
        the state machine has handled the invalid PDU (see ``_run``).
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
        self.event_queue.put(event)
        self._recv_pdu.put(pdu)

    # -- fast path

    @staticmethod
    def _pdvs(body: bytearray) -> list[tuple[int, int, int, int]] | None:
        """(context id, control byte, data start, data end) of each PDV, or None if bad."""
        out = []
        pos, end = 0, len(body)
        while pos < end:
            if pos + 6 > end:
                return None
            length = struct.unpack_from(">L", body, pos)[0]
            if length < 2 or pos + 4 + length > end:
                return None
            out.append((body[pos + 4], body[pos + 5], pos + 6, pos + 4 + length))
            pos += 4 + length
        return out

    def _fast_pdata(self, body: bytearray) -> bool:
        """Process a P-DATA-TF ourselves if possible; False hands it to pynetdicom.

        A message goes the fast way only if its first PDU starts with a complete
        command PDV that we handle and carries no other command; its dataset PDVs
        (arriving while a fast C-STORE is open) then all come here. Dataset PDVs of
        messages pynetdicom handles arrive while none is open and go back to it.
        """
        pdvs = self._pdvs(body)
        if pdvs is None:
            return False
        if any(control & 1 for _, control, _, _ in pdvs[1:]):
            self._close_incoming(discard=True)
            return False
        if self._incoming is None and not self._starts_fast(body, pdvs):
            return False
        view = memoryview(body)
        try:
            for context_id, control, start, end in pdvs:
                self._fast_pdv(context_id, control, view[start:end])
        finally:
            view.release()
        return True

    def _starts_fast(self, body: bytearray, pdvs: list[tuple[int, int, int, int]]) -> bool:
        """True if this PDU starts a message we handle: C-STORE-RQ or pending C-GET/MOVE-RSP."""
        context_id, control, start, end = pdvs[0]
        if control & 3 != 3:
            return False
        try:
            cmd = _parse_command(memoryview(body)[start:end])
        except (ValueError, struct.error):
            return False
        field = _us(cmd, 0x0100)
        has_dataset = _us(cmd, 0x0800) != _NO_DATASET
        if field == _C_STORE_RQ and has_dataset and self._fast.store is not None:
            return context_id in self.assoc._accepted_cx and self._begin_store(cmd, context_id)
        if field in (_C_GET_RSP, _C_MOVE_RSP) and self._fast.pending is not None:
            return _us(cmd, 0x0900) in (0xFF00, 0xFF01) and not has_dataset and len(pdvs) == 1
        if field == _C_FIND_RSP and has_dataset and self._fast.find is not None:
            if _us(cmd, 0x0900) not in (0xFF00, 0xFF01) or not self._plain_syntax(context_id):
                return False
            self._incoming = _Incoming(None, None, cmd, context_id)
            return True
        return False

    def _plain_syntax(self, context_id: int) -> bool:
        """True if the context's transfer syntax is Implicit or Explicit VR Little Endian."""
        context = self.assoc._accepted_cx.get(context_id)
        return context is not None and str(context.transfer_syntax[0]) in (
            _IMPLICIT_LE,
            _EXPLICIT_LE,
        )

    def _begin_store(self, cmd: dict[int, bytes], context_id: int) -> bool:
        """Open the spool file for a C-STORE-RQ; write preamble and file meta."""
        context = self.assoc._accepted_cx[context_id]
        syntax = str(context.transfer_syntax[0])
        source = str(self.assoc.requestor.ae_title or "").strip()
        if self.assoc.is_requestor:
            source = str(self.assoc.acceptor.ae_title or "").strip()
        spool = self._fast.spool
        name = f"recv-{os.getpid()}-{threading.get_ident()}-{next(_counter)}.dcm"
        path = Path(spool if spool is not None else _default_tmp()) / name
        try:
            handle = open(path, "xb", buffering=0)  # noqa: SIM115 - closed in _finish_store
        except OSError as exc:
            LOG.warning("cannot create a spool file in %s: %s", path.parent, exc)
            return False
        preamble = file_preamble(_text(cmd, 0x0002), _text(cmd, 0x1000), syntax, source)
        handle.write(preamble)
        self._incoming = _Incoming(handle, path, cmd, context_id)
        self._incoming.size = len(preamble)
        return True

    def _fast_pdv(self, context_id: int, control: int, data: memoryview) -> None:
        """One PDV on the fast path."""
        incoming = self._incoming
        if control & 1:  # a command: C-STORE-RQ start (already parsed) or pending RSP
            if incoming is None:
                self._pending(data)
            return
        if incoming is None:
            return
        if incoming.handle is None:  # a C-FIND identifier
            assert incoming.head is not None
            incoming.head += data
            if control & 2:
                self._finish_find(incoming)
            return
        incoming.handle.write(data)
        incoming.size += len(data)
        if incoming.head is not None:
            self._look_for_uids(incoming, data, bool(control & 2))
        if control & 2:
            self._finish_store(incoming)

    def _look_for_uids(self, incoming: _Incoming, data: memoryview, last: bool) -> None:
        """Find the Study/Series UIDs in the first dataset bytes of a C-STORE."""
        head = incoming.head
        assert head is not None
        head += data
        syntax = str(self.assoc._accepted_cx[incoming.context_id].transfer_syntax[0])
        incoming.uids = header_uids(head, syntax)
        if incoming.uids is not None or last or len(head) >= _HEAD_MAX:
            incoming.head = None

    def _finish_find(self, incoming: _Incoming) -> None:
        """Hand a complete pending C-FIND identifier to the find callback."""
        self._incoming = None
        context = self.assoc._accepted_cx[incoming.context_id]
        explicit = str(context.transfer_syntax[0]) == _EXPLICIT_LE
        callback = self._fast.find
        if callback is not None and incoming.head is not None:
            try:
                callback(bytes(incoming.head), explicit)
            except Exception:  # noqa: BLE001 - a callback bug must not kill the reactor
                LOG.exception("find callback failed")

    def _pending(self, data: memoryview) -> None:
        """Report the counts of a pending C-GET/C-MOVE response."""
        cmd = _parse_command(data)
        counts = {
            "remaining": _us(cmd, 0x1020),
            "completed": _us(cmd, 0x1021),
            "failed": _us(cmd, 0x1022),
            "warning": _us(cmd, 0x1023),
        }
        callback = self._fast.pending
        if callback is not None:
            try:
                callback({k: v for k, v in counts.items() if v is not None})
            except Exception:  # noqa: BLE001 - progress must never break the transfer
                LOG.exception("pending-response callback failed")

    def _finish_store(self, incoming: _Incoming) -> None:
        """Close the spool file, run the store callback, send the C-STORE-RSP."""
        self._incoming = None
        incoming.handle.close()
        assert incoming.path is not None
        cmd = incoming.cmd
        request = StoreRequest(
            path=incoming.path,
            size=incoming.size,
            sop_class_uid=_text(cmd, 0x0002),
            sop_instance_uid=_text(cmd, 0x1000),
            transfer_syntax_uid=str(
                self.assoc._accepted_cx[incoming.context_id].transfer_syntax[0]
            ),
            calling_ae=str(self.assoc.requestor.ae_title or "").strip(),
            move_originator_ae=_text(cmd, 0x1030),
            move_originator_id=_us(cmd, 0x1031),
            study_uid=incoming.uids[0] if incoming.uids else None,
            series_uid=incoming.uids[1] if incoming.uids else None,
        )
        status = 0xC211
        try:
            callback = self._fast.store
            status = callback(request) if callback is not None else 0xC211
        except Exception:  # noqa: BLE001 - the peer gets a failure status instead
            LOG.exception("store callback failed")
        finally:
            _unlink_quietly(incoming.path)
        rsp = store_response(
            request.sop_class_uid, request.sop_instance_uid, _us(cmd, 0x0110) or 0, status
        )
        assert self.socket is not None
        self.socket.send(_pdata_pdu(incoming.context_id, 0x03, rsp))

    def _close_incoming(self, discard: bool) -> None:
        """Drop a partially received C-STORE (connection lost or aborted)."""
        incoming, self._incoming = self._incoming, None
        if incoming is None:
            return
        if incoming.handle is None or incoming.path is None:
            return
        try:
            incoming.handle.close()
        finally:
            if discard:
                _unlink_quietly(incoming.path)


def _unlink_quietly(path: Path) -> None:
    """Remove a file if it is still there (the sink may have moved it)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        LOG.debug("cannot remove %s: %s", path, exc)


def _default_tmp() -> str:
    """The system temporary folder."""
    import tempfile

    return tempfile.gettempdir()


def install(dul: DULServiceProvider, options: FastOptions) -> None:
    """Switch a not-yet-started DUL to FastDUL with these options."""
    dul.__class__ = FastDUL
    assert isinstance(dul, FastDUL)
    dul._install(options)
    # Thread.__init__ bound the target to the base class's reactor: point it at ours.
    dul._target = make_target(dul.run_reactor)  # type: ignore[attr-defined]
