"""Listing the archive: studies with filters, their series and instances, patients."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tuipacs.store.archive import Archive


class FilterError(ValueError):
    """A filter value that cannot be understood (e.g. a malformed date range)."""


@dataclass(frozen=True, slots=True)
class StudyFilter:
    """Filters for ``list_studies``; empty fields match everything.

    ``patient_name`` takes ``*`` and ``?`` wildcards and ignores case; without wildcards it
    matches anywhere in the name. ``date`` is ``YYYYMMDD``, ``FROM-``, ``-TO`` or ``FROM-TO``.
    """

    patient_name: str = ""
    patient_id: str = ""
    date: str = ""
    modality: str = ""
    accession: str = ""
    study_uid: str = ""


@dataclass(frozen=True, slots=True)
class StudyRow:
    """A study as the browser and ``tuipacs ls`` show it."""

    study_uid: str
    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    study_date: str
    study_time: str
    accession: str
    description: str
    modalities: str
    referring: str
    num_series: int
    num_instances: int
    size_bytes: int
    pinned: bool
    last_opened: float | None
    known_instances: int | None = None
    """How many instances the node said the study holds when it was retrieved (None: never
    retrieved whole; see :mod:`tuipacs.store.expected`)."""
    known_node: str = ""
    """The node that said so (a configured name or ``AE@host:port``)."""

    @property
    def complete(self) -> bool | None:
        """False when fewer instances are here than the node said (None: not known)."""
        if self.known_instances is None:
            return None
        return self.num_instances >= self.known_instances

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (with ``complete``; the node's name is left out)."""
        data = asdict(self)
        del data["known_node"]
        data["complete"] = self.complete
        return data


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """A series of a study."""

    series_uid: str
    study_uid: str
    series_number: str
    modality: str
    description: str
    body_part: str
    num_instances: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """An instance of a series, with its absolute file path."""

    sop_uid: str
    sop_class_uid: str
    instance_number: int | None
    transfer_syntax: str
    rows: int | None
    columns: int | None
    frames: int
    file_size: int
    path: Path
    image_position: str = ""
    image_orientation: str = ""


def wildcard_to_glob(pattern: str) -> str:
    """DICOM-style ``*``/``?`` wildcards to a SQLite GLOB on lower-cased text."""
    escaped = pattern.lower().replace("[", "[[]")
    if "*" not in escaped and "?" not in escaped:
        escaped = f"*{escaped}*"
    return escaped


def parse_date_range(text: str) -> tuple[str, str]:
    """``YYYYMMDD``, ``A-``, ``-B`` or ``A-B`` to an inclusive (low, high) pair."""
    low, sep, high = text.replace(" ", "").partition("-")
    if not sep:
        high = low
    for part in (low, high):
        if part and (len(part) != 8 or not part.isdigit()):
            raise FilterError(f"bad date {part!r}: use YYYYMMDD, YYYYMMDD-, -YYYYMMDD or A-B")
    return low, high or "99999999"


_STUDY_COLUMNS = (
    "s.study_uid, p.patient_name, s.patient_id, p.birth_date, p.sex, s.study_date, "
    "s.study_time, s.accession, s.description, s.modalities, s.referring, s.num_series, "
    "s.num_instances, s.size_bytes, s.pinned, s.last_opened, e.instances, e.node"
)
_STUDY_TABLES = (
    "study s JOIN patient p ON s.patient_fk = p.id LEFT JOIN study_expected e ON e.study_fk = s.id"
)


# Above this many matching patients, scanning studies by date beats joining through patients.
_FEW_PATIENTS = 2000


def _name_clause(archive: Archive, pattern: str) -> str:
    """Pick the faster plan for a name filter from how many patients match."""
    (count,) = archive.execute(
        "SELECT count(*) FROM (SELECT 1 FROM patient WHERE name_search GLOB ? LIMIT ?)",
        (pattern, _FEW_PATIENTS + 1),
    )[0]
    if count <= _FEW_PATIENTS:
        return "s.patient_fk IN (SELECT id FROM patient WHERE name_search GLOB ?)"
    return "s.name_search GLOB ?"


