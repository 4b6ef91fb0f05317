"""De-identification by the DICOM PS3.15 Basic Application Level Confidentiality Profile.

Library: **dicognito** (PyPI ``dicognito``), over **deid** (PyPI ``deid``). Both were read
against the profile:

- dicognito replaces every UID (but class UIDs and transfer syntaxes) by a keyed hash of the
  original, so one :class:`dicognito.anonymizer.Anonymizer` maps the same UID to the same new
  UID in every file, file meta and references included (Referenced SOP Instance UID,
  Frame of Reference, Source Image Sequence ...), with no table to keep; every PN anywhere
  (sequences too) and the ID attributes get consistent stand-ins the same way. It depends on
  pydicom only.
- deid is a recipe engine: its default recipe removes every attribute whose name contains
  "UID" (the files no longer load as instances, let alone re-import) and every date; keeping
  UIDs consistent needs a recipe of our own, and it pulls in matplotlib.

Neither carries Table E.1-1 itself (dicognito leaves descriptions, comments, private
attributes and most of the table's ``X`` rows in place), so the table is applied here
(:mod:`tuipacs.export.profile`) after dicognito: dicognito for the U rows and the names and
IDs, the table for X/Z/D, private groups, curves and overlays removed. Dates are ours too,
by the ``dates`` option, as the profile's options name them:

- ``shift`` (Retain Longitudinal Temporal Information with Modified Dates): every date moved
  back by one whole number of days, 62 to 730, the same for every file of a patient within
  one export (a keyed hash of the patient and the export's secret), times unchanged;
- ``remove`` (the profile without that option): every date, time and date-time emptied
  (or removed where the table says ``X``);
- ``keep`` (... Full Dates): unchanged.

The birth date is emptied and the birth time removed whatever the option. The patient's name
and ID become the given ones, or stand-ins made from the export's secret (the same for one
patient within an export, different in the next export). The result says so: Patient Identity
Removed YES, De-identification Method (and its code sequence), Longitudinal Temporal
Information Modified.

Burned-in annotation: pixel data is not scrubbed. :func:`burned_in_reason` says which files
must be refused (Burned In Annotation YES; or ultrasound and secondary capture that do not
say NO).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from dicognito.anonymizer import Anonymizer as Dicognito
from dicognito.element_anonymizer import ElementAnonymizer
from pydicom import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tuipacs.export import profile

Dates = Literal["shift", "remove", "keep"]

#: Birth date (Z) and birth time (X): never a longitudinal date, whatever the option.
_BIRTH = frozenset({0x00100030, 0x00100032})
_DATE_VRS = frozenset({"DA", "DT", "TM"})
_TEXT_VRS = frozenset({"AE", "AS", "CS", "LO", "LT", "SH", "ST", "UC", "UT", "UR"})
_NUMBER_VRS = frozenset({"FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
_SHIFT_DAYS = (62, 730)

#: Secondary Capture Image Storage and its multi-frame variants.
_SECONDARY_CAPTURE = frozenset(
    {"1.2.840.10008.5.1.4.1.1.7"} | {f"1.2.840.10008.5.1.4.1.1.7.{n}" for n in range(1, 5)}
)
_METHOD = "PS3.15 Basic Profile (tuipacs, dicognito)"
_CODES = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "keep": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    "shift": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
}
#: File meta attributes naming the systems the file came through.
_META_NAMES = (
    "SourceApplicationEntityTitle",
    "SendingApplicationEntityTitle",
    "ReceivingApplicationEntityTitle",
    "PrivateInformationCreatorUID",
    "PrivateInformation",
)
_TEMPORAL = {"shift": "MODIFIED", "keep": "UNMODIFIED", "remove": "REMOVED"}


@dataclass(frozen=True)
class AnonymizeOptions:
    """What ``--anonymize`` does: the dates option, the new patient name and ID (None:
    stand-ins), whether files with burned-in annotation may go out, and a seed (tests
    only: None is a random secret per export)."""

    dates: Dates = "shift"
    patient_id: str | None = None
    patient_name: str | None = None
    allow_burned_in: bool = False
    seed: str | None = None


class _Untouched(ElementAnonymizer):
    """Ahead of dicognito's own handlers: dates and times (ours, by option) and DICOM's
    own UIDs (coding schemes, templates: not identifying) are left as they are."""

    def __call__(self, dataset: Dataset, data_element: DataElement) -> bool:
        """True (handled, unchanged) for a DA, DT or TM, or a UI of DICOM's root."""
        if data_element.VR in _DATE_VRS:
            return True
        if data_element.VR == "UI" and data_element.value:
            values = data_element.value
            values = values if isinstance(values, list | tuple) else [values]
            return all(str(v).startswith("1.2.840.10008.") for v in values)
        return False

    def describe_actions(self) -> Iterator[str]:
        """What this handler does (dicognito's convention)."""
        yield "Leave dates, times and DICOM's own UIDs to tuipacs"


