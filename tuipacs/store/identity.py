"""Identity rules of the archive: one patient per study, one study per series, one object
per SOP Instance UID.

An instance is *refused* when

* its Series Instance UID already belongs to another study (kind ``series``), or
* its Study Instance UID already belongs to another patient (kind ``study``).

"Another patient" compares Patient ID plus Issuer of Patient ID, both as stored (spaces
trimmed), exactly: an empty Patient ID matches only an empty Patient ID, and an ID with an
issuer differs from the same ID with another issuer or none. Studies indexed before the
issuer was recorded (schema version 2) compare the Patient ID only. Names, birth dates and
the like are not compared (they are corrected in practice; the ID is the identity).

A *different object* with a SOP Instance UID the archive holds (kind ``instance``) is a
conflict: the archive keeps the first object. "Different" means the dataset bytes after the
File Meta Information differ (the meta group is written by whoever stored the file). The
same object sent again is a plain duplicate.

:func:`check` is run inside the write transaction that inserts (see ``Archive.add_files``),
so two writers cannot both pass. Messages name UIDs only, never patient names or IDs.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tuipacs import elements
from tuipacs.store.instance import InstanceRecord

Kind = Literal["series", "study", "instance"]

_UID_RE = re.compile(r"[0-9.]{1,64}")
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
)
_CHUNK = 1 << 20
#: A File Meta group longer than this is not believed (it is a few hundred bytes).
_MAX_META = 1 << 16


def shown(uid: str) -> str:
    """A UID for a message or log line: as it is if it looks like one, else escaped and cut."""
    if _UID_RE.fullmatch(uid):
        return uid
    escaped = uid[:80].encode("unicode_escape").decode("ascii").replace('"', '\\"')
    return f'"{escaped}"' + ("..." if len(uid) > 80 else "")


def shown_text(text: str) -> str:
    """A short peer-supplied text (an AE title) for a message: printable ASCII as it is,
    anything else escaped (both cut at 80 characters)."""
    if text.isascii() and text.isprintable() and len(text) <= 80:
        return text
    return shown(text)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an instance was not archived (no patient data in it)."""

    kind: Kind
    sop_uid: str
    study_uid: str
    series_uid: str
    other_uid: str
    """The study that owns the series (``series``), the study (``study``) or the SOP
    Instance UID (``instance``)."""

    @property
    def message(self) -> str:
        """One line naming the UIDs involved and what happened."""
        if self.kind == "series":
            return (
                f"series {shown(self.series_uid)} already belongs to study "
                f"{shown(self.other_uid)}, not {shown(self.study_uid)}; refused"
            )
        if self.kind == "study":
            return (
                f"study {shown(self.study_uid)} already belongs to another patient "
                f"(Patient ID or its issuer differs); refused"
            )
        return (
            f"a different object with SOP Instance UID {shown(self.sop_uid)} is already "
            "archived; the archive keeps the first"
        )


class RefusedError(Exception):
    """An instance broke an identity rule (or conflicts with an archived one)."""

    def __init__(self, refusal: Refusal, quarantine_id: int | None = None) -> None:
        """Wrap a refusal; ``quarantine_id`` says where the file was kept."""
        where = f" (quarantine #{quarantine_id})" if quarantine_id is not None else ""
        super().__init__(refusal.message + where)
        self.refusal = refusal
        self.quarantine_id = quarantine_id


def patient_key(record: InstanceRecord) -> tuple[str, str]:
    """What identifies the patient of an instance: (Patient ID, Issuer of Patient ID)."""
    return record.patient_id.strip(), record.issuer_of_patient_id.strip()


def same_patient(stored_id: str, stored_issuer: str | None, key: tuple[str, str]) -> bool:
    """Does a study's stored patient match ``key``? A NULL issuer (indexed before issuers
    were recorded) compares the ID only."""
    if stored_id.strip() != key[0]:
        return False
    return stored_issuer is None or stored_issuer.strip() == key[1]


def check(conn: sqlite3.Connection, record: InstanceRecord) -> Refusal | None:
    """The series and study rules against the index (run inside the write transaction)."""
    row = conn.execute(
        "SELECT st.study_uid FROM series se JOIN study st ON se.study_fk = st.id "
        "WHERE se.series_uid = ?",
        (record.series_uid,),
    ).fetchone()
    if row is not None and row[0] != record.study_uid:
        return refusal("series", record, row[0])
    row = conn.execute(
        "SELECT patient_id, issuer FROM study WHERE study_uid = ?", (record.study_uid,)
    ).fetchone()
    if row is not None and not same_patient(row[0], row[1], patient_key(record)):
        return refusal("study", record, record.study_uid)
    return None


def refusal(kind: Kind, record: InstanceRecord, other: str) -> Refusal:
    """A Refusal of ``record``."""
    return Refusal(kind, record.sop_uid, record.study_uid, record.series_uid, other)


# --------------------------------------------------------------------------- same object


def _dataset_start(path: Path) -> tuple[int, int]:
    """(offset of the dataset, file size) of a Part-10 file."""
    with open(path, "rb") as fh:
        head = fh.read(_MAX_META)
        size = fh.seek(0, 2)
    return elements.dataset_offset(head, size), size


def same_dataset(a: Path, b: Path) -> bool:
    """Do two files hold the same dataset bytes (the File Meta Information aside)?
    OSError if one cannot be read."""
    start_a, size_a = _dataset_start(a)
    start_b, size_b = _dataset_start(b)
    if size_a - start_a != size_b - start_b:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        fa.seek(start_a)
        fb.seek(start_b)
        while True:
            chunk = fa.read(_CHUNK)
            if chunk != fb.read(_CHUNK):
                return False
            if not chunk:
                return True


def dataset_digest(path: Path) -> str:
    """SHA-256 of a file's dataset bytes (after the File Meta Information)."""
    start, _ = _dataset_start(path)
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        fh.seek(start)
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
