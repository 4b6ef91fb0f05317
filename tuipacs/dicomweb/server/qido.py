"""QIDO-RS over the archive: query parameters -> a C-FIND identifier -> DICOM JSON.

The matching is the DIMSE server's (:func:`tuipacs.server.qr.find`): wildcards on names and
texts, date and time ranges, lists (``,`` or ``\\`` between UIDs or modalities), relational
keys of upper levels. ``limit`` and ``offset`` page the answer; at most :data:`MAX_RESULTS`
rows go out (with a ``Warning: 299`` header when more matched). ``includefield`` adds return
keys (``all`` adds those the level holds in the index); ``fuzzymatching`` is accepted and
ignored. An unknown parameter, an unknown attribute or a bad number is 400.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset

from tuipacs.dicom.scp_types import Level
from tuipacs.dicomweb.server.body import HttpError
from tuipacs.server import qr
from tuipacs.store.archive import Archive

#: Most rows in one answer (ask for the rest with offset).
MAX_RESULTS = 10_000
_RESERVED = {"limit", "offset", "includefield", "fuzzymatching"}
#: Return keys of each level when not asked for (PS3.18 table 10.6.3-3 and more).
DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "STUDY": (
        "StudyDate", "StudyTime", "AccessionNumber", "ModalitiesInStudy",
        "ReferringPhysicianName", "PatientName", "PatientID", "PatientBirthDate",
        "PatientSex", "StudyInstanceUID", "StudyID", "StudyDescription",
        "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
    ),
    "SERIES": (
        "StudyInstanceUID", "Modality", "SeriesDescription", "SeriesNumber",
        "SeriesInstanceUID", "SeriesDate", "NumberOfSeriesRelatedInstances",
    ),
    "IMAGE": (
        "StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID", "SOPInstanceUID",
        "InstanceNumber", "Rows", "Columns", "NumberOfFrames",
    ),
}  # fmt: skip
#: Attributes whose lists may be separated by commas in a query.
_LISTS = {"uid", "modalities"}


def _keyword(name: str) -> str:
    """The keyword of a parameter name (keyword or 8 hex digits); 400 when unknown."""
    if len(name) == 8 and all(c in "0123456789abcdefABCDEF" for c in name):
        keyword = keyword_for_tag(int(name, 16))
    else:
        keyword = name if tag_for_keyword(name) is not None else ""
    if not keyword:
        raise HttpError(400, f"unknown query attribute {name[:40]!r}: use a DICOM keyword or tag")
    return keyword


def _number(value: str, name: str) -> int:
    if not value.isdigit() or len(value) > 9:
        raise HttpError(400, f"{name} must be a whole number, got {value[:20]!r}")
    return int(value)


def identifier(level: Level, query: Sequence[tuple[str, str]], path_keys: dict[str, str]
               ) -> tuple[Dataset, int, int]:  # fmt: skip
    """The C-FIND identifier of a search, with its offset and limit."""
    ds = Dataset()
    values: dict[str, str] = {}
    wanted: list[str] = list(DEFAULT_KEYS[level])
    offset, limit = 0, MAX_RESULTS
    for name, value in query:
        if name in ("limit", "offset"):
            number = _number(value, name)
            if name == "limit":
                limit = max(0, min(number, MAX_RESULTS))
            else:
                offset = number
        elif name == "includefield":
            for item in value.split(","):
                item = item.strip()
                if item == "all":
                    wanted += [k for k, a in qr.ATTRIBUTES.items() if _fits(a.level, level)]
                elif item:
                    wanted.append(_keyword(item))
        elif name == "fuzzymatching":
            continue
        elif "." in name:
            raise HttpError(400, f"sequence matching ({name[:40]}) is not supported")
        else:
            keyword = _keyword(name)
            if any(ord(c) < 32 for c in value) or len(value) > 4096:
                raise HttpError(400, f"bad value for {keyword}")
            attr = qr.ATTRIBUTES.get(keyword)
            if attr is not None and attr.kind in _LISTS:
                value = value.replace(",", "\\")
            values[keyword] = value
    values.update(path_keys)
    for keyword in dict.fromkeys([*wanted, *values]):
        tag = tag_for_keyword(keyword)
        assert tag is not None
        vr = dictionary_VR(tag)
        if vr == "SQ":
            continue
        ds.add_new(tag, vr, values.get(keyword) or None)
    return ds, offset, limit


def _fits(attr_level: str, level: Level) -> bool:
    order = ("PATIENT", "STUDY", "SERIES", "IMAGE")
    return order.index(attr_level) <= order.index(level)


def search(
    archive: Archive,
    level: Level,
    query: Sequence[tuple[str, str]],
    path_keys: dict[str, str],
    base_url: str,
) -> tuple[list[dict[str, Any]], bool]:
    """The rows of a search as DICOM JSON, and whether more matched than were sent."""
    ds, offset, limit = identifier(level, query, path_keys)
    found = qr.find(archive, level, ds)
    rows = []
    for match in itertools.islice(found, offset, offset + limit):
        row = match.to_json_dict()
        row.pop("00080052", None)  # QueryRetrieveLevel is DIMSE's
        _retrieve_url(row, level, base_url)
        rows.append(row)
    more = next(found, None) is not None
    return rows, more


def _retrieve_url(row: dict[str, Any], level: Level, base_url: str) -> None:
    """Add RetrieveURL (0008,1190) for studies and series."""
    study = _first(row, "0020000D")
    if not study:
        return
    url = f"{base_url}/studies/{study}"
    if level in ("SERIES", "IMAGE"):
        series = _first(row, "0020000E")
        if not series:
            return
        url += f"/series/{series}"
        if level == "IMAGE":
            sop = _first(row, "00080018")
            if not sop:
                return
            url += f"/instances/{sop}"
    row["00081190"] = {"vr": "UR", "Value": [url]}


def _first(row: dict[str, Any], tag: str) -> str:
    values = row.get(tag, {}).get("Value") or []
    return str(values[0]) if values and isinstance(values[0], str) else ""
