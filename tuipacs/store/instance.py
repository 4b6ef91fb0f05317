"""What the index keeps about one instance, and the errors of reading it (no pydicom here).

Kept apart from :mod:`tuipacs.store.records` (which reads files with pydicom) so that opening
the archive and listing it, as the app does at start-up, does not import pydicom.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UID_RE = re.compile(r"[0-9]+(\.[0-9]+)*")
#: Longest UID (PS3.5 9.1).
MAX_UID = 64


class NotDicomError(Exception):
    """The file is not DICOM at all (no preamble/prefix and no parseable header)."""


class BadDicomError(Exception):
    """The file looks like DICOM but is broken (truncated, unparseable, missing UIDs)."""


def uid_problem(sop_uid: str, study_uid: str, series_uid: str) -> str | None:
    """Why these identifying UIDs cannot be archived (missing, not a UID), or None.

    A UID is digits separated by single dots, at most 64 characters (PS3.5 9.1); leading
    zeros are tolerated (old modalities write them). Anything else would make the
    instance's identity depend on how a reader cleans the value up.
    """
    for what, uid in (("SOP instance", sop_uid), ("study", study_uid), ("series", series_uid)):
        if not uid:
            return "missing study, series or SOP instance UID"
        if len(uid) > MAX_UID or not _UID_RE.fullmatch(uid):
            shown = uid[:70].encode("unicode_escape").decode("ascii")
            return f"the {what} UID is not a valid UID ({shown!r}{'...' if len(uid) > 70 else ''})"
    return None


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """What the index keeps about one instance (and its series, study, patient)."""

    patient_id: str
    patient_name: str
    birth_date: str
    sex: str
    study_uid: str
    study_date: str
    study_time: str
    accession: str
    study_description: str
    referring: str
    study_id: str
    series_uid: str
    series_number: str
    series_description: str
    modality: str
    body_part: str
    series_date: str
    sop_uid: str
    sop_class_uid: str
    instance_number: int | None
    transfer_syntax: str
    rows: int | None
    columns: int | None
    frames: int
    file_size: int
    image_position: str = ""
    """Image Position (Patient) as stored: ``x\\y\\z`` in mm, or empty."""
    image_orientation: str = ""
    """Image Orientation (Patient) as stored: six direction cosines, or empty."""
    issuer_of_patient_id: str = ""
    """Issuer of Patient ID: with the Patient ID, who the patient is (store.identity)."""
