"""What the archive server (Storage and Query/Retrieve SCP) needs from its storage backend.

The DICOM layer never imports the archive: :class:`Backend` is implemented on top of it
elsewhere (``tuipacs.server``), and :class:`IdentifierError` is how a backend tells the SCP
that a C-FIND/C-GET/C-MOVE identifier cannot be served (answered 0xA900).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from pydicom.dataset import Dataset

from tuipacs.dicom.errors import DicomError

Level = Literal["PATIENT", "STUDY", "SERIES", "IMAGE"]
Root = Literal["patient", "study"]
LEVELS: tuple[Level, ...] = ("PATIENT", "STUDY", "SERIES", "IMAGE")

#: C-STORE statuses a backend returns.
STORE_SUCCESS = 0x0000
STORE_OUT_OF_RESOURCES = 0xA700
STORE_CANNOT_UNDERSTAND = 0xC000
STORE_NOT_AUTHORISED = 0x0124
#: Not a DIMSE status: the backend already holds this very object (same dataset bytes) and
#: dropped the copy. The peer is answered 0x0000; the server counts it apart from "stored".
STORE_DUPLICATE = 0x10000


class IdentifierError(DicomError):
    """A query or retrieve identifier the archive cannot serve (bad level, missing key)."""


@dataclass(frozen=True, slots=True)
class ReceivedInstance:
    """A received instance, complete in a Part-10 file, described without decoding it.

    The one description of a received instance, for the Storage SCP's backend and for the
    retrieve sinks. The SOP UIDs are the C-STORE request's; ``transfer_syntax_uid`` is the
    presentation context's, i.e. the encoding of the dataset in the file. study_uid and
    series_uid come from the retrieve's query when known, else from the dataset's first
    bytes (None when neither says); ``size`` is the file's size in bytes.
    """

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    study_uid: str | None = None
    series_uid: str | None = None
    size: int = 0
    calling_ae: str = ""


@dataclass(frozen=True, slots=True)
class StoredInstance:
    """An archived instance to send for a C-GET or C-MOVE."""

    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    study_uid: str = ""


class Backend(Protocol):
    """Storage behind the SCP. Methods are called from many association threads at once."""

    def store(self, path: Path, info: ReceivedInstance) -> int:
        """Keep the Part-10 file at ``path`` (the backend may move it away).

        Returns 0x0000 only once the instance is durable, STORE_DUPLICATE when the same object
        is already archived (answered 0x0000), 0xC000 if the dataset does not parse (nothing
        is kept) and 0xA700 when out of resources (disk full).
        """
        ...

    def find(self, level: Level, root: Root, identifier: Dataset) -> Iterator[Dataset]:
        """C-FIND: one response identifier per match (raises IdentifierError)."""
        ...

    def instances_for(self, level: Level, root: Root, identifier: Dataset) -> list[StoredInstance]:
        """C-GET/C-MOVE: the instances an identifier selects (raises IdentifierError)."""
        ...


def check_level(identifier: Dataset, root: Root) -> Level:
    """The Query/Retrieve Level of an identifier, checked against the information model."""
    value = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if value not in LEVELS:
        raise IdentifierError(
            f"bad QueryRetrieveLevel {value!r}: use PATIENT, STUDY, SERIES or IMAGE"
        )
    if value == "PATIENT" and root == "study":
        raise IdentifierError("PATIENT level needs the Patient Root information model")
    return value
