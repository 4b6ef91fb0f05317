"""Bounds on the DIMSE messages a peer sends, checked before pynetdicom sees them (safety).

Both transports pass every P-DATA-TF PDU received in state Sta6 through a
:class:`MessageGuard` before pynetdicom's DIMSE layer, which would otherwise keep a
command set or a query identifier of any size in memory and abort the association on a
request it cannot decode. The guard collects each command set itself (within the bounds
of :mod:`tuipacs.dicom.transport.wire`) and, once it is complete:

* a request we cannot serve gets a failure status and the association goes on, so that a
  sender moves on to its next image: a command set too long (0xC000, over
  :data:`~tuipacs.dicom.transport.wire.MAX_COMMAND` bytes for a request) or without a
  command field, a C-STORE whose SOP Class or Instance UID is not a UID (0xC000, e.g.
  non-ASCII), a dataset over :data:`~tuipacs.dicom.transport.wire.MAX_MESSAGE_DATASET`
  with a request that is not a C-STORE (0xC000). Only what cannot be answered (no message
  ID, a command inside a dataset) aborts;
* anything else goes to pynetdicom unchanged: a C-STORE's dataset as it arrives
  (pynetdicom writes it to a spool file, see chunked), any other dataset once complete.

The fast transport's :class:`~tuipacs.dicom.transport.fastpath.FastRouter` extends the
guard with its own routes (C-STORE straight to a spool file, pending responses to
callbacks).
"""

from __future__ import annotations

import logging
import struct
from typing import Protocol

from pynetdicom.association import Association

from tuipacs.dicom.transport.codec import (
    NO_DATASET,
    CommandCollector,
    failure_response,
    parse_command_prefix,
    pdata_pdu,
    shown,
    store_response,
    us,
    valid_uid,
)
from tuipacs.dicom.transport.spool import Incoming
from tuipacs.dicom.transport.wire import MAX_MESSAGE_DATASET

LOG = logging.getLogger(__name__)

C_STORE_RQ = 0x0001
#: Statuses we answer on our own.
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000


class Link(Protocol):
    """What the guard needs from its DUL."""

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


