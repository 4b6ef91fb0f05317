"""QIDO-RS: the seam's find as a DICOMweb search, and DICOM JSON answers as rows.

A search asks for the same return keys as a DIMSE C-FIND at that level
(:data:`tuipacs.dicom.scu.RETURN_KEYS`, as ``includefield``) and every row holds them and
the keys asked for, no others (empty when the server left one out), so ``find`` prints the
same columns and ``--json`` the same shape for both kinds of node. DICOMweb has no patient level.

Every answer is untrusted: it must be a list of DICOM JSON objects (anything else is one
:class:`~tuipacs.dicomweb.http.WebError`), rows, values per element and characters per
value are bounded, and texts are left for whoever shows them to clean
(:mod:`tuipacs.safe_text`), as for DIMSE rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from tuipacs.dicomweb.http import WebError
from tuipacs.remote.results import QueryInvalid

#: Most rows taken from one answer, values kept of one element, characters of one value.
MAX_ROWS = 100_000
MAX_VALUES = 64
MAX_TEXT = 1024
#: Elements a row keeps (as C-FIND rows do not hold them, neither do these).
_SKIP_KEYS = {"QueryRetrieveLevel", "SpecificCharacterSet", "RetrieveAETitle", "RetrieveURL"}
_TAG_RE = re.compile(r"^[0-9A-Fa-f]{8}$")
_UID_RE = re.compile(r"^[0-9.]{1,64}$")
_PATHS = {"study": "/studies", "series": "/series", "image": "/instances"}


class ShapeError(WebError):
    """A search answer that is not a list of DICOM JSON objects."""


def search_path(level: str, keys: Mapping[str, str]) -> str:
    """The QIDO-RS resource for ``level``, nested under the study (and series) when the
    keys name them exactly (``/studies/{uid}/series``), which every server supports."""
    if level not in _PATHS:
        if level == "patient":
            raise QueryInvalid(
                "DICOMweb (QIDO-RS) has no patient-level search: use --level study "
                "(with -k PatientID=... to find a patient's studies)"
            )
        raise QueryInvalid(f"unknown query level {level!r}: use study, series or image")
    study = keys.get("StudyInstanceUID", "")
    series = keys.get("SeriesInstanceUID", "")
    if level == "series" and _UID_RE.match(study):
        return f"/studies/{study}/series"
    if level == "image" and _UID_RE.match(study):
        if _UID_RE.match(series):
            return f"/studies/{study}/series/{series}/instances"
        return f"/studies/{study}/instances"
    return _PATHS[level]


def search_params(
    level: str, path: str, keys: Mapping[str, str], limit: int | None
) -> list[tuple[str, str]]:
    """The query parameters: matching keys, ``includefield`` for the return keys, limit.
    QueryInvalid for an unknown keyword or a value that is not text."""
    from pydicom.datadict import tag_for_keyword

    from tuipacs.dicom.scu import RETURN_KEYS

    params: list[tuple[str, str]] = []
    for keyword, value in keys.items():
        if tag_for_keyword(keyword) is None:
            raise QueryInvalid(f"unknown DICOM keyword {keyword!r} (use e.g. PatientName=DOE*)")
        if not isinstance(value, str):
            raise QueryInvalid(f"value of {keyword} must be text, got {value!r}")
        if any(ord(c) < 32 for c in value):
            raise QueryInvalid(f"value of {keyword} holds control characters")
        in_path = keyword in ("StudyInstanceUID", "SeriesInstanceUID") and value in path
        if value and not in_path:
            params.append((keyword, value))
    wanted = [k for k in RETURN_KEYS[level] if k not in keys] + [
        k for k, v in keys.items() if not v
    ]
    params.extend(("includefield", keyword) for keyword in wanted)
    if limit is not None:
        params.append(("limit", str(max(1, int(limit)))))
    return params


def rows_from_json(
    data: Any, level: str, keys: Mapping[str, str], where: str
) -> list[dict[str, str]]:
    """The rows of a QIDO-RS answer (``data`` as parsed), each with the level's return
    keys and the keys asked for; ShapeError (one line naming ``where``) for a wrong shape."""
    from tuipacs.dicom.scu import RETURN_KEYS

    if data is None:
        return []  # 204 No Content: no match
    if not isinstance(data, list):
        raise ShapeError(
            f"{where}: the search answered JSON of the wrong shape (a "
            f"{type(data).__name__}, not a list of DICOM objects): is this a DICOMweb server?"
        )
    if len(data) > MAX_ROWS:
        raise ShapeError(f"{where}: the search answered more than {MAX_ROWS} rows: narrow it")
    wanted = [*RETURN_KEYS[level], *(k for k in keys if k not in RETURN_KEYS[level])]
    rows = []
    for number, item in enumerate(data, 1):
        row = dict.fromkeys(wanted, "")
        found = dataset_row(item, f"{where}: row {number}")
        row.update((k, v) for k, v in found.items() if k in row)  # the C-FIND row's keys
        rows.append(row)
    return rows


def dataset_row(item: Any, where: str) -> dict[str, str]:
    """One DICOM JSON object as {keyword: text}; sequences, bulk data and private or unknown
    tags left out. ShapeError for anything that is not DICOM JSON."""
    from pydicom.datadict import keyword_for_tag

    if not isinstance(item, dict):
        raise ShapeError(
            f"{where} is a {type(item).__name__}, not a DICOM JSON object: is the base URL "
            "the DICOMweb root (e.g. .../dicom-web)?"
        )
    row: dict[str, str] = {}
    for tag, element in item.items():
        if not isinstance(tag, str) or not _TAG_RE.match(tag):
            raise ShapeError(f"{where}: {_short(tag)} is not a DICOM tag (8 hex digits)")
        if not isinstance(element, dict):
            raise ShapeError(f"{where}: element {tag} is not an object with 'vr' and 'Value'")
        vr = element.get("vr")
        if not isinstance(vr, str) or not re.fullmatch(r"[A-Z]{2}", vr):
            raise ShapeError(f"{where}: element {tag} has no valid 'vr'")
        keyword = keyword_for_tag(int(tag, 16))
        if not keyword or keyword in _SKIP_KEYS or vr == "SQ":
            continue
        if "Value" not in element:
            row[keyword] = ""  # present without a value, or bulk data: nothing to show
            continue
        values = element["Value"]
        if not isinstance(values, list):
            raise ShapeError(f"{where}: element {tag} has a 'Value' that is not a list")
        row[keyword] = "\\".join(
            _value_text(v, vr, f"{where}: element {tag}") for v in values[:MAX_VALUES]
        )[:MAX_TEXT]
    return row


def _value_text(value: Any, vr: str, where: str) -> str:
    """One value of an element as text (person names by their alphabetic form)."""
    if value is None:
        return ""
    if vr == "PN":
        if isinstance(value, str):
            return value[:MAX_TEXT]
        if not isinstance(value, dict):
            raise ShapeError(f"{where}: a person name is not an object")
        groups = [value.get(k, "") for k in ("Alphabetic", "Ideographic", "Phonetic")]
        if not all(isinstance(g, str) for g in groups):
            raise ShapeError(f"{where}: a person name holds a value that is not text")
        return "=".join(groups).rstrip("=")[:MAX_TEXT]
    if isinstance(value, bool):
        raise ShapeError(f"{where}: a value is true/false, not DICOM")
    if isinstance(value, int):
        return str(value) if abs(value) < 10**20 else "?"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "?"
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        return value[:MAX_TEXT]
    raise ShapeError(f"{where}: a value is a {type(value).__name__}, not text or a number")


def _short(value: object) -> str:
    """A value from the peer, shortened for a message."""
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def instance_list(data: Any, where: str) -> list[tuple[str, str]]:
    """(series UID, SOP instance UID) of each row of an instance search; rows without both
    (or with a UID that is not a UID) are a ShapeError."""
    rows = rows_from_json(data, "image", {}, where)
    found = []
    for number, row in enumerate(rows, 1):
        series, sop = row.get("SeriesInstanceUID", ""), row.get("SOPInstanceUID", "")
        if not (_UID_RE.match(series) and _UID_RE.match(sop)):
            raise ShapeError(f"{where}: row {number} lacks a valid series or instance UID")
        found.append((series, sop))
    return found


def valid_uid(uid: str) -> bool:
    """Whether ``uid`` is a DICOM UID (digits and dots, at most 64 characters)."""
    return bool(_UID_RE.match(uid))
