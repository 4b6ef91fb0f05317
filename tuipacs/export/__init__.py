"""Export a study of the archive: files as stored, a DICOMDIR, a zip or PNGs, optionally
de-identified by the DICOM PS3.15 Basic Profile (:mod:`tuipacs.export.anonymize`).

No Textual here. The TUI (or any caller) does, in its own thread::

    plan = plan_export(archive, study_uid, series_uids)      # reads the archive's index
    options = ExportOptions(Path(out), "dicom", anonymize=AnonymizeOptions())

and then, in a worker thread::

    result = run_export(plan, options, progress=on_progress, cancel=cancel_event)

``on_progress(done, total)`` is called after each file; setting ``cancel_event`` stops the
export at the next file and takes back what it wrote (``result.cancelled``). Errors that
stop the export are :class:`ExportError` with a one-line message.
"""

from tuipacs.export.anonymize import AnonymizeOptions
from tuipacs.export.plan import (
    FORMATS,
    ExportError,
    ExportItem,
    ExportOptions,
    ExportPlan,
    Format,
    plan_export,
)
from tuipacs.export.run import ExportResult, run_export

__all__ = [
    "FORMATS",
    "AnonymizeOptions",
    "ExportError",
    "ExportItem",
    "ExportOptions",
    "ExportPlan",
    "ExportResult",
    "Format",
    "plan_export",
    "run_export",
]
