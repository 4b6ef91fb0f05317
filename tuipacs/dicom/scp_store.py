"""The archive server's Storage SCP: each received C-STORE goes to the backend.

Datasets arrive undecoded in a spool file (the transport's fast path, or pynetdicom's own
chunked receive on the stock transport); :meth:`StorageService.store` hands them to
``backend.store``, whose status is the answer: 0x0000 only once the instance is durable.
A dataset that could not be written (a full disk) is answered 0xA700 and the sender goes on.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tuipacs.dicom.scp_access import STORE
from tuipacs.dicom.scp_session import Session, session_of
from tuipacs.dicom.scp_types import (
    STORE_CANNOT_UNDERSTAND,
    STORE_DUPLICATE,
    STORE_NOT_AUTHORISED,
    STORE_OUT_OF_RESOURCES,
    STORE_SUCCESS,
    Backend,
    ReceivedInstance,
)
from tuipacs.dicom.transport import StoreRequest, disk_full, store_request

LOG = logging.getLogger(__name__)


class StorageService:
    """C-STORE handling of the archive server over a Backend."""

    def __init__(self, backend: Backend) -> None:
        """Store into `backend`."""
        self.backend = backend

    def received(self, session: Session, request: StoreRequest) -> int:
        """A C-STORE received into a spool file (unless writing it failed): the status."""
        if request.error is not None:  # the spool file could not be written; sender goes on
            session.count(STORE_OUT_OF_RESOURCES, 0)
            full = "the disk is full" if disk_full(request.error) else request.error.strerror
            LOG.warning(
                "C-STORE %s from %s: status 0x%04X (cannot write it to %s: %s)",
                request.sop_instance_uid,
                session.peer,
                STORE_OUT_OF_RESOURCES,
                request.path.parent,
                full,
            )
            return STORE_OUT_OF_RESOURCES
        received = ReceivedInstance(
            sop_class_uid=request.sop_class_uid,
            sop_instance_uid=request.sop_instance_uid,
            transfer_syntax_uid=request.transfer_syntax_uid,
            calling_ae=session.calling_ae,
            size=request.size,
            study_uid=request.study_uid,
            series_uid=request.series_uid,
        )
        return self.store(session, request.path, received)

    def store(self, session: Session, path: Path, received: ReceivedInstance) -> int:
        """Give a complete received file to the backend; its status is the answer."""
        if STORE not in session.allowed:
            LOG.warning("C-STORE from %s refused: not allowed to store", session.peer)
            return STORE_NOT_AUTHORISED
        try:
            status = int(self.backend.store(path, received))
        except Exception:  # noqa: BLE001 - the peer gets a failure status instead
            LOG.exception("storing %s failed", received.sop_instance_uid)
            status = STORE_CANNOT_UNDERSTAND
        duplicate = status == STORE_DUPLICATE
        if duplicate:  # the same object is archived already: success for the peer
            status = STORE_SUCCESS
        session.count(status, received.size, duplicate=duplicate)
        session.tally.count(received.study_uid or "", status, received.size)
        if status:
            LOG.warning(
                "C-STORE %s (%s) from %s: status 0x%04X",
                received.sop_instance_uid,
                received.sop_class_uid,
                session.peer,
                status,
            )
        return status

    def on_store(self, event: Any) -> int:
        """pynetdicom's EVT_C_STORE (its own receive: the stock transport, or a fallback)."""
        session = session_of(event.assoc)
        if session is None:
            return STORE_NOT_AUTHORISED
        try:
            request = store_request(event)
        except OSError as exc:  # the received file vanished
            LOG.warning("C-STORE from %s: received file unreadable: %s", session.peer, exc)
            session.count(STORE_OUT_OF_RESOURCES, 0)
            return STORE_OUT_OF_RESOURCES
        return self.received(session, request)
