"""Finding the priors of a study: in the local archive and on a node (no Textual).

:func:`find_local` reads the archive's index (the patient's identity is the archive's own:
Patient ID and Issuer of Patient ID, :func:`tuipacs.store.identity.same_patient`);
:func:`find_remote` asks a node through the client seam, at the study level, by Patient ID,
for a bounded number of answers, and keeps those of the same patient
(:func:`tuipacs.view.priors.same_patient`: an answer with another issuer is dropped).
Both are called from worker threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuipacs.store.identity import same_patient as archive_same_patient
from tuipacs.view.priors import Candidate, modality_codes, same_patient

if TYPE_CHECKING:
    from tuipacs.remote import PacsClient
    from tuipacs.store.archive import Archive
    from tuipacs.store.query import StudyRow

LOCAL_LIMIT = 500
"""Studies of one patient read from the archive (more is not a patient, it is a test ID)."""
REMOTE_LIMIT = 50
"""Answers asked of a node."""
MAX_IMAGES = 10_000_000
"""An image count above this (from a peer) is not believed."""

PRIOR_RETURN_KEYS = (
    "PatientID",
    "IssuerOfPatientID",
    "StudyDate",
    "ModalitiesInStudy",
    "StudyDescription",
    "StudyInstanceUID",
    "NumberOfStudyRelatedInstances",
)
"""What a node is asked of each study (PatientID is the matching key)."""

_SQL = (
    "SELECT s.study_uid, s.study_date, s.modalities, s.description, s.num_instances, "
    "s.patient_id, s.issuer, "
    "(SELECT group_concat(se.body_part, '\\') FROM series se WHERE se.study_fk = s.id) "
    "FROM study s"
)


@dataclass(frozen=True)
class LocalPriors:
    """The current study as a candidate, its patient, and the patient's other studies here."""

    current: Candidate
    patient_id: str
    issuer: str
    others: list[Candidate]


def _candidate(row: Sequence[object]) -> Candidate:
    parts = tuple(p for p in str(row[7] or "").split("\\") if p.strip())
    return Candidate(
        study_uid=str(row[0]),
        study_date=str(row[1] or ""),
        modalities=modality_codes(str(row[2] or "")),
        body_parts=parts[:16],
        description=str(row[3] or ""),
        images=int(str(row[4])),
        where="here",
    )


def find_local(archive: Archive, study_uid: str) -> LocalPriors | None:
    """The patient's other studies in the archive (None: the study is not there). A study
    without a Patient ID has none: it cannot be matched."""
    rows = archive.execute(f"{_SQL} WHERE s.study_uid = ?", (study_uid,))
    if not rows:
        return None
    row = rows[0]
    current = _candidate(row)
    patient_id, issuer = str(row[5] or ""), row[6]
    key = (patient_id.strip(), str(issuer or "").strip())
    others: list[Candidate] = []
    if key[0]:
        found = archive.execute(
            f"{_SQL} WHERE s.patient_id = ? AND s.study_uid != ? LIMIT ?",
            (patient_id, study_uid, LOCAL_LIMIT),
        )
        others = [
            _candidate(r)
            for r in found
            if archive_same_patient(str(r[5] or ""), None if r[6] is None else str(r[6]), key)
        ]
    return LocalPriors(current, key[0], key[1], others)


def _images(text: str) -> int | None:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        return None
    value = int(text)
    return value if value <= MAX_IMAGES else None


def find_remote(client: PacsClient, patient_id: str, issuer: str) -> list[Candidate]:
    """The studies of the patient on ``client``'s node (at most REMOTE_LIMIT asked for);
    answers of another patient (another ID, or another issuer where the node gives one) are
    dropped. Raises RemoteError (one line) when the node fails."""
    keys = {keyword: "" for keyword in PRIOR_RETURN_KEYS}
    keys["PatientID"] = patient_id
    rows = client.find(level="study", root="study", keys=keys, limit=REMOTE_LIMIT)
    found: list[Candidate] = []
    for row in rows:
        other_issuer = row.get("IssuerOfPatientID", "")
        if not same_patient(patient_id, issuer, row.get("PatientID", ""), other_issuer):
            continue
        found.append(
            Candidate(
                study_uid=row.get("StudyInstanceUID", "").strip()[:64],
                study_date=row.get("StudyDate", "")[:8],
                modalities=modality_codes(row.get("ModalitiesInStudy", "")[:200]),
                description=row.get("StudyDescription", "")[:200],
                images=_images(row.get("NumberOfStudyRelatedInstances", "")),
                where="node",
            )
        )
    return found


def node_for(study: StudyRow, nodes: Sequence[str]) -> str:
    """The node to look for priors on: the one the study was retrieved from, else the first
    configured node, else "" (local only)."""
    if study.known_node:
        return study.known_node
    return nodes[0] if nodes else ""
