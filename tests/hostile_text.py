"""Hostile test studies: every displayed text field carries terminal escape sequences,
C1 controls, BEL, newlines and bidi overrides (not a test module).

The payload is the attack of issue 12: an OSC 52 sequence that puts ``rm -rf ~`` on the
clipboard, a screen clear, a window title, the same as 8-bit C1 controls, a right-to-left
override, a newline that would forge a line, backspace and DEL.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom import config as dicom_config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

#: OSC 52 (clipboard := "rm -rf ~\n") ended by ST, clear screen, set the window title.
ESCAPES = "\x1b]52;c;cm0gLXJmIH4K\x1b\\\x1b[2J\x1b[H\x1b]0;pwned\x07"
#: 8-bit CSI, OSC ... ST, DCS ... ST, NEL.
C1 = "\x9b2J\x9d0;pwned\x9c\x90q\x9c\x85"
#: Right-to-left override, left-to-right isolate, pop directional isolate.
BIDI = "\u202e4321\u2066x\u2069"
#: A line that a newline would forge, then a carriage return, backspace, DEL and a tab.
LINES = "\nforged line\r\x08\x7f\t"
PAYLOAD = ESCAPES + C1 + BIDI + LINES

#: Text attributes shown by ``ls``, ``find``, the browser, the overlays or the tag browser.
TEXT_FIELDS = (
    "PatientName",
    "PatientID",
    "AccessionNumber",
    "StudyDescription",
    "SeriesDescription",
    "ReferringPhysicianName",
    "InstitutionName",
    "BodyPartExamined",
    "Modality",
    "StudyID",
    "Manufacturer",
    "PatientSex",
)

#: Of those, the code strings (VR CS): the character set does not apply to them, and
#: pydicom writes them in Latin-1.
CODE_STRINGS = {"BodyPartExamined", "Modality", "PatientSex"}


@dataclass
class HostileStudy:
    """A study written by :func:`write_hostile_study`: its UIDs, values and files."""

    study_uid: str
    series_uid: str
    values: dict[str, str]
    files: list[Path] = field(default_factory=list)


def hostile(name: str) -> str:
    """A value that starts with a readable ``name`` and carries the whole payload."""
    return f"{name}{PAYLOAD}X"


def unsafe_characters(text: str) -> list[str]:
    """The controls, format characters, separators and surrogates in ``text``."""
    return [c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


@contextlib.contextmanager
def no_validation() -> Iterator[None]:
    """pydicom writes the hostile values as they are (a hostile sender does too)."""
    settings = dicom_config.settings
    before = settings.writing_validation_mode, settings.reading_validation_mode
    settings.writing_validation_mode = dicom_config.IGNORE
    settings.reading_validation_mode = dicom_config.IGNORE
    try:
        yield
    finally:
        settings.writing_validation_mode, settings.reading_validation_mode = before


def write_hostile_study(folder: Path, hostile_uids: bool = False, images: int = 2) -> HostileStudy:
    """One CT series of ``images`` small images (UTF-8, ISO_IR 192) whose every displayed
    text field carries :data:`PAYLOAD`; with ``hostile_uids`` its study, series and SOP
    instance UIDs carry escape sequences and a newline too."""
    folder.mkdir(parents=True, exist_ok=True)

    def uid() -> str:
        fresh = generate_uid()
        return f"{fresh[:30]}\x1b[2J\n{fresh[30:]}" if hostile_uids else fresh

    study_uid = uid()
    series_uid = uid()
    values = {keyword: hostile(keyword[:6].upper()) for keyword in TEXT_FIELDS}
    for keyword in CODE_STRINGS:  # Latin-1 only: no bidi characters
        values[keyword] = f"{keyword[:6].upper()}{ESCAPES}{C1}{LINES}X"
    values["PatientName"] = hostile("EVIL^MALLORY")
    study = HostileStudy(study_uid, series_uid, values)
    with no_validation():
        for index in range(images):
            sop_uid = uid()
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
            ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
            ds.SpecificCharacterSet = "ISO_IR 192"
            ds.SOPClassUID = CTImageStorage
            ds.SOPInstanceUID = sop_uid
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = series_uid
            for keyword, value in values.items():
                setattr(ds, keyword, value)
            ds.PatientBirthDate = "19700101"
            ds.StudyDate = "20240102"
            ds.StudyTime = "101500"
            ds.SeriesNumber = 1
            ds.InstanceNumber = index + 1
            ds.ImagePositionPatient = [0.0, 0.0, float(index)]
            ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
            ds.PixelSpacing = [0.5, 0.5]
            ds.SliceThickness = 1.0
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.Rows = ds.Columns = 16
            ds.BitsAllocated = 16
            ds.BitsStored = 12
            ds.HighBit = 11
            ds.PixelRepresentation = 0
            ds.RescaleIntercept = -1024
            ds.RescaleSlope = 1
            ds.WindowCenter = 40
            ds.WindowWidth = 400
            ds.WindowCenterWidthExplanation = hostile("WINDOW")
            ramp = np.add.outer(np.arange(16), np.arange(16)).astype(np.uint16) * 100
            ds.PixelData = ramp.tobytes()
            path = folder / f"hostile_{len(study.files):03d}_{index:03d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            study.files.append(path)
    return study


def index_as_legacy(archive_root: Path, folder: Path) -> int:
    """Index the files of ``folder`` the way a tuipacs before UID checks did: hostile UIDs
    are refused at the door now, but an older archive may hold them, and the display must
    still defuse them. Returns the number of instances added."""
    from unittest import mock

    from tuipacs.store import records
    from tuipacs.store.archive import Archive

    archive = Archive.open(archive_root)
    try:
        with mock.patch.object(records, "uid_problem", return_value=None):
            items = [(path, records.read_record(path)) for path in sorted(folder.glob("*.dcm"))]
        return sum(r.status == "added" for r in archive.add_files(items))
    finally:
        archive.close()
