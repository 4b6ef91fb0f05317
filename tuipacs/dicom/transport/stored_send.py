"""Sending archived files for C-GET and C-MOVE sub-operations.

pynetdicom's Q/R service classes only accept ``Dataset`` objects from our handlers and send
them with ``Association.send_c_store``, which encodes them again. The handlers yield
:func:`sendable` for each archived file:

* fast transport (speed): a :class:`StoredRef` (a Dataset that only names the file), and
  :func:`enable_stored_sending` makes the association's ``send_c_store`` stream that file
  unchanged (pynetdicom's chunked send) when the peer accepted its SOP class in its
  transfer syntax;
* stock transport: the decoded dataset, as a user of pynetdicom would yield it.

When the peer accepts the SOP class only uncompressed, the file is decoded and sent
uncompressed (pynetdicom converts between the little endian syntaxes); if that is
impossible, or the file cannot be read, the sub-operation fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom.association import Association

from tuipacs.dicom.scp_types import StoredInstance
from tuipacs.dicom.transport.mode import selected

LOG = logging.getLogger(__name__)

UNCOMPRESSED: list[str | UID] = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
_STREAMS_ATTR = "_tuipacs_streams_files"
_REENCODE = {DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian}

SendCStore = Callable[..., Dataset]


class StoredRef(Dataset):
    """Stands for an archived file in the (status, dataset) pairs of C-GET/C-MOVE handlers."""

    stored: StoredInstance

    def __init__(self, instance: StoredInstance) -> None:
        """Carry the SOP UIDs (pynetdicom reports failures by SOPInstanceUID) and the file."""
        super().__init__()
        self.SOPClassUID = instance.sop_class_uid
        self.SOPInstanceUID = instance.sop_instance_uid
        object.__setattr__(self, "stored", instance)


def _accepts(assoc: Association, sop_class: str, syntax: str) -> bool:
    """Did the peer accept sop_class in exactly this transfer syntax, with us as SCU?"""
    try:
        assoc._get_valid_context(sop_class, syntax, "scu", allow_conversion=False)
    except ValueError:
        return False
    return True


def _uncompressed(instance: StoredInstance) -> Dataset:
    """The archived dataset decoded, to be sent in an uncompressed syntax."""
    ds = dcmread(instance.path)
    syntax = UID(instance.transfer_syntax_uid)
    if syntax.is_compressed:
        ds.decompress()
    elif syntax in _REENCODE:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def send_stored(
    assoc: Association,
    original: SendCStore,
    dataset: Any,
    msg_id: int = 1,
    priority: int = 2,
    originator_aet: str | None = None,
    originator_id: int | None = None,
) -> Dataset:
    """``send_c_store`` for StoredRef datasets (anything else goes to the original)."""
    if not isinstance(dataset, StoredRef):
        return original(dataset, msg_id, priority, originator_aet, originator_id)
    instance = dataset.stored
    if _accepts(assoc, instance.sop_class_uid, instance.transfer_syntax_uid):
        payload: Any = instance.path
    elif any(_accepts(assoc, instance.sop_class_uid, ts) for ts in UNCOMPRESSED):
        LOG.info(
            "peer does not accept %s in %s: sending it decompressed",
            instance.sop_instance_uid,
            instance.transfer_syntax_uid,
        )
        payload = _uncompressed(instance)
    else:
        raise ValueError(
            f"the peer accepted no context for SOP class {instance.sop_class_uid} "
            f"({instance.sop_instance_uid})"
        )
    return original(payload, msg_id, priority, originator_aet, originator_id)


def enable_stored_sending(assoc: Association) -> None:
    """Let this association's send_c_store take StoredRef datasets."""
    original = assoc.send_c_store

    def send_c_store(
        dataset: Any,
        msg_id: int = 1,
        priority: int = 2,
        originator_aet: str | None = None,
        originator_id: int | None = None,
    ) -> Dataset:
        return send_stored(
            assoc, original, dataset, msg_id, priority, originator_aet, originator_id
        )

    assoc.send_c_store = send_c_store  # type: ignore[method-assign]
    setattr(assoc, _STREAMS_ATTR, True)


def sendable(instance: StoredInstance, assoc: Association | None = None) -> Dataset:
    """What a C-GET/C-MOVE handler yields to send an archived file over `assoc`.

    A StoredRef where the association streams files (fast transport; for a C-MOVE, whose
    association pynetdicom opens later, `assoc` is None and the transport decides), else
    the decoded dataset: uncompressed if `assoc` accepts its SOP class only so. A file
    that cannot be read gives a StoredRef all the same: pynetdicom cannot send it and
    counts a failed sub-operation.
    """
    ref = StoredRef(instance)
    streams = selected() == "fast" if assoc is None else hasattr(assoc, _STREAMS_ATTR)
    if streams:
        return ref
    try:
        if assoc is not None and not _accepts(
            assoc, instance.sop_class_uid, instance.transfer_syntax_uid
        ):
            return _uncompressed(instance)
        return dcmread(instance.path)
    except Exception as exc:  # noqa: BLE001 - hostile or vanished files fail one sub-operation
        LOG.warning("cannot read archived instance %s: %s", instance.sop_instance_uid, exc)
        return ref
