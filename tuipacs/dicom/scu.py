"""DICOM client operations: C-ECHO and C-FIND (retrieve lives in retrieve.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pynetdicom.association import Association
from pynetdicom.presentation import build_context

from tuipacs.dicom import net
from tuipacs.dicom.errors import AssociationAborted, NetTimeout, QueryError, ServiceFailed
from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.status import CANCEL, FAILURE, PENDING, describe
from tuipacs.dicom.transport import context_id

VERIFICATION = "1.2.840.10008.1.1"
PATIENT_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"

Level = Literal["patient", "study", "series", "image"]
Root = Literal["study", "patient"]
LEVELS: tuple[Level, ...] = ("patient", "study", "series", "image")
ROOTS: tuple[Root, ...] = ("study", "patient")

_PATIENT_KEYS = ["PatientName", "PatientID", "PatientBirthDate", "PatientSex"]
#: Return keys asked for by default at each level (values empty = "return this").
RETURN_KEYS: dict[str, list[str]] = {
    "patient": [*_PATIENT_KEYS, "NumberOfPatientRelatedStudies"],
    "study": [
        *_PATIENT_KEYS,
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "StudyID",
        "AccessionNumber",
        "StudyDescription",
        "ReferringPhysicianName",
        "ModalitiesInStudy",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    ],
    "series": [
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SeriesNumber",
        "Modality",
        "SeriesDescription",
        "SeriesDate",
        "NumberOfSeriesRelatedInstances",
    ],
    "image": [
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "SOPClassUID",
        "InstanceNumber",
    ],
}
_SKIP_KEYS = {"QueryRetrieveLevel", "SpecificCharacterSet", "RetrieveAETitle"}


@dataclass(frozen=True)
class EchoResult:
    """Outcome of a C-ECHO: ok, round-trip of the echo itself and of the whole exchange."""

    ok: bool
    ms: float
    total_ms: float
    status: str


def echo(node: Node, local: LocalAE) -> EchoResult:
    """C-ECHO `node`. Raises DicomNetError (with advice) when no association is possible."""
    start = time.perf_counter()
    assoc = net.associate(node, local, [build_context(VERIFICATION)])
    try:
        sent = time.perf_counter()
        status = assoc.send_c_echo()
        done = time.perf_counter()
    finally:
        net.close(assoc)
    total = (time.perf_counter() - start) * 1000.0
    if "Status" not in status:
        return EchoResult(False, (done - sent) * 1000.0, total, "no answer to C-ECHO")
    info = describe(int(status.Status))
    return EchoResult(info.category == "success", (done - sent) * 1000.0, total, info.line())


def find_model(level: str, root: str) -> str:
    """The C-FIND information model UID for a level and root (QueryError if invalid)."""
    if level not in LEVELS:
        raise QueryError(f"unknown query level {level!r}: use one of {', '.join(LEVELS)}")
    if root not in ROOTS:
        raise QueryError(f"unknown query root {root!r}: use 'study' or 'patient'")
    if root == "study" and level == "patient":
        raise QueryError("patient-level queries need the patient root (--root patient)")
    if root == "patient":
        return PATIENT_ROOT_FIND
    return STUDY_ROOT_FIND


def build_query(level: str, root: str, keys: Mapping[str, str] | None = None) -> Dataset:
    """The C-FIND identifier: default return keys for the level plus the user's keys."""
    find_model(level, root)
    ds = Dataset()
    ds.QueryRetrieveLevel = level.upper()
    wanted = list(RETURN_KEYS[level])
    if root == "patient" and level != "patient":
        wanted = [k for k in wanted if k not in _PATIENT_KEYS] + ["PatientID"]
    for keyword in wanted:
        setattr(ds, keyword, "")
    non_ascii = False
    for keyword, value in (keys or {}).items():
        if tag_for_keyword(keyword) is None:
            raise QueryError(f"unknown DICOM keyword {keyword!r} (use e.g. PatientName=DOE*)")
        if not isinstance(value, str):
            raise QueryError(f"value of {keyword} must be text, got {value!r}")
        non_ascii = non_ascii or not value.isascii()
        _set_key(ds, keyword, value)
    if non_ascii:
        ds.SpecificCharacterSet = "ISO_IR 192"
    return ds


def _set_key(ds: Dataset, keyword: str, value: str) -> None:
    """Set one matching key; numbers given as text become numbers for IS/US/UL keys."""
    vr = dictionary_VR(keyword)
    if value and vr in {"US", "UL", "SS", "SL"}:
        try:
            setattr(ds, keyword, int(value))
        except ValueError:
            raise QueryError(f"{keyword} needs a number, got {value!r}") from None
        return
    setattr(ds, keyword, value)


def as_row(identifier: Dataset) -> dict[str, str]:
    """A response identifier as {keyword: text}, character sets applied."""
    row: dict[str, str] = {}
    for element in identifier:
        keyword = element.keyword
        if not keyword or keyword in _SKIP_KEYS or element.VR == "SQ":
            continue
        value = element.value
        if value is None:
            row[keyword] = ""
        elif isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
            row[keyword] = "\\".join(str(v) for v in value)
        elif isinstance(value, bytes):
            row[keyword] = value.decode("latin-1", "replace")
        else:
            row[keyword] = str(value)
    return row


def iter_find(
    assoc: Association, node: Node, query: Dataset, model: str, limit: int | None = None
) -> Iterator[dict[str, str]]:
    """Run a C-FIND on an open association; yield rows; C-CANCEL after `limit` rows."""
    count = 0
    responses = assoc.send_c_find(query, model)
    for status, identifier in responses:
        if "Status" not in status:
            if assoc.is_aborted:
                raise AssociationAborted(
                    f"{node.name} aborted the query or the connection dropped: retry, or "
                    "narrow the query"
                )
            raise NetTimeout(
                f"{node.name} did not answer the query within {node.timeout:.0f} s: narrow "
                "the query (date range) or raise the node's timeout"
            )
        info = describe(int(status.Status))
        if info.category == PENDING and identifier is not None:
            if limit is not None and count >= limit:
                continue  # cancelled: drain what the archive had already sent
            yield as_row(identifier)
            count += 1
            if limit is not None and count >= limit:
                assoc.send_c_cancel(1, context_id(assoc, model))
        elif info.category in (FAILURE,):
            raise ServiceFailed(f"{node.name}: query failed: {info.line()}", info.code)
        elif info.category == CANCEL:
            return


def find(
    node: Node,
    local: LocalAE,
    level: Level = "study",
    root: Root = "study",
    keys: Mapping[str, str] | None = None,
    limit: int | None = None,
) -> list[dict[str, str]]:
    """C-FIND on `node`; one {keyword: text} dict per match.

    `keys` are DICOM keywords with matching values (PatientName="DOE*",
    StudyDate="20200101-20201231", ModalitiesInStudy="CT"); the usual return keys of
    the level are added. Raises QueryError for bad input, DicomNetError for failures.
    """
    model = find_model(level, root)
    query = build_query(level, root, keys)
    with net.association(node, local, [build_context(model)]) as assoc:
        return list(iter_find(assoc, node, query, model, limit))
