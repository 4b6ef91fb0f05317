"""C-FIND matching and C-GET/C-MOVE selection over the archive index (PS3.4 C.2.2.2, C.4).

Matching (for the attributes the index holds, see :data:`ATTRIBUTES`):

* empty value or ``*``: universal matching (the attribute is only returned);
* ``*`` and ``?`` wildcards: GLOB matching; person names ignore case;
* ``A-B``, ``A-`` and ``-B`` on dates and times: range matching (empty values never match);
* backslash-separated values: list matching (any of them), e.g. a list of UIDs;
* anything else: single value matching (exact; person names ignore case).

Keys the index does not hold are returned empty (at IMAGE level, and for a few attributes
that are constant within a study or series, they are read from a file header instead) and
are not used for matching. The query is relational: keys of upper levels narrow the result
at any level, and the unique keys of upper levels need not be given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence

from tuipacs.dicom.scp_types import (
    LEVELS,
    IdentifierError,
    Level,
    Root,
    StoredInstance,
    check_level,
)
from tuipacs.store.archive import Archive

LOG = logging.getLogger(__name__)

UTF8 = "ISO_IR 192"
#: Responses above this count get no file-header enrichment (it costs a file read each).
MAX_ENRICHED = 1000


@dataclass(frozen=True, slots=True)
class Attribute:
    """How one DICOM attribute maps onto the index.

    ``column`` is the SQL expression returned; ``match`` the one matched against (if not
    ``column``); ``kind`` picks the matching rules.
    """

    level: Level
    column: str
    kind: str
    match: str = ""


def _count(sql: str) -> Attribute:
    return Attribute("PATIENT", sql, "count")


ATTRIBUTES: dict[str, Attribute] = {
    "PatientName": Attribute("PATIENT", "p.patient_name", "pn", "p.name_search"),
    "PatientID": Attribute("PATIENT", "p.patient_id", "text"),
    "PatientBirthDate": Attribute("PATIENT", "p.birth_date", "date"),
    "PatientSex": Attribute("PATIENT", "p.sex", "text"),
    "NumberOfPatientRelatedStudies": _count(
        "(SELECT count(*) FROM study x WHERE x.patient_fk = p.id)"
    ),
    "NumberOfPatientRelatedSeries": _count(
        "(SELECT coalesce(sum(x.num_series), 0) FROM study x WHERE x.patient_fk = p.id)"
    ),
    "NumberOfPatientRelatedInstances": _count(
        "(SELECT coalesce(sum(x.num_instances), 0) FROM study x WHERE x.patient_fk = p.id)"
    ),
    "StudyInstanceUID": Attribute("STUDY", "st.study_uid", "uid"),
    "StudyDate": Attribute("STUDY", "st.study_date", "date"),
    "StudyTime": Attribute("STUDY", "st.study_time", "time"),
    "AccessionNumber": Attribute("STUDY", "st.accession", "text"),
    "StudyDescription": Attribute("STUDY", "st.description", "text"),
    "ReferringPhysicianName": Attribute("STUDY", "st.referring", "pn", "lower(st.referring)"),
    "StudyID": Attribute("STUDY", "st.study_id", "text"),
    "ModalitiesInStudy": Attribute("STUDY", "st.modalities", "modalities"),
    "NumberOfStudyRelatedSeries": Attribute("STUDY", "st.num_series", "count"),
    "NumberOfStudyRelatedInstances": Attribute("STUDY", "st.num_instances", "count"),
    "SOPClassesInStudy": Attribute(
        "STUDY",
        "(SELECT group_concat(DISTINCT i2.sop_class_uid) FROM instance i2 "
        "JOIN series s2 ON i2.series_fk = s2.id WHERE s2.study_fk = st.id)",
        "csv",
    ),
    "SeriesInstanceUID": Attribute("SERIES", "se.series_uid", "uid"),
    "SeriesNumber": Attribute("SERIES", "se.series_number", "number"),
    "Modality": Attribute("SERIES", "se.modality", "text"),
    "SeriesDescription": Attribute("SERIES", "se.description", "text"),
    "BodyPartExamined": Attribute("SERIES", "se.body_part", "text"),
    "SeriesDate": Attribute("SERIES", "se.series_date", "date"),
    "NumberOfSeriesRelatedInstances": Attribute("SERIES", "se.num_instances", "count"),
    "SOPInstanceUID": Attribute("IMAGE", "i.sop_uid", "uid"),
    "SOPClassUID": Attribute("IMAGE", "i.sop_class_uid", "uid"),
    "InstanceNumber": Attribute("IMAGE", "i.instance_number", "number"),
    "Rows": Attribute("IMAGE", "i.rows", "number"),
    "Columns": Attribute("IMAGE", "i.columns", "number"),
    "NumberOfFrames": Attribute("IMAGE", "i.frames", "number"),
}

UNIQUE_KEYS: dict[str, str] = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}

#: Attributes not in the index that are constant within a study / series: read from a file.
FROM_FILE: dict[str, frozenset[str]] = {
    "STUDY": frozenset(
        {
            "PatientAge",
            "PatientSize",
            "PatientWeight",
            "OtherPatientIDs",
            "InstitutionName",
            "StudyComments",
            "AdmittingDiagnosesDescription",
        }
    ),
    "SERIES": frozenset(
        {
            "SeriesTime",
            "ProtocolName",
            "Laterality",
            "StationName",
            "Manufacturer",
            "ManufacturerModelName",
            "InstitutionName",
            "OperatorsName",
            "PerformingPhysicianName",
            "PerformedProcedureStepStartDate",
            "PerformedProcedureStepStartTime",
            "PerformedProcedureStepDescription",
        }
    ),
}

_FROM = {
    "PATIENT": "patient p",
    "STUDY": "study st JOIN patient p ON st.patient_fk = p.id",
    "SERIES": "series se JOIN study st ON se.study_fk = st.id "
    "JOIN patient p ON st.patient_fk = p.id",
    "IMAGE": "instance i JOIN series se ON i.series_fk = se.id "
    "JOIN study st ON se.study_fk = st.id JOIN patient p ON st.patient_fk = p.id",
}
_ORDER = {
    "PATIENT": "p.patient_name, p.patient_id",
    "STUDY": "st.study_date DESC, st.study_time DESC, st.study_uid",
    "SERIES": "st.study_uid, CAST(se.series_number AS INTEGER), se.series_number, se.series_uid",
    "IMAGE": "se.series_uid, i.instance_number, i.sop_uid",
}
#: SQL returning a representative file of the row's entity (for FROM_FILE attributes).
_FILE_OF = {
    "STUDY": "(SELECT i3.path FROM instance i3 JOIN series s3 ON i3.series_fk = s3.id "
    "WHERE s3.study_fk = st.id LIMIT 1)",
    "SERIES": "(SELECT i3.path FROM instance i3 WHERE i3.series_fk = se.id LIMIT 1)",
    "IMAGE": "i.path",
}
_SKIP = {"QueryRetrieveLevel", "SpecificCharacterSet"}


# --------------------------------------------------------------------------- matching


def _rank(level: str) -> int:
    return LEVELS.index(level)  # type: ignore[arg-type,unused-ignore]


def _has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value


def _glob(value: str) -> str:
    """A DICOM wildcard pattern as a SQLite GLOB pattern (``*``/``?`` kept, ``[`` escaped)."""
    return value.replace("[", "[[]")


def _time_key(value: str) -> str:
    return value.replace(":", "").strip()


def _single(attr: Attribute, value: str) -> tuple[str, list[object]] | None:
    """SQL for one single value (no backslash); None if it cannot be matched on."""
    column = attr.match or attr.column
    kind = attr.kind
    if kind == "pn":
        value = value.lower()
        if _has_wildcard(value):
            return f"{column} GLOB ?", [_glob(value)]
        return f"rtrim({column}, '^') = ?", [value.rstrip("^")]
    if kind == "text":
        if _has_wildcard(value):
            return f"{column} GLOB ?", [_glob(value)]
        return f"{column} = ?", [value]
    if kind == "uid":
        return f"{column} = ?", [value]
    if kind in ("date", "time"):
        return _range(column, value.replace(".", "") if kind == "date" else _time_key(value))
    if kind == "number":
        try:
            number = int(value)
        except ValueError:
            return None
        return f"CAST({column} AS INTEGER) = ?", [number]
    if kind == "modalities":
        return "instr('\\' || " + column + " || '\\', ?) > 0", [f"\\{value}\\"]
    return None


def _range(column: str, value: str) -> tuple[str, list[object]]:
    """Date/time single value or range; an upper bound compares as a prefix (1159 ~ 11:59:xx)."""
    if "-" not in value:
        return f"{column} = ?", [value]
    low, high = (part.strip() for part in value.split("-", 1))
    clauses = [f"{column} <> ''"]
    params: list[object] = []
    if low:
        clauses.append(f"{column} >= ?")
        params.append(low)
    if high:
        clauses.append(f"substr({column}, 1, {len(high)}) <= ?")
        params.append(high)
    return " AND ".join(clauses), params


def _condition(attr: Attribute, raw: str) -> tuple[str, list[object]] | None:
    """SQL for a matching value (None: universal matching or not supported).

    A list of exact values (UIDs, text without wildcards) of any length is one
    ``IN (SELECT value FROM json_each(?))``; other lists are ORs grouped as a balanced
    tree, so that thousands of values stay within SQLite's expression depth.
    """
    values = [v.strip() for v in raw.split("\\")]
    values = [v for v in values if v]
    if not values or any(v == "*" for v in values):
        return None
    if len(values) > 1 and (
        attr.kind == "uid" or (attr.kind == "text" and not any(map(_has_wildcard, values)))
    ):
        column = attr.match or attr.column
        return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(values)]
    parts = [_single(attr, v) for v in values]
    if any(p is None for p in parts):
        return None
    clauses = [p[0] for p in parts if p is not None]
    params = [x for p in parts if p is not None for x in p[1]]
    if len(clauses) == 1:
        return clauses[0], params
    return _any_of(clauses), params


def _any_of(clauses: list[str]) -> str:
    """``(a) OR (b) OR ...`` nested as a balanced tree (depth log2 n, order kept)."""
    if len(clauses) == 1:
        return f"({clauses[0]})"
    half = len(clauses) // 2
    return f"({_any_of(clauses[:half])} OR {_any_of(clauses[half:])})"


def _text_value(element: DataElement) -> str:
    """The matching value of a request element as text ('' if empty)."""
    value = element.value
    if value is None or value == "":
        return ""
    if isinstance(value, list | tuple | MultiValue):
        return "\\".join(str(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("latin-1", "replace")
    return str(value)


# --------------------------------------------------------------------------- query


@dataclass
class _Plan:
    level: Level
    sql: str
    params: list[object]
    returned: list[tuple[int, str, str]]  # (tag, VR, keyword) asked for, in order
    from_file: list[str]


def _plan(level: Level, identifier: Dataset, extra_columns: Sequence[str] = ()) -> _Plan:
    """Build the SQL for a C-FIND at ``level``."""
    rank = _rank(level)
    clauses: list[str] = []
    params: list[object] = []
    returned: list[tuple[int, str, str]] = []
    for element in identifier:
        keyword = element.keyword or ""
        if keyword in _SKIP or element.tag.group == 0x0002:
            continue
        returned.append((int(element.tag), element.VR, keyword))
        attr = ATTRIBUTES.get(keyword)
        if attr is None or _rank(attr.level) > rank or element.VR == "SQ":
            continue
        condition = _condition(attr, _text_value(element))
        if condition is not None:
            clauses.append(condition[0])
            params.extend(condition[1])
    unique = UNIQUE_KEYS[level]
    if all(kw != unique for _, _, kw in returned):
        tag = tag_for_keyword(unique)
        assert tag is not None
        returned.append((tag, dictionary_VR(tag), unique))
    keys = [kw for _, _, kw in returned if kw in ATTRIBUTES and _rank(ATTRIBUTES[kw].level) <= rank]
    from_file = [kw for _, _, kw in returned if kw in FROM_FILE.get(level, ())]
    if level == "IMAGE":
        from_file = [kw for _, vr, kw in returned if kw and kw not in ATTRIBUTES and vr != "SQ"]
    columns = [f"{ATTRIBUTES[kw].column} AS {kw}" for kw in dict.fromkeys(keys)]
    if from_file:
        columns.append(f"{_FILE_OF[level]} AS _file")
    columns.extend(extra_columns)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    sql = f"SELECT {', '.join(columns) or '1'} FROM {_FROM[level]}{where} ORDER BY {_ORDER[level]}"
    return _Plan(level, sql, params, returned, from_file)


def _format(vr: str, value: Any, keyword: str) -> Any:
    """An index value as a DICOM element value of this VR."""
    if value is None or value == "":
        return None
    attr = ATTRIBUTES.get(keyword)
    if attr is not None and attr.kind == "modalities":
        parts = [v for v in str(value).split("\\") if v]
        return parts if len(parts) > 1 else (parts[0] if parts else None)
    if attr is not None and attr.kind == "csv":
        parts = [v for v in str(value).split(",") if v]
        return parts if len(parts) > 1 else (parts[0] if parts else None)
    if vr in ("US", "UL", "SS", "SL", "UV", "SV"):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    if vr == "IS":
        try:
            return str(int(value))
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def _file_values(path: Path, keywords: Sequence[str]) -> dict[str, DataElement]:
    """Elements read from a file header (missing ones are absent)."""
    try:
        ds = dcmread(path, stop_before_pixels=True, specific_tags=list(keywords))
    except Exception as exc:  # noqa: BLE001 - enrichment is best effort
        LOG.debug("cannot read %s for return keys: %s", path, exc)
        return {}
    return {kw: ds[kw] for kw in keywords if kw in ds}


def _response(plan: _Plan, row: Any, archive: Archive, enrich: bool) -> Dataset:
    """One C-FIND response identifier from an index row."""
    ds = Dataset()
    ds.QueryRetrieveLevel = plan.level
    names = row.keys()
    from_file: dict[str, DataElement] = {}
    if plan.from_file and enrich and "_file" in names and row["_file"]:
        path = Path(row["_file"])
        from_file = _file_values(
            path if path.is_absolute() else archive.root / path, plan.from_file
        )
    for tag, vr, keyword in plan.returned:
        if keyword in from_file:
            ds.add(from_file[keyword])
            continue
        value = _format(vr, row[keyword], keyword) if keyword in names else None
        ds.add_new(tag, vr, DicomSequence([]) if vr == "SQ" else value)
    if any(_non_ascii(element.value) for element in ds):
        ds.SpecificCharacterSet = UTF8
    return ds


def _non_ascii(value: Any) -> bool:
    """Does a response value need a character set other than ASCII?"""
    if isinstance(value, list | MultiValue):
        return any(_non_ascii(v) for v in value)
    if value is None or isinstance(value, int | float | bytes | DicomSequence):
        return False
    return not str(value).isascii()


def find(archive: Archive, level: Level, identifier: Dataset) -> Iterator[Dataset]:
    """C-FIND over the index: one response identifier per match (level already checked)."""
    plan = _plan(level, identifier)
    rows = archive.execute(plan.sql, plan.params)
    enrich = len(rows) <= MAX_ENRICHED
    for row in rows:
        yield _response(plan, row, archive, enrich)


def find_identifier(archive: Archive, root: Root, identifier: Dataset) -> Iterator[Dataset]:
    """C-FIND with the level taken from the identifier (IdentifierError if bad)."""
    return find(archive, check_level(identifier, root), identifier)


# --------------------------------------------------------------------------- retrieve


def _uid_list(identifier: Dataset, keyword: str) -> list[str]:
    """The values of a unique key (a backslash list), without padding or empties."""
    element = identifier.get(keyword)
    if element is None:
        return []
    text = _text_value(identifier[keyword])
    return [v.strip() for v in text.split("\\") if v.strip()]


def instances_for(archive: Archive, root: Root, identifier: Dataset) -> list[StoredInstance]:
    """The instances a C-GET/C-MOVE identifier selects, from the unique keys it carries.

    The unique key of the identifier's level must be given (a list is fine); unique keys of
    upper levels narrow the selection. Raises IdentifierError otherwise.
    """
    level = check_level(identifier, root)
    unique = UNIQUE_KEYS[level]
    if not _uid_list(identifier, unique):
        raise IdentifierError(f"a {level} level retrieve needs {unique}")
    clauses: list[str] = []
    params: list[object] = []
    for upper in LEVELS[: _rank(level) + 1]:
        keyword = UNIQUE_KEYS[upper]
        if upper == "PATIENT" and root == "study":
            continue
        values = _uid_list(identifier, keyword)
        if any(_has_wildcard(v) for v in values):
            raise IdentifierError(f"{keyword} must not contain wildcards in a retrieve")
        if values:
            column = ATTRIBUTES[keyword].column
            clauses.append(f"{column} IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(values))
    sql = (
        "SELECT i.path, i.sop_class_uid, i.sop_uid, i.transfer_syntax, st.study_uid "
        f"FROM {_FROM['IMAGE']} "
        f"WHERE {' AND '.join(clauses)} ORDER BY {_ORDER['IMAGE']}"
    )
    out = []
    for row in archive.execute(sql, params):
        path = Path(row[0])
        out.append(
            StoredInstance(
                path if path.is_absolute() else archive.root / path,
                row[1],
                row[2],
                row[3],
                row[4],
            )
        )
    return out
