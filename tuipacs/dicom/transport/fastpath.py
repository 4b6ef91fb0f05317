"""The fast path of our DUL: P-DATA-TF PDVs routed to us or to pynetdicom, within bounds.

Every command set is collected here first (within the bounds of tuipacs.dicom.transport.wire:
:data:`~tuipacs.dicom.transport.wire.MAX_COMMAND` bytes for a request). Once complete it is:

* a C-STORE-RQ with a dataset: the dataset fragments are written straight from the receive
  buffer into a Part-10 spool file (preamble, file meta, dataset as sent), the store
  callback runs and the C-STORE-RSP is sent directly; nothing is decoded by pydicom;
* a pending C-GET/C-MOVE response: its counts go to a callback;
* a pending C-FIND response: its raw identifier goes to a callback;
* anything else: handed to pynetdicom. A C-STORE's dataset is passed on as it arrives
  (pynetdicom writes it to a file); any other dataset is kept until complete, at most
  :data:`~tuipacs.dicom.transport.wire.MAX_MESSAGE_DATASET` bytes.

A request we cannot serve gets a failure status and the association goes on, so that a
sender moves on to its next image: a command set too long (0xC000), a C-STORE whose SOP
Class or Instance UID is not a UID (0xC000, e.g. non-ASCII), a spool file that cannot be
created or written (0xA700, e.g. a full disk: the rest of that dataset is discarded). Only
what cannot be answered (no message ID, a command inside a dataset) aborts.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pynetdicom.association import Association

from tuipacs.dicom.transport.codec import (
    _EXPLICIT_LE,
    _IMPLICIT_LE,
    _NO_DATASET,
    CommandCollector,
    _pdata_pdu,
    _us,
    failure_response,
    parse_command_prefix,
    shown,
    store_response,
    valid_uid,
)
from tuipacs.dicom.transport.spool import (
    Incoming,
    StoreCallback,
    StoreRequest,
    disk_full,
    preamble_for,
    unlink_quietly,
)
from tuipacs.dicom.transport.wire import MAX_MESSAGE_DATASET

__all__ = [
    "FastOptions",
    "FindCallback",
    "PDataRouter",
    "PendingCallback",
    "StoreCallback",
    "StoreRequest",
    "disk_full",
]

LOG = logging.getLogger(__name__)

_C_STORE_RQ = 0x0001
_C_FIND_RSP = 0x8020
_C_GET_RSP = 0x8010
_C_MOVE_RSP = 0x8021
_PENDING = (0xFF00, 0xFF01)
#: Statuses we answer on our own.
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000


#: Receives the sub-operation counts of a pending C-GET/C-MOVE response.
PendingCallback = Callable[[dict[str, int]], None]
#: Receives the raw identifier of a pending C-FIND response and whether it is Explicit VR.
FindCallback = Callable[[bytes, bool], None]


@dataclass
class FastOptions:
    """Per-association settings of the fast path (attached by tune_association).

    `last_activity` is when bytes last arrived (time.monotonic); `activity`, if set,
    returns when the operation last progressed elsewhere (a C-MOVE's images arrive on
    another association): a DIMSE wait times out on silence of both (see net._get_msg).
    `request_timeout` (acceptors): seconds a new connection has to send its whole
    A-ASSOCIATE-RQ before it is closed (None: only the ARTIM timer).
    """

    spool: Path | None = None
    store: StoreCallback | None = None
    pending: PendingCallback | None = None
    find: FindCallback | None = None
    last_activity: float = 0.0
    activity: Callable[[], float] | None = None
    request_timeout: float | None = None


class Link(Protocol):
    """What the router needs from its DUL."""

    @property
    def assoc(self) -> Association:
        """The association."""
        ...

    def peer(self) -> str:
        """The remote AE and address, for log lines."""
        ...

    def send_raw(self, data: bytes) -> None:
        """Send bytes on the connection."""
        ...

    def to_pynetdicom(self, pdu: bytes) -> None:
        """Hand a complete PDU to pynetdicom's decoding and state machine."""
        ...

    def protocol_abort(self, why: str) -> None:
        """Abort: the byte stream cannot be followed any more."""
        ...


