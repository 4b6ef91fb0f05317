"""The archive server's backend: what tuipacs.dicom.scp asks of the archive.

Storing is two-phase so that a sender waits for durability but not for the index:

1. :meth:`ArchiveBackend.store` (on the association's thread, before the C-STORE response)
   reads the header (:mod:`tuipacs.server.records`; a dataset that does not parse is refused
   with 0xC000 and dropped), checks the identity rules against the index and the instances
   waiting in the inbox (:mod:`tuipacs.server.inbox`, :mod:`tuipacs.store.identity`),
   renames the received file into ``<archive>/inbox/<server>/``, fsyncs it and that folder.
   From then on the instance survives a crash: the answer is 0x0000.
2. The inbox thread adds queued files to the archive in batches (``Archive.add_files``:
   one index transaction per batch, which checks the rules again) and calls
   ``on_stored(study_uid, series_uid, sop_uid)`` for each new instance. Files still in the
   inbox when the server starts (after a crash) are indexed first.

C-STORE statuses besides success:

* 0xA700 (out of resources): the archive's file system is nearly full or a write failed;
* 0xC000 (cannot understand): the dataset does not parse (nothing is kept);
* 0xC002 (cannot understand): the dataset's SOP Instance UID is not the one in the request
  (nothing is kept: the sender would believe the request's UID stored);
* 0xC001 (refused, identity): the instance's series belongs to another study, or its study
  to another patient (Patient ID plus issuer); the file goes to the quarantine
  (``tuipacs quarantine``);
* 0xB001 (warning, conflict): a different object with this SOP Instance UID is archived;
  the archive keeps the first object and quarantines the new one. The same object sent
  again is answered 0x0000 and dropped (a duplicate).

Each refusal and conflict is logged on one line with UIDs, the calling AE title and the
quarantine entry, never patient names or IDs.

Queries and retrieves (:mod:`tuipacs.server.qr`) answer from the index as it stands and
never wait for the inbox: an instance is found once it is indexed, within about a second of
its answer (``tuipacs.server.inbox.MAX_DELAY``).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

from pydicom.dataset import Dataset

from tuipacs.dicom.scp_types import (
    STORE_CANNOT_UNDERSTAND,
    STORE_DUPLICATE,
    STORE_OUT_OF_RESOURCES,
    STORE_SUCCESS,
    Level,
    ReceivedInstance,
    Root,
    StoredInstance,
)
from tuipacs.server import qr
from tuipacs.server.inbox import Inbox
from tuipacs.server.records import fast_record
from tuipacs.store.archive import Archive, ArchiveError
from tuipacs.store.identity import RefusedError, shown, shown_text
from tuipacs.store.records import BadDicomError, NotDicomError

LOG = logging.getLogger("tuipacs.server")

#: Refuse C-STOREs (0xA700) when less than this is free on the archive's file system.
MIN_FREE_BYTES = 64 * 1024 * 1024
#: Refused: the series belongs to another study or the study to another patient.
STORE_IDENTITY_REFUSED = 0xC001
#: Warning: a different object with this SOP Instance UID is archived (the first is kept).
STORE_SOP_CONFLICT = 0xB001
#: The dataset's SOP Instance UID differs from the C-STORE request's.
STORE_UID_MISMATCH = 0xC002


class ArchiveBackend:
    """tuipacs.dicom.scp's Backend over the local archive."""

    def __init__(self, archive: Archive, inbox: Inbox, min_free: int = MIN_FREE_BYTES) -> None:
        """Serve `archive`; received files go through `inbox`."""
        self.archive = archive
        self.inbox = inbox
        self.min_free = min_free

    def _space_left(self, size: int) -> bool:
        try:
            free = shutil.disk_usage(self.archive.root).free
        except OSError:
            return True
        return free - size >= self.min_free

    def store(self, path: Path, info: ReceivedInstance) -> int:
        """Parse the header, check it, make the file durable in the inbox, answer (see the
        module doc for the statuses)."""
        if not self._space_left(info.size):
            LOG.error("archive file system nearly full: refusing %s", shown(info.sop_instance_uid))
            return STORE_OUT_OF_RESOURCES
        try:
            record = fast_record(path)
        except (NotDicomError, BadDicomError) as exc:
            LOG.warning("refusing %s: %s", shown(info.sop_instance_uid), exc)
            return STORE_CANNOT_UNDERSTAND
        caller = shown_text(info.calling_ae)
        if record.sop_uid != info.sop_instance_uid:
            # answering "stored" for the request's UID while keeping another would lose it
            LOG.warning(
                "C-STORE from %s refused: the dataset's SOP Instance UID %s is not the "
                "request's %s",
                caller,
                shown(record.sop_uid),
                shown(info.sop_instance_uid),
            )
            return STORE_UID_MISMATCH
        try:
            outcome = self.inbox.put(path, record, source=f"C-STORE from {caller}")
        except RefusedError as exc:
            conflict = exc.refusal.kind == "instance"
            LOG.warning(
                "C-STORE from %s %s: %s",
                caller,
                "conflicts" if conflict else "refused",
                exc,
            )
            return STORE_SOP_CONFLICT if conflict else STORE_IDENTITY_REFUSED
        except (OSError, ArchiveError) as exc:
            LOG.error("cannot store %s: %s", shown(info.sop_instance_uid), exc)
            return STORE_OUT_OF_RESOURCES
        return STORE_DUPLICATE if outcome == "duplicate" else STORE_SUCCESS

    def find(self, level: Level, root: Root, identifier: Dataset) -> Iterator[Dataset]:
        """C-FIND over the index as it stands (never waits for the inbox)."""
        return qr.find(self.archive, level, identifier)

    def instances_for(self, level: Level, root: Root, identifier: Dataset) -> list[StoredInstance]:
        """Instances for C-GET/C-MOVE, from the index as it stands."""
        return qr.instances_for(self.archive, root, identifier)