class MessageGuard:
    """Checks the PDVs of the P-DATA-TF PDUs (state Sta6) of one association."""

    def __init__(self, link: Link) -> None:
        """Guard the messages `link` receives."""
        self.link = link
        self._command: CommandCollector | None = None
        self._incoming: Incoming | None = None
        self._streaming = False  # a C-STORE dataset pynetdicom receives as it arrives
        self._out: list[bytes | memoryview] = []  # PDV items for pynetdicom, in order
        self._touched = False  # _out differs from the PDU received
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
        try:
            for context_id, control, start, end in pdvs:
                incoming = self._incoming
                if not control & 1 and incoming is not None:
                    self._fragment(incoming, body[start:end], bool(control & 2))
                    self._touched = True
                elif self._pdv(context_id, control, body[start:end]):
                    self._out.append(body[start - 6 : end])  # a view: copied only if needed
                else:
                    self._touched = True
                if self._dead:
                    return
            if not self._out:
                return
            if not self._touched:  # every PDV goes to pynetdicom unchanged
                pdu = header + bytes(body)
            else:
                items = b"".join(self._out)
                pdu = struct.pack(">BBL", 0x04, 0x00, len(items)) + items
        finally:
            self._out.clear()  # no view of the reader's buffer outlives the PDU
        self.link.to_pynetdicom(pdu)

    def _emit(self, context_id: int, control: int, data: bytes) -> None:
        """Queue a PDV for pynetdicom (sent at the end of the PDU being routed)."""
        self._out.append(struct.pack(">LBB", len(data) + 2, context_id, control) + data)
        self._touched = True

    def _pdv(self, context_id: int, control: int, data: memoryview) -> bool:
        """Handle one PDV that is no fragment of a message kept here; True: to pynetdicom."""
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
            if control & 2:
                self._command_done()
            return False
        if self._streaming:
            self._streaming = not control & 2
            return True
        if self._command is not None:
            self._abort("a dataset before its command set was complete")
            return False
        return True  # a dataset without command: pynetdicom decides (as it always did)

    def _command_done(self) -> None:
        """A command set is complete: refuse it, take it (see _take) or pass it on."""
        collector = self._command
        assert collector is not None
        self._command = None
        # lenient: what follows the group-0000 elements is left to pynetdicom (DCMTK-based
        # archives put a C-GET's Failed SOP Instance UID List there)
        cmd, _end = parse_command_prefix(collector.data)
        limit = collector.too_long(cmd)
        context_id = collector.context_id
        if limit is not None or us(cmd, 0x0100) is None:
            why = (
                f"a command set of {collector.size} bytes (the limit is {limit})"
                if limit is not None
                else "a command set without a command field"
            )
            self._refuse(cmd, context_id, CANNOT_UNDERSTAND, why)
            return
        field = us(cmd, 0x0100)
        has_dataset = us(cmd, 0x0800) != NO_DATASET
        if field == C_STORE_RQ and has_dataset:
            bad = _bad_store_uid(cmd)
            if bad is not None:
                self._refuse(cmd, context_id, CANNOT_UNDERSTAND, bad)
                return
        if self._take(cmd, context_id, has_dataset):
            return
        if field == C_STORE_RQ or not has_dataset:
            self._emit(context_id, 0x03, bytes(collector.data))
            self._streaming = has_dataset
        else:
            self._incoming = Incoming("foreign", cmd, context_id, bytes(collector.data))

    def _take(self, cmd: dict[int, bytes], context_id: int, has_dataset: bool) -> bool:
        """Handle a message here instead of pynetdicom (the fast routes); True if taken."""
        return False

    def _fragment(self, incoming: Incoming, data: memoryview, last: bool) -> None:
        """A dataset fragment of a message kept here."""
        if incoming.kind == "foreign":
            assert incoming.head is not None
            if len(incoming.head) + len(data) <= MAX_MESSAGE_DATASET:
                incoming.head += data
            else:
                why = f"a dataset over {MAX_MESSAGE_DATASET} bytes with a request"
                if failure_response(incoming.cmd, CANNOT_UNDERSTAND) is None:
                    self._abort(f"{why}, which cannot be answered")
                    return
                self._refused(incoming, CANNOT_UNDERSTAND, why)
        if last:
            self._incoming = None
            self._message_done(incoming)

    def _message_done(self, incoming: Incoming) -> None:
        """A message kept here is complete: pass it on, or answer its refusal."""
        if incoming.kind == "foreign":
            assert incoming.head is not None
            self._emit(incoming.context_id, 0x03, incoming.command)
            self._emit(incoming.context_id, 0x02, bytes(incoming.head))
        elif incoming.kind == "refused":
            self._answer(incoming, incoming.status)

    # -- refusals

    def _refuse(self, cmd: dict[int, bytes], context_id: int, status: int, why: str) -> None:
        """Answer a request with a failure status (after its dataset, if one follows)."""
        has_dataset = us(cmd, 0x0800)
        if failure_response(cmd, status) is None or has_dataset is None:
            self._abort(f"{why}, which cannot be answered")
            return
        LOG.warning("%s sent %s: answering 0x%04X", self.link.peer(), why, status)
        incoming = Incoming("refused", cmd, context_id)
        incoming.status = status
        if has_dataset != NO_DATASET:
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
        if us(cmd, 0x0100) == C_STORE_RQ:
            sop_instance = cmd.get(0x1000)
            if sop_instance is not None and len(sop_instance) > 66:
                sop_instance = None
            sop_class = cmd.get(0x0002, b"")
            rsp = store_response(sop_class[:66], sop_instance, us(cmd, 0x0110) or 0, status)
        else:
            response = failure_response(cmd, status)
            assert response is not None
            rsp = response
        self.link.send_raw(pdata_pdu(incoming.context_id, 0x03, rsp))

    def _abort(self, why: str) -> None:
        """Drop what is being received and abort the association."""
        self.close(discard=True)
        self._command = None
        self._streaming = False
        self._dead = True
        self.link.protocol_abort(why)

    def close(self, discard: bool) -> None:
        """Drop a partially received message (connection lost or aborted)."""
        incoming, self._incoming = self._incoming, None
        if incoming is not None and discard:
            incoming.drop_spool()


def _bad_store_uid(cmd: dict[int, bytes]) -> str | None:
    """Why a C-STORE-RQ's SOP Class or Instance UID is not a UID, or None if both are."""
    for which, element in (("Class", 0x0002), ("Instance", 0x1000)):
        if valid_uid(cmd.get(element)) is None:
            return f"a C-STORE with an invalid SOP {which} UID {shown(cmd.get(element, b''))}"
    return None


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