def _where(archive: Archive, flt: StudyFilter) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if flt.patient_name:
        pattern = wildcard_to_glob(flt.patient_name)
        clauses.append(_name_clause(archive, pattern))
        params.append(pattern)
    if flt.patient_id:
        if "*" in flt.patient_id or "?" in flt.patient_id:
            clauses.append("s.patient_id GLOB ?")
            params.append(flt.patient_id.replace("[", "[[]"))
        else:
            clauses.append("s.patient_id = ?")
            params.append(flt.patient_id)
    if flt.date:
        low, high = parse_date_range(flt.date)
        clauses.append("s.study_date BETWEEN ? AND ?")
        params.extend([low, high])
    if flt.modality:
        clauses.append("instr('\\' || s.modalities || '\\', ?) > 0")
        params.append(f"\\{flt.modality.upper()}\\")
    if flt.accession:
        clauses.append("s.accession = ?")
        params.append(flt.accession)
    if flt.study_uid:
        clauses.append("s.study_uid = ?")
        params.append(flt.study_uid)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def list_studies(
    archive: Archive, flt: StudyFilter | None = None, limit: int = 0
) -> list[StudyRow]:
    """Studies matching ``flt``, newest first; ``limit`` 0 means all."""
    where, params = _where(archive, flt or StudyFilter())
    sql = (
        f"SELECT {_STUDY_COLUMNS} FROM {_STUDY_TABLES}{where} "
        "ORDER BY s.study_date DESC, s.study_time DESC"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [_study_row(r) for r in archive.execute(sql, params)]


def get_study(archive: Archive, study_uid: str) -> StudyRow | None:
    """One study by UID."""
    rows = list_studies(archive, StudyFilter(study_uid=study_uid))
    return rows[0] if rows else None


def _study_row(r: Any) -> StudyRow:
    return StudyRow(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        r[8],
        r[9],
        r[10],
        int(r[11]),
        int(r[12]),
        int(r[13]),
        bool(r[14]),
        r[15],
        None if r[16] is None else int(r[16]),
        r[17] or "",
    )


def list_series(archive: Archive, study_uid: str) -> list[SeriesRow]:
    """Series of a study, by series number."""
    rows = archive.execute(
        "SELECT se.series_uid, st.study_uid, se.series_number, se.modality, se.description, "
        "se.body_part, se.num_instances FROM series se JOIN study st ON se.study_fk = st.id "
        "WHERE st.study_uid = ? ORDER BY CAST(se.series_number AS INTEGER), se.series_number",
        (study_uid,),
    )
    return [SeriesRow(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6])) for r in rows]


def list_instances(archive: Archive, series_uid: str) -> list[InstanceRow]:
    """Instances of a series in reading order (see :func:`anatomical_order`)."""
    rows = archive.execute(
        "SELECT i.sop_uid, i.sop_class_uid, i.instance_number, i.transfer_syntax, i.rows, "
        "i.columns, i.frames, i.file_size, i.path, i.image_position, i.image_orientation "
        "FROM instance i JOIN series se ON i.series_fk = se.id WHERE se.series_uid = ? "
        "ORDER BY i.instance_number, i.sop_uid",
        (series_uid,),
    )
    return anatomical_order(
        [
            InstanceRow(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                int(r[6]),
                int(r[7]),
                _abs(archive, r[8]),
                r[9],
                r[10],
            )
            for r in rows
        ]
    )


#: Direction cosines that differ by less than this belong to the same stack.
_SAME_ORIENTATION = 1e-3


def _numbers(text: str, count: int) -> tuple[float, ...] | None:
    """``count`` backslash-separated finite numbers, or None."""
    try:
        values = tuple(float(v) for v in text.split("\\"))
    except ValueError:
        return None
    if len(values) != count or not all(math.isfinite(v) for v in values):
        return None
    return values


def anatomical_order(rows: list[InstanceRow]) -> list[InstanceRow]:
    """``rows`` (in instance-number order) sorted along the slice normal when they form one
    stack: every image has a position and all share one orientation. The direction is the
    one the instance numbers run in (so a well-numbered series keeps its order, and a
    series numbered out of order, or not at all, is shown slice after slice); images at the
    same position stay in instance-number order. Anything else is returned unchanged."""
    if len(rows) < 2:
        return rows
    positions = [_numbers(r.image_position, 3) for r in rows]
    orientations = [_numbers(r.image_orientation, 6) for r in rows]
    first = orientations[0]
    if first is None or any(p is None for p in positions):
        return rows
    for other in orientations:
        if other is None or max(abs(a - b) for a, b in zip(first, other, strict=True)) > (
            _SAME_ORIENTATION
        ):
            return rows
    rx, ry, rz, cx, cy, cz = first
    normal = (ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx)
    depth = [sum(a * b for a, b in zip(p, normal, strict=True)) for p in positions if p]
    numbered = [i for i, r in enumerate(rows) if r.instance_number is not None]
    sign = 1.0
    if len(numbered) >= 2:
        low = min(numbered, key=lambda i: rows[i].instance_number or 0)
        high = max(numbered, key=lambda i: rows[i].instance_number or 0)
        if depth[low] > depth[high]:
            sign = -1.0
    order = sorted(range(len(rows)), key=lambda i: (round(sign * depth[i], 4), i))
    return [rows[i] for i in order]


def _abs(archive: Archive, rel: str) -> Path:
    path = Path(rel)
    return path if path.is_absolute() else archive.root / path
