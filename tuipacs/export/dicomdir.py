"""``--format dicomdir``: a DICOM File-set (PS3.10) written by pydicom's ``FileSet``: the
files under ``PTnnnnnn/STnnnnnn/SEnnnnnn/IMnnnnnn`` and a DICOMDIR listing them.

The directory records need some values that a file may lack or, anonymized, hold empty
(Study Date, Study Time and Study ID, for instance; dates emptied by ``--dates remove``):
those get dummy values, as the profile's ``Z`` allows, in the record and the file alike.
pydicom stages each file in a private temporary folder until the File-set is written; it is
removed at the end.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pydicom
from pydicom.fileset import FileSet

from tuipacs.export.run import ExportResult, Progress, failure

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from tuipacs.export.anonymize import Anonymizer
    from tuipacs.export.plan import ExportPlan
    from tuipacs.export.targets import FolderTarget

#: Values the records need (Type 1 in PS3.3 F.5) and the dummy for a file without one.
_NEEDED = {
    "PatientID": "UNKNOWN",
    "StudyDate": "19000101",
    "StudyTime": "000000",
    "StudyID": "1",
    "Modality": "OT",
    "SeriesNumber": "1",
}


def _complete(ds: Dataset, number: int) -> None:
    """Fill in what the directory records need and ``ds`` lacks."""
    for keyword, dummy in _NEEDED.items():
        if ds.get(keyword) in (None, ""):
            setattr(ds, keyword, dummy)
    if ds.get("InstanceNumber") in (None, ""):
        ds.InstanceNumber = str(number)


def write_dicomdir(
    plan: ExportPlan,
    target: FolderTarget,
    anonymizer: Anonymizer | None,
    result: ExportResult,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> None:
    """The plan's files (anonymized if asked) as a File-set in ``target``'s folder."""
    fileset = FileSet()
    stage = fileset._stage.get("t")  # pydicom's private staging folder: removed at the end
    total = len(plan.items)
    try:
        for done, item in enumerate(plan.items, start=1):
            if cancel is not None and cancel.is_set():
                return
            try:
                ds = pydicom.dcmread(item.path)
                if anonymizer is not None:
                    anonymizer.anonymize(ds)
                _complete(ds, item.number)
                fileset.add(ds)
            except Exception as exc:  # noqa: BLE001 - a bad file is reported, not a crash
                if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
                    raise
                result.failed += 1
                result.errors.append(failure(item, exc, anonymizer is not None))
            if progress is not None:
                progress(done, total)
        if len(fileset):
            fileset.write(target.root)
        for path in target.root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                target.files += 1
                target.bytes += path.stat().st_size
    finally:
        if stage is not None:
            stage.cleanup()
