"""The fast routes of the fast transport (speed): messages taken from pynetdicom.

:class:`FastRouter` is the :class:`~tuipacs.dicom.transport.guard.MessageGuard` of the fast
transport, with routes that bypass pynetdicom's DIMSE layer (which decodes every command
set with pydicom and copies each PDU several times):

* a C-STORE-RQ with a dataset on an accepted context: the dataset fragments are written
  straight from the receive buffer into a Part-10 spool file (preamble, file meta, dataset
  as sent), the store callback runs and the C-STORE-RSP is sent directly; nothing is
  decoded by pydicom. A spool file that cannot be created or written (0xA700, e.g. a full
  disk: the rest of that dataset is discarded) is told to the callback, which answers;
* a pending C-GET/C-MOVE response: its counts go to a callback;
* a pending C-FIND response (Implicit or Explicit VR Little Endian): its raw identifier
  goes to a callback (at most MAX_MESSAGE_DATASET bytes, else the association is aborted).

Everything else is left to the guard (and pynetdicom).
"""

from __future__ import annotations

import logging

from pynetdicom.association import Association

from tuipacs.dicom.transport.codec import EXPLICIT_LE, IMPLICIT_LE, text_value, us
from tuipacs.dicom.transport.guard import (
    C_STORE_RQ,
    CANNOT_UNDERSTAND,
    OUT_OF_RESOURCES,
    Link,
    MessageGuard,
)
from tuipacs.dicom.transport.options import LinkOptions
from tuipacs.dicom.transport.spool import Incoming, disk_full, preamble_for, unlink_quietly
from tuipacs.dicom.transport.wire import MAX_MESSAGE_DATASET

LOG = logging.getLogger(__name__)

_C_FIND_RSP = 0x8020
_C_GET_RSP = 0x8010
_C_MOVE_RSP = 0x8021
_PENDING = (0xFF00, 0xFF01)


class FastRouter(MessageGuard):
    """The guard of the fast transport, with its routes for C-STORE, pending and C-FIND."""

    def __init__(self, link: Link, options: LinkOptions) -> None:
        """Route for `link` with these options (its callbacks)."""
        super().__init__(link)
        self.options = options

    def _take(self, cmd: dict[int, bytes], context_id: int, has_dataset: bool) -> bool:
        """C-STOREs to a spool file, pending responses to the callbacks; True if taken."""
        field = us(cmd, 0x0100)
        options = self.options
        pending = us(cmd, 0x0900) in _PENDING
        if field == C_STORE_RQ and has_dataset and options.store is not None:
            if context_id not in self.link.assoc._accepted_cx:
                return False  # pynetdicom answers that one
            self._begin_store(cmd, context_id)
            return True
        if field in (_C_GET_RSP, _C_MOVE_RSP) and pending and not has_dataset:
            if options.pending is None:
                return False
            _report_pending(options, cmd)
            return True
        if field == _C_FIND_RSP and pending and has_dataset and options.find is not None:
            if not self._plain_syntax(context_id):
                return False
            self._incoming = Incoming("find", cmd, context_id)
            return True
        return False

    def _plain_syntax(self, context_id: int) -> bool:
        """True if the context's transfer syntax is Implicit or Explicit VR Little Endian."""
        context = self.link.assoc._accepted_cx.get(context_id)
        return context is not None and str(context.transfer_syntax[0]) in (
            IMPLICIT_LE,
            EXPLICIT_LE,
        )

    def _fragment(self, incoming: Incoming, data: memoryview, last: bool) -> None:
        """A dataset fragment: a C-STORE's goes to its spool file (the hot path)."""
        if incoming.kind == "store":
            try:
                incoming.write(data)
            except OSError as exc:
                self._spool_failed(incoming, exc)
        elif incoming.kind == "find":
            assert incoming.head is not None
            if len(incoming.head) + len(data) > MAX_MESSAGE_DATASET:
                self._abort(f"a C-FIND identifier over {MAX_MESSAGE_DATASET} bytes")
                return
            incoming.head += data
        else:
            super()._fragment(incoming, data, last)
            return
        if last:
            self._incoming = None
            self._message_done(incoming)

    def _message_done(self, incoming: Incoming) -> None:
        """Run the callback of a complete C-STORE or C-FIND identifier (else: the guard)."""
        if incoming.kind == "find":
            _report_find(self.options, self.link.assoc, incoming)
        elif incoming.kind == "store" or incoming.error is not None:
            self._finish_store(incoming)
        else:
            super()._message_done(incoming)

    # -- C-STORE

    def _begin_store(self, cmd: dict[int, bytes], context_id: int) -> None:
        """Open the spool file of a C-STORE-RQ (UIDs checked), write preamble and file meta."""
        incoming = Incoming("store", cmd, context_id)
        incoming.syntax = str(self.link.assoc._accepted_cx[context_id].transfer_syntax[0])
        self._incoming = incoming
        sop_class, sop_instance = text_value(cmd, 0x0002), text_value(cmd, 0x1000)
        preamble = preamble_for(self.link.assoc, context_id, sop_class, sop_instance)
        try:
            incoming.open_spool(self.options.spool, preamble)
        except OSError as exc:
            self._spool_failed(incoming, exc)

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

        After a spool error the callback is told too (it counts it, a retrieve stops on a
        full disk) and the answer is the error's status whatever the callback says.
        """
        if incoming.kind == "store":
            try:
                incoming.close_spool()
            except OSError as exc:
                self._spool_failed(incoming, exc)
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


def _report_find(options: LinkOptions, assoc: Association, incoming: Incoming) -> None:
    """Hand a complete pending C-FIND identifier to the find callback."""
    explicit = str(assoc._accepted_cx[incoming.context_id].transfer_syntax[0]) == EXPLICIT_LE
    if options.find is not None and incoming.head is not None:
        try:
            options.find(bytes(incoming.head), explicit)
        except Exception:  # noqa: BLE001 - a callback bug must not kill the reactor
            LOG.exception("find callback failed")


def _report_pending(options: LinkOptions, cmd: dict[int, bytes]) -> None:
    """Report the counts of a pending C-GET/C-MOVE response."""
    counts = {
        "remaining": us(cmd, 0x1020),
        "completed": us(cmd, 0x1021),
        "failed": us(cmd, 0x1022),
        "warning": us(cmd, 0x1023),
    }
    if options.pending is not None:
        try:
            options.pending({k: v for k, v in counts.items() if v is not None})
        except Exception:  # noqa: BLE001 - progress must never break the transfer
            LOG.exception("pending-response callback failed")