class PDataRouter:
    """Routes the PDVs of received P-DATA-TF PDUs (state Sta6) of one association."""

    def __init__(self, link: Link, options: FastOptions) -> None:
        """Route for `link` with these fast-path options."""
        self.link = link
        self.options = options
        self._command: CommandCollector | None = None
        self._incoming: Incoming | None = None
        self._streaming = False  # a C-STORE dataset pynetdicom receives as it arrives
        self._out: list[bytes] = []  # PDV items for pynetdicom, in order
        self._touched = False
        self._dead = False  # aborted: nothing more is routed

    # -- routing

    def route(self, header: bytes, body: memoryview) -> None:
        """Route one P-DATA-TF PDU (header and body)."""
        if self._dead:
            return
        pdvs = _pdvs(body)
        if pdvs is None:  # malformed: pynetdicom says so (and aborts)
            self.link.to_pynetdicom(header + bytes(body))
            return
        self._touched = False
        for context_id, control, start, end in pdvs:
            incoming = self._incoming
            if not control & 1 and incoming is not None and incoming.kind == "store":
                self._store_fragment(incoming, body[start:end], control & 2)  # the hot path
                self._touched = True
            elif self._pdv(context_id, control, body[start:end]):
                self._out.append(bytes(body[start - 6 : end]))
            else:
                self._touched = True
            if self._dead:
                self._out.clear()
                return
        if not self._out:
            return
        if self._touched:
            items = b"".join(self._out)
            self.link.to_pynetdicom(struct.pack(">BBL", 0x04, 0x00, len(items)) + items)
        else:  # every PDV goes to pynetdicom unchanged
            self.link.to_pynetdicom(header + bytes(body))
        self._out.clear()

    def _emit(self, context_id: int, control: int, data: bytes) -> None:
        """Queue a PDV for pynetdicom (sent at the end of the PDU being routed)."""
        self._out.append(struct.pack(">LBB", len(data) + 2, context_id, control) + data)
        self._touched = True

    def _pdv(self, context_id: int, control: int, data: memoryview) -> bool:
        """Handle one PDV; True if it goes to pynetdicom unchanged."""
        last = bool(control & 2)
        if control & 1:
            if self._incoming is not None or self._streaming:
                self._abort("a command set inside a dataset")
                return False
            if self._command is None:
                self._command = CommandCollector(context_id)
            elif self._command.context_id != context_id:
                self._abort("command fragments on two presentation contexts")
                return False
            self._command.add(data)
            if last:
                self._command_done()
            return False
        if self._streaming:
            self._streaming = not last
            return True
        if self._incoming is not None:
            self._dataset(self._incoming, data, last)
            return False
        if self._command is not None:
            self._abort("a dataset before its command set was complete")
            return False
        return True  # a dataset without command: pynetdicom decides (as it always did)

    def _command_done(self) -> None:
        """A command set is complete: handle it here or pass it on."""
        collector = self._command
        assert collector is not None
        self._command = None
        # lenient: what follows the group-0000 elements is left to pynetdicom (DCMTK-based
        # archives put a C-GET's Failed SOP Instance UID List there)
        cmd, _end = parse_command_prefix(collector.data)
        limit = collector.too_long(cmd)
        if limit is not None or _us(cmd, 0x0100) is None:
            why = (
                f"a command set of {collector.size} bytes (the limit is {limit})"
                if limit is not None
                else "a command set without a command field"
            )
            self._refuse(cmd, collector.context_id, CANNOT_UNDERSTAND, why)
            return
        context_id = collector.context_id
        field = _us(cmd, 0x0100)
        has_dataset = _us(cmd, 0x0800) != _NO_DATASET
        accepted = context_id in self.link.assoc._accepted_cx
        options = self.options
        if field == _C_STORE_RQ and has_dataset and options.store is not None and accepted:
            self._begin_store(cmd, context_id)
        elif (
            field in (_C_GET_RSP, _C_MOVE_RSP)
            and options.pending is not None
            and (_us(cmd, 0x0900) in _PENDING and not has_dataset)
        ):
            _report_pending(options, cmd)
        elif (
            field == _C_FIND_RSP
            and has_dataset
            and options.find is not None
            and (_us(cmd, 0x0900) in _PENDING and self._plain_syntax(context_id))
        ):
            self._incoming = Incoming("find", cmd, context_id)
        elif field == _C_STORE_RQ or not has_dataset:
            self._emit(context_id, 0x03, bytes(collector.data))
            self._streaming = has_dataset
        else:
            self._incoming = Incoming("foreign", cmd, context_id, bytes(collector.data))

    def _plain_syntax(self, context_id: int) -> bool:
        """True if the context's transfer syntax is Implicit or Explicit VR Little Endian."""
        context = self.link.assoc._accepted_cx.get(context_id)
        return context is not None and str(context.transfer_syntax[0]) in (
            _IMPLICIT_LE,
            _EXPLICIT_LE,
        )

    def _dataset(self, incoming: Incoming, data: memoryview, last: bool) -> None:
        """One dataset fragment of a message received here (a C-STORE's: _store_fragment)."""
        if incoming.kind in ("find", "foreign"):
            assert incoming.head is not None
            if len(incoming.head) + len(data) > MAX_MESSAGE_DATASET:
                if incoming.kind == "find":
                    self._abort(f"a C-FIND identifier over {MAX_MESSAGE_DATASET} bytes")
                    return
                why = f"a dataset over {MAX_MESSAGE_DATASET} bytes with a request"
                if failure_response(incoming.cmd, CANNOT_UNDERSTAND) is None:
                    self._abort(f"{why}, which cannot be answered")
                    return
                self._refused(incoming, CANNOT_UNDERSTAND, why)
            else:
                incoming.head += data
        if not last:
            return
        self._incoming = None
        if incoming.kind == "find":
            _report_find(self.options, self.link.assoc, incoming)
        elif incoming.kind == "foreign":
            assert incoming.head is not None
            self._emit(incoming.context_id, 0x03, incoming.command)
            self._emit(incoming.context_id, 0x02, bytes(incoming.head))
        else:
            self._finish_store(incoming)

    # -- refusals

    def _refuse(self, cmd: dict[int, bytes], context_id: int, status: int, why: str) -> None:
        """Answer a request with a failure status (after its dataset, if one follows)."""
        has_dataset = _us(cmd, 0x0800)
        if failure_response(cmd, status) is None or has_dataset is None:
            self._abort(f"{why}, which cannot be answered")
            return
        LOG.warning("%s sent %s: answering 0x%04X", self.link.peer(), why, status)
        incoming = Incoming("refused", cmd, context_id)
        incoming.status = status
        if has_dataset != _NO_DATASET:
            self._incoming = incoming
        else:
            self._answer(incoming, status)

    def _refused(self, incoming: Incoming, status: int, why: str) -> None:
        """Discard the rest of a message being received and answer `status` at its end."""
        LOG.warning("%s sent %s: answering 0x%04X", self.link.peer(), why, status)
        incoming.refuse(status)

    def _answer(self, incoming: Incoming, status: int) -> None:
        """Send the response to a refused request."""
        cmd = incoming.cmd
        if _us(cmd, 0x0100) == _C_STORE_RQ:
            sop_instance = cmd.get(0x1000)
            if sop_instance is not None and len(sop_instance) > 66:
                sop_instance = None
            sop_class = cmd.get(0x0002, b"")
            rsp = store_response(sop_class[:66], sop_instance, _us(cmd, 0x0110) or 0, status)
        else:
            response = failure_response(cmd, status)
            assert response is not None
            rsp = response
        self.link.send_raw(_pdata_pdu(incoming.context_id, 0x03, rsp))

    def _abort(self, why: str) -> None:
        """Drop what is being received and abort the association."""
        self.close(discard=True)
        self._command = None
        self._streaming = False
        self._dead = True
        self.link.protocol_abort(why)

    # -- C-STORE

    def _begin_store(self, cmd: dict[int, bytes], context_id: int) -> None:
        """Check the UIDs of a C-STORE-RQ, open its spool file, write preamble and file meta."""
        sop_class, sop_instance = valid_uid(cmd.get(0x0002)), valid_uid(cmd.get(0x1000))
        if sop_class is None or sop_instance is None:
            which, raw = ("Class", 0x0002) if sop_class is None else ("Instance", 0x1000)
            why = f"a C-STORE with an invalid SOP {which} UID {shown(cmd.get(raw, b''))}"
            self._refuse(cmd, context_id, CANNOT_UNDERSTAND, why)
            return
        incoming = Incoming("store", cmd, context_id)
        incoming.syntax = str(self.link.assoc._accepted_cx[context_id].transfer_syntax[0])
        self._incoming = incoming
        preamble = preamble_for(self.link.assoc, context_id, sop_class, sop_instance)
        try:
            incoming.open_spool(self.options.spool, preamble)
        except OSError as exc:
            self._spool_failed(incoming, exc)

    def _store_fragment(self, incoming: Incoming, data: memoryview, last: int) -> None:
        """A dataset fragment of a C-STORE being written (a write error refuses it)."""
        try:
            incoming.write(data)
        except OSError as exc:
            self._spool_failed(incoming, exc)
        if last:
            self._incoming = None
            self._finish_store(incoming)

    def _spool_failed(self, incoming: Incoming, exc: OSError) -> None:
        """The spool file cannot be written: drop it, answer 0xA700 at the dataset's end."""
        folder = incoming.path.parent if incoming.path is not None else "?"
        what = "the disk is full" if disk_full(exc) else (exc.strerror or str(exc))
        # INFO: the store callback is told (StoreRequest.error) and reports it its way
        LOG.info(
            "cannot write a C-STORE from %s to %s (%s): discarding it, answering 0x%04X",
            self.link.peer(),
            folder,
            what,
            OUT_OF_RESOURCES,
        )
        incoming.refuse(OUT_OF_RESOURCES, exc)

    def _finish_store(self, incoming: Incoming) -> None:
        """Close the spool file, run the store callback, send the C-STORE-RSP.

        A refused C-STORE is answered at once, except after a spool error: the callback
        is told about that too (it counts it, a retrieve stops on a full disk).
        """
        if incoming.kind == "store":
            try:
                incoming.close_spool()
            except OSError as exc:
                self._spool_failed(incoming, exc)
        if incoming.kind == "refused" and incoming.error is None:
            self._answer(incoming, incoming.status)
            return
        assert incoming.path is not None
        request = incoming.request(self.link.assoc)
        status = CANNOT_UNDERSTAND
        try:
            callback = self.options.store
            status = callback(request) if callback is not None else CANNOT_UNDERSTAND
        except Exception:  # noqa: BLE001 - the peer gets a failure status instead
            LOG.exception("store callback failed")
        finally:
            unlink_quietly(incoming.path)
        if incoming.error is not None and status == 0:
            status = incoming.status  # nothing was stored, whatever the callback says
        self._answer(incoming, status)

    def close(self, discard: bool) -> None:
        """Drop a partially received message (connection lost or aborted)."""
        incoming, self._incoming = self._incoming, None
        if incoming is not None and incoming.kind == "store" and discard:
            incoming.drop_spool()


def _report_find(options: FastOptions, assoc: Association, incoming: Incoming) -> None:
    """Hand a complete pending C-FIND identifier to the find callback."""
    explicit = str(assoc._accepted_cx[incoming.context_id].transfer_syntax[0]) == _EXPLICIT_LE
    if options.find is not None and incoming.head is not None:
        try:
            options.find(bytes(incoming.head), explicit)
        except Exception:  # noqa: BLE001 - a callback bug must not kill the reactor
            LOG.exception("find callback failed")


def _report_pending(options: FastOptions, cmd: dict[int, bytes]) -> None:
    """Report the counts of a pending C-GET/C-MOVE response."""
    counts = {
        "remaining": _us(cmd, 0x1020),
        "completed": _us(cmd, 0x1021),
        "failed": _us(cmd, 0x1022),
        "warning": _us(cmd, 0x1023),
    }
    if options.pending is not None:
        try:
            options.pending({k: v for k, v in counts.items() if v is not None})
        except Exception:  # noqa: BLE001 - progress must never break the transfer
            LOG.exception("pending-response callback failed")


def _pdvs(body: memoryview) -> list[tuple[int, int, int, int]] | None:
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