class Anonymizer:
    """De-identifies the data sets of one export: one instance per export, so UIDs,
    stand-in names and IDs and the date shift stay consistent across its files."""

    def __init__(self, options: AnonymizeOptions) -> None:
        """An anonymizer with a fresh secret (or ``options.seed``)."""
        self.options = options
        self._secret = (options.seed or os.urandom(32).hex()).encode()
        self._dicognito = Dicognito(seed=self._secret.decode())
        self._dicognito.add_element_handler(_Untouched())

    def _code(self, purpose: str, value: str) -> bytes:
        """A keyed digest of ``value`` for ``purpose`` (never the value itself)."""
        return hmac.new(self._secret, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()

    def shift_days(self, patient_id: str) -> int:
        """The days every date of this patient moves back in this export (62 to 730)."""
        low, high = _SHIFT_DAYS
        return low + int.from_bytes(self._code("dates", patient_id)[:8], "big") % (high - low)

    def anonymize(self, ds: Dataset) -> None:
        """De-identify ``ds`` in place (file meta included)."""
        original_id = str(ds.get("PatientID", "") or "")
        days = self.shift_days(original_id)
        self._dicognito.anonymize(ds)
        _apply_table(ds, self.options.dates, days)
        code = self._code("patient", original_id).hex()[:10].upper()
        ds.PatientName = self.options.patient_name or f"ANONYMOUS^{code}"
        ds.PatientID = self.options.patient_id or f"ANON{code}"
        ds.PatientBirthDate = ""
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = _METHOD
        codes = [_CODES["basic"]]
        if self.options.dates in _CODES:
            codes.append(_CODES[self.options.dates])
        ds.DeidentificationMethodCodeSequence = Sequence(
            [_code_item(value, meaning) for value, meaning in codes]
        )
        ds.LongitudinalTemporalInformationModified = _TEMPORAL[self.options.dates]
        meta = getattr(ds, "file_meta", None)
        for keyword in _META_NAMES:
            if meta is not None and keyword in meta:
                del meta[keyword]


def _code_item(value: str, meaning: str) -> Dataset:
    """A DCM code sequence item."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def _apply_table(ds: Dataset, dates: Dates, days: int) -> None:
    """Table E.1-1 on ``ds`` and the items of its sequences, dates by the option."""
    for tag in list(ds.keys()):
        if profile.removed_group(tag):
            del ds[tag]
            continue
        elem = ds[tag]
        act = profile.action(tag)
        if elem.VR in _DATE_VRS and tag not in _BIRTH:
            _date(ds, elem, act, dates, days)
        elif act == "X":
            del ds[tag]
        elif act == "Z":
            elem.value = Sequence() if elem.VR == "SQ" else None
        elif act == "D" and elem.VR != "SQ":
            _dummy(elem)
        elif elem.VR == "SQ" and elem.value:
            for item in elem.value:
                _apply_table(item, dates, days)


def _dummy(elem: DataElement) -> None:
    """A dummy value of the element's VR (its original is gone)."""
    if elem.VR == "PN":
        elem.value = "ANONYMOUS"
    elif elem.VR in _TEXT_VRS:
        elem.value = "ANONYMIZED"
    elif elem.VR in ("IS", "DS"):
        elem.value = "0"
    elif elem.VR in _NUMBER_VRS:
        elem.value = 0
    elif elem.VR != "UI":
        elem.value = None


def _date(ds: Dataset, elem: DataElement, act: str | None, dates: Dates, days: int) -> None:
    """A DA, DT or TM by the dates option (``act``: the table's action, for ``remove``)."""
    if dates == "keep" or elem.value in (None, ""):
        return
    if dates == "remove":
        if act == "X":
            del ds[elem.tag]
        else:
            elem.value = None
        return
    if elem.VR == "TM":  # whole days: times stay as they are
        return
    values = elem.value if isinstance(elem.value, list | tuple) else [elem.value]
    shifted = [_shift(str(v), days) for v in values]
    if any(v is None for v in shifted):
        elem.value = None  # a date that cannot be read cannot be shifted: it goes
    else:
        elem.value = shifted if len(shifted) > 1 else shifted[0]


def _shift(value: str, days: int) -> str | None:
    """``value`` (DA, or DT from its first 8 characters) ``days`` earlier; None if it is
    not a full date."""
    text = value.strip().replace(".", "") if len(value.strip()) == 10 else value.strip()
    try:
        day = datetime.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None
    try:
        moved = day - datetime.timedelta(days=days)
    except OverflowError:
        return None
    return moved.strftime("%Y%m%d").rjust(8, "0") + text[8:]


def burned_in_reason(ds: Dataset) -> str | None:
    """Why ``ds`` may show patient data in its pixels (None: it says it does not, or is not
    ultrasound or secondary capture)."""
    value = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if value == "YES":
        return "Burned In Annotation is YES"
    if value != "NO":
        if str(ds.get("Modality", "")).strip().upper() == "US":
            return "an ultrasound image that does not say it has no burned-in annotation"
        if str(ds.get("SOPClassUID", "")) in _SECONDARY_CAPTURE:
            return "a secondary capture that does not say it has no burned-in annotation"
    return None
