"""The JSON convention of every command, where a lower layer's report differs from it.

One convention (README, "JSON output"): keys in snake_case; numbers as JSON numbers; DICOM
attributes under a ``dicom`` object by keyword, with numeric VRs as numbers and multiple
values as lists; the same word for the same thing in every command (``already_present``);
a failure is ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuipacs.remote import QueryRow
    from tuipacs.store.importer import ImportSummary

_INTEGER_VRS = frozenset({"IS", "US", "UL", "SS", "SL", "UV", "SV"})
_FLOAT_VRS = frozenset({"DS", "FL", "FD"})


def _typed(vr: str, text: str) -> Any:
    """One DICOM value as JSON: a number for numeric VRs (text if it does not parse)."""
    try:
        if vr in _INTEGER_VRS:
            return int(text.strip())
        if vr in _FLOAT_VRS:
            return float(text.strip())
    except ValueError:
        return text
    return text


def dicom_values(values: dict[str, str]) -> dict[str, Any]:
    """{keyword: text} as the ``dicom`` object: numbers as numbers, the values of a
    multi-valued attribute (joined by ``\\``) as a list."""
    from pydicom.datadict import dictionary_VM, dictionary_VR

    out: dict[str, Any] = {}
    for keyword, text in values.items():
        try:
            vr, vm = str(dictionary_VR(keyword)), str(dictionary_VM(keyword))
        except KeyError:
            vr, vm = "", "1"
        if vr in _INTEGER_VRS | _FLOAT_VRS and text == "":
            out[keyword] = None
        elif "\\" in text and vm != "1":  # a backslash in a single value is text
            out[keyword] = [_typed(vr, part) for part in text.split("\\")]
        else:
            out[keyword] = _typed(vr, text)
    return out


@dataclass(frozen=True)
class FindRow:
    """One ``find --json`` match: ``{"level": "study", "dicom": {"PatientID": ..., ...}}``."""

    level: str
    row: QueryRow

    def to_json(self) -> dict[str, Any]:
        """The match in the common convention."""
        return {"level": self.level, "dicom": dicom_values(dict(self.row.values))}


@dataclass(frozen=True)
class ImportReport:
    """``import --json``: the importer's summary, with ``already_present`` as ``demo`` says."""

    summary: ImportSummary

    def to_json(self) -> dict[str, Any]:
        """The summary's keys, ``duplicates`` named ``already_present`` in its place."""
        return {
            ("already_present" if key == "duplicates" else key): value
            for key, value in self.summary.to_json().items()
        }
