"""Sending archived files for C-GET and C-MOVE sub-operations, as stored when possible.

pynetdicom's Q/R service classes only accept ``Dataset`` objects from our handlers and send
them with ``Association.send_c_store``. The handlers yield a :class:`StoredRef` (a Dataset
that only names an archived file) and :func:`enable_stored_sending` makes the association's
``send_c_store`` stream that file unchanged when the peer accepted its SOP class in its
transfer syntax. Otherwise the file is decoded and sent uncompressed (pynetdicom converts
between the little endian syntaxes); if that is impossible the sub-operation fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
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
from pynetdicom import _config
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext, build_context

from tuipacs.dicom.scp_types import StoredInstance

LOG = logging.getLogger(__name__)

UNCOMPRESSED: list[str | UID] = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
MAX_CONTEXTS = 128
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


def configure() -> None:
    """Files given by path are streamed, not decoded (pynetdicom's chunked send)."""
    _config.STORE_SEND_CHUNKED_DATASET = True


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


def move_contexts(instances: Sequence[StoredInstance]) -> list[PresentationContext]:
    """Contexts to propose to a C-MOVE destination for these instances.

    Each SOP class gets an uncompressed context; each stored compressed (or otherwise
    special) syntax gets its own context, as far as the 128-context limit allows.
    """
    classes: dict[str, list[str]] = {}
    for instance in instances:
        syntaxes = classes.setdefault(instance.sop_class_uid, [])
        if instance.transfer_syntax_uid not in syntaxes:
            syntaxes.append(instance.transfer_syntax_uid)
    contexts = [build_context(sop_class, UNCOMPRESSED) for sop_class in classes]
    for sop_class, syntaxes in classes.items():
        for syntax in syntaxes:
            if syntax in UNCOMPRESSED:
                continue
            if len(contexts) >= MAX_CONTEXTS:
                LOG.warning("too many SOP class/syntax pairs: %s will be sent decompressed", syntax)
                break
            contexts.append(build_context(sop_class, [syntax]))
    return contexts[:MAX_CONTEXTS]
