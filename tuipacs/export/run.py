"""Running an export: the files of a plan to a folder, a DICOMDIR, a zip or PNGs.

:func:`run_export` is what the command and the TUI call, in a worker thread if they like: it
touches no archive index and no terminal, reports ``progress(done, total)`` after each file,
and stops at the next file once ``cancel`` is set (taking back what it wrote). Messages name
files by their place in the export (series 2, image 14), never by patient data.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom

from tuipacs.export.anonymize import Anonymizer, burned_in_reason
from tuipacs.export.plan import ExportError, ExportItem, ExportOptions, ExportPlan
from tuipacs.export.targets import FolderTarget, Target, ZipTarget, write_error

Progress = Callable[[int, int], None]

#: Errors reading an archived file (it went missing, or cannot be read): that file fails.
_UNREADABLE = (FileNotFoundError, PermissionError, IsADirectoryError)


@dataclass
class ExportResult:
    """What an export wrote: ``count`` files of ``bytes`` at ``output``; ``skipped``
    objects that are not images (``png``); ``failed`` files that could not be read or
    rendered (their reasons in ``errors``); ``cancelled`` if stopped (nothing kept)."""

    format: str
    output: str
    anonymized: bool
    count: int = 0
    bytes: int = 0
    seconds: float = 0.0
    skipped: int = 0
    failed: int = 0
    cancelled: bool = False
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``export --json`` object."""
        return {
            "format": self.format,
            "output": self.output,
            "anonymized": self.anonymized,
            "count": self.count,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "errors": list(self.errors),
        }


def _where(item: ExportItem) -> str:
    """An item named by its place in the export."""
    return f"series {item.series}, image {item.number}"


def _stem(item: ExportItem) -> str:
    """The item's file name without suffix: a folder per series, numbered files."""
    return f"series-{item.series:03d}/{item.number:06d}"


def check_burned_in(plan: ExportPlan, cancel: threading.Event | None = None) -> None:
    """ExportError if a file of ``plan`` may show patient data in its pixels."""
    found = 0
    first = ""
    for item in plan.items:
        if cancel is not None and cancel.is_set():
            return
        try:
            ds = pydicom.dcmread(item.path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - an unreadable file fails later, with its reason
            continue
        reason = burned_in_reason(ds)
        if reason:
            found += 1
            first = first or f"{_where(item)}: {reason}"
    if found:
        raise ExportError(
            f"{found} file(s) may show patient data burned into the pixels ({first}); "
            "anonymization does not clean pixels: leave those series out (--series), or add "
            "--allow-burned-in to export them anyway"
        )


def _target(plan: ExportPlan, options: ExportOptions) -> Target:
    """The folder or zip the options name."""
    out = options.output
    if options.format != "zip":
        return FolderTarget(out, options.force)
    if out.suffix.lower() == ".zip":
        return ZipTarget(out, options.force)
    name = "export" if options.anonymize else plan.study_uid
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder: name a folder or OUT.zip with -o")
    return ZipTarget(out / f"{name}.zip", options.force)


def run_export(
    plan: ExportPlan,
    options: ExportOptions,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ExportResult:
    """Export ``plan`` as ``options`` say; ExportError (one line) when it cannot start or
    the output cannot be written (nothing kept then)."""
    start = time.monotonic()
    if not plan.items:
        raise ExportError("nothing to export: the study has no files in the archive")
    anonymizer = Anonymizer(options.anonymize) if options.anonymize else None
    if options.anonymize and not options.anonymize.allow_burned_in:
        check_burned_in(plan, cancel)
    result = ExportResult(options.format, str(options.output), anonymizer is not None)
    target = _target(plan, options)
    try:
        if options.format == "png":
            _png(plan, options, target, result, progress, cancel)
        elif options.format == "dicomdir":
            assert isinstance(target, FolderTarget)
            from tuipacs.export.dicomdir import write_dicomdir

            write_dicomdir(plan, target, anonymizer, result, progress, cancel)
        else:
            _dicom(plan, target, anonymizer, result, progress, cancel)
        if cancel is not None and cancel.is_set():
            target.discard()
            result.cancelled = True
        else:
            result.output = str(target.finish())
    except OSError as exc:
        target.discard()
        raise write_error(exc, options.output) from None
    except BaseException:
        target.discard()
        raise
    result.count, result.bytes = target.files, target.bytes
    result.seconds = time.monotonic() - start
    return result


def item_bytes(item: ExportItem, anonymizer: Anonymizer | None) -> bytes | Path:
    """The file of ``item`` as stored (its path), or anonymized (the new file's bytes)."""
    if anonymizer is None:
        return item.path
    ds = pydicom.dcmread(item.path)
    anonymizer.anonymize(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def failure(item: ExportItem, exc: BaseException, anonymized: bool) -> str:
    """The line for a file that could not be exported (no value of it when anonymizing)."""
    from tuipacs.imaging.errors import short_reason

    reason = type(exc).__name__ if anonymized else short_reason(exc)
    return f"{_where(item)}: cannot be exported ({reason}); left out"


def _dicom(
    plan: ExportPlan,
    target: Target,
    anonymizer: Anonymizer | None,
    result: ExportResult,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> None:
    """The files, as stored or anonymized, a folder per series (in a folder or a zip)."""
    total = len(plan.items)
    for done, item in enumerate(plan.items, start=1):
        if cancel is not None and cancel.is_set():
            return
        try:
            data = item_bytes(item, anonymizer)
        except Exception as exc:  # noqa: BLE001 - a bad file is reported, not a crash
            if isinstance(exc, OSError) and not isinstance(exc, _UNREADABLE):
                raise
            result.failed += 1
            result.errors.append(failure(item, exc, anonymizer is not None))
        else:
            target.write(f"{_stem(item)}.dcm", data)
        if progress is not None:
            progress(done, total)


def _png(
    plan: ExportPlan,
    options: ExportOptions,
    target: Target,
    result: ExportResult,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> None:
    """One PNG per frame through the viewer's render path (``tuipacs render``)."""
    import numpy as np
    from PIL import Image

    from tuipacs.view.export import PNG_COMPRESS_LEVEL, render_image

    check_view(options)
    total = len(plan.items)
    # overlays may carry text about the patient: the profile removes them, so do we
    overlays = options.anonymize is None
    for done, item in enumerate(plan.items, start=1):
        if cancel is not None and cancel.is_set():
            return
        if not item.image:
            result.skipped += 1
        for frame in range(1, item.frames + 1 if item.image else 1):
            try:
                image = render_image(
                    item.path,
                    frame=frame,
                    window=options.window,
                    preset=options.preset,
                    overlays=overlays,
                )
            except Exception as exc:  # noqa: BLE001 - render_image makes panics ImagingError
                result.failed += 1
                result.errors.append(failure(item, exc, options.anonymize is not None))
                break
            mode = "RGB" if image.ndim == 3 else "L"
            buffer = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode).save(
                buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL
            )
            target.write(f"{_stem(item)}-{frame:04d}.png", buffer.getvalue())
        if progress is not None:
            progress(done, total)


def check_view(options: ExportOptions) -> None:
    """ExportError for a window or preset that no frame could use."""
    import math

    from tuipacs.imaging.presets import find_preset, preset_names

    if options.preset is not None and find_preset(options.preset) is None:
        names = ", ".join(preset_names())
        raise ExportError(f"unknown preset {options.preset!r}: choose one of {names}")
    if options.window is not None:
        center, width = options.window
        if not (math.isfinite(center) and math.isfinite(width) and width >= 1):
            raise ExportError(f"invalid window {center:g} {width:g}: the width must be at least 1")
