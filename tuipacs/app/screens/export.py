"""The Export form over the browser: a study (or one series) of the archive to a folder, a
DICOMDIR, a zip or PNGs, as stored or de-identified, as ``tuipacs export`` does.

The form checks the destination before anything starts (one line when it cannot be used);
Enter starts the export in a thread worker that only posts :class:`ExportProgressed` and
:class:`ExportFinished`; the progress bar counts files; Esc cancels (the export takes back
what it wrote, as on the command line) and, once it has ended, closes the form with the
result's line for the browser's status bar.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Select, Static

from tuipacs.app.screens.job_modal import JobModal
from tuipacs.safe_text import clean

if TYPE_CHECKING:
    from tuipacs.export import ExportOptions, ExportResult, Format
    from tuipacs.store.archive import Archive

FORMAT_CHOICES = (
    ("DICOM files (a folder per series)", "dicom"),
    ("PNG (one per frame)", "png"),
    ("DICOMDIR (a media folder)", "dicomdir"),
    ("zip of the DICOM files", "zip"),
)
DATE_CHOICES = (
    ("shift per patient", "shift"),
    ("remove", "remove"),
    ("keep", "keep"),
)
TUI_HINTS = (
    (" with -o", " in Destination"),
    (", or add --force", ""),
    ("(--series)", "(E on each of the others in the series table)"),
    ("add --allow-burned-in", "tick 'allow burned-in'"),
)
"""The command line's hints in the export's messages, as the form says them."""
NAME_TRIES = 1000
"""How many ``tuipacs-export-<date>-<n>`` names the default destination tries."""


@dataclass
class ExportProgressed(Message):
    """``done`` of ``total`` files of the export were handled."""

    done: int
    total: int


@dataclass
class ExportFinished(Message):
    """The export ended: ``line`` says how (one line); ``result`` is None when it could not
    start or stopped on an error."""

    line: str
    result: ExportResult | None = None


@dataclass(frozen=True)
class ExportJob:
    """What to export: a study (only ``series_uids`` when given) and how."""

    study_uid: str
    series_uids: tuple[str, ...]
    options: ExportOptions


def default_destination(home: Path, today: datetime.date) -> Path:
    """A new folder under ``home``: ``tuipacs-export-YYYYMMDD-N``, the first N not taken."""
    stem = f"tuipacs-export-{today:%Y%m%d}"
    for number in range(1, NAME_TRIES + 1):
        path = home / f"{stem}-{number}"
        if not path.exists() and not path.is_symlink():
            return path
    return home / f"{stem}-{NAME_TRIES + 1}"


def check_destination(text: str) -> Path:
    """The folder (or ``NAME.zip``) typed, ``~`` expanded; ValueError with one line when it
    cannot be used: empty, not a path, a file, or a folder that holds something."""
    text = text.strip()
    if not text:
        raise ValueError("type the folder to export to")
    if "\0" in text:
        raise ValueError(
            "the path holds a NUL character, which is not a usable path: type a folder"
        )
    try:
        path = Path(text).expanduser()
        exists, is_dir = path.exists(), path.is_dir()
        listing = any(path.iterdir()) if is_dir and not path.is_symlink() else False
        above = next((p for p in path.absolute().parents if p.exists()), None)
    except (ValueError, RuntimeError) as exc:  # a NUL byte, an unknown ~user
        raise ValueError(f"{text!r} is not a usable path ({exc}): type a folder") from None
    except OSError as exc:
        raise ValueError(f"cannot look at {path}: {exc.strerror or exc}; choose another") from None
    if not exists and above is not None and not above.is_dir():
        raise ValueError(f"{above} is a file, not a folder: choose another place")
    if path.is_symlink():
        raise ValueError(f"{path} is a link: choose a new folder")
    if exists and not is_dir and path.suffix.lower() != ".zip":
        raise ValueError(f"{path} exists and is not a folder: choose a new folder")
    if listing:
        raise ValueError(f"{path} is not empty: choose a new or empty folder")
    return path


def result_line(result: ExportResult) -> str:
    """One line for an export that ran: files written and where, or cancelled; the failures
    counted with the first reason."""
    if result.cancelled:
        return "export cancelled: nothing kept (the files written were removed)"
    line = f"{result.count} file{'' if result.count == 1 else 's'} written to {result.output}"
    if result.skipped:
        line += f", {result.skipped} not images skipped"
    if result.failed:
        first = result.errors[0] if result.errors else "no reason given"
        line += f"; {result.failed} failed, the first: {first}"
    return one_line(line)


def one_line(text: str) -> str:
    """``text`` as one clean line for the terminal."""
    lines = text.strip().splitlines()
    return clean(lines[0]) if lines else ""


def error_line(exc: BaseException) -> str:
    """One line for an export that stopped on ``exc`` (never a traceback)."""
    from tuipacs.export import ExportError

    if isinstance(exc, ExportError):
        text = str(exc)
        for option, field in TUI_HINTS:
            text = text.replace(option, field)
        return one_line(f"export failed: {text}")
    return one_line(f"export failed: {type(exc).__name__}: {exc}")


def run_job(
    archive: Archive, job: ExportJob, post: Callable[[Message], object], cancel: threading.Event
) -> None:
    """Plan and run ``job`` (in a worker thread), posting progress and the end; never
    raises."""
    from tuipacs.export import plan_export, run_export

    def progress(done: int, total: int) -> None:
        post(ExportProgressed(done, total))

    try:
        plan = plan_export(archive, job.study_uid, list(job.series_uids) or None)
        result = run_export(
            plan,
            job.options,
            progress=progress,
            cancel=cancel,
        )
    except Exception as exc:  # noqa: BLE001 - one line in the form, never a traceback
        post(ExportFinished(error_line(exc)))
        return
    post(ExportFinished(result_line(result), result))


def preload(fmt: Format) -> None:
    """Import what the export needs in the UI thread (pydicom imported by a worker while
    the UI thread imports the viewer can fail half-initialised)."""
    import tuipacs.export.anonymize
    import tuipacs.export.run  # noqa: F401

    if fmt == "dicomdir":
        import tuipacs.export.dicomdir  # noqa: F401
    if fmt == "png":
        import tuipacs.view.export  # noqa: F401


class ExportScreen(JobModal):
    """The Export form: destination, format, anonymize (dates, burned-in); Enter exports with a
    progress bar, Esc cancels a running export, else closes (with the last line)."""

    DEFAULT_CSS = """
    ExportScreen Grid {
        grid-size: 2; grid-columns: 14 1fr; grid-rows: auto; grid-gutter: 1 1; height: auto;
    }
    ExportScreen Button { min-width: 12; }
    ExportScreen #export-progress { height: 1; margin-top: 1; }
    ExportScreen #export-line { height: auto; margin-top: 1; }
    ExportScreen #export-line.-error { color: $error; }
    """
    NOUN = "export"
    LINE_ID = "export-line"

    def __init__(
        self,
        archive: Archive,
        study_uid: str,
        series_uids: tuple[str, ...],
        title: str,
        destination: Path,
    ) -> None:
        """Export ``study_uid`` (only ``series_uids`` when given) of ``archive``; ``title``
        names it (masked as the session is), ``destination`` is the folder offered."""
        super().__init__()
        self.archive = archive
        self.study_uid = study_uid
        self.series_uids = series_uids
        self.title_text = title
        self.destination = destination
        self.result: ExportResult | None = None

    def compose(self) -> ComposeResult:
        """The fields, the progress bar and the line."""
        with Vertical(id="export-box") as box:
            box.border_title = Text(self.title_text)
            box.border_subtitle = "Enter exports · Esc closes"
            with Grid():
                yield Label("Destination")
                yield Input(str(self.destination), id="export-dest", compact=True)
                yield Label("Format")
                yield Select(
                    FORMAT_CHOICES,
                    value="dicom",
                    allow_blank=False,
                    id="export-format",
                    compact=True,
                )
                yield Label("Anonymize")
                yield Checkbox(
                    "de-identify (DICOM PS3.15 Basic Profile)", id="export-anon", compact=True
                )
                yield Label("")
                yield Checkbox(
                    "allow burned-in: export images that may show patient data in their pixels",
                    id="export-burned",
                    compact=True,
                )
                yield Label("Dates")
                yield Select(
                    DATE_CHOICES, value="shift", allow_blank=False, id="export-dates", compact=True
                )
                yield Label("")
                yield Button("Export", id="export-go", variant="primary", compact=True)
            bar = ProgressBar(id="export-progress", show_eta=False)
            yield bar.data_bind(total=ExportScreen.total, progress=ExportScreen.done)
            yield Static("", id="export-line", markup=False)

    def on_mount(self) -> None:
        """The bar hidden until the export starts; the cursor in the destination."""
        self.query_one("#export-progress").display = False
        self._anonymize_fields(False)
        self.query_one("#export-dest", Input).focus()

    @property
    def running(self) -> bool:
        """An export runs."""
        return self.cancel_event is not None

    @on(Checkbox.Changed, "#export-anon")
    def anonymize_changed(self, event: Checkbox.Changed) -> None:
        """The dates and burned-in options go with anonymize."""
        self._anonymize_fields(event.value)

    def _anonymize_fields(self, anonymize: bool) -> None:
        """The options of anonymize usable only with it."""
        self.query_one("#export-dates", Select).disabled = not anonymize
        self.query_one("#export-burned", Checkbox).disabled = not anonymize

    def job(self) -> ExportJob | None:
        """The export the form describes, or None (with one line) when it cannot start."""
        from tuipacs.export import AnonymizeOptions, ExportOptions

        try:
            output = check_destination(self.query_one("#export-dest", Input).value)
        except ValueError as exc:
            self.show(one_line(str(exc)), error=True)
            return None
        fmt = self.query_one("#export-format", Select).value
        dates = self.query_one("#export-dates", Select).value
        anonymize = None
        if self.query_one("#export-anon", Checkbox).value:
            burned = self.query_one("#export-burned", Checkbox).value
            anonymize = AnonymizeOptions(dates=dates, allow_burned_in=burned)  # type: ignore[arg-type]
        options = ExportOptions(output, fmt, anonymize=anonymize)  # type: ignore[arg-type]
        return ExportJob(self.study_uid, self.series_uids, options)

    @on(Input.Submitted, "#export-dest")
    @on(Button.Pressed, "#export-go")
    def start(self) -> None:
        """Enter (or the button): check the form, then export in a worker."""
        if self.running:
            return
        job = self.job()
        if job is None:
            return
        preload(job.options.format)
        self.cancel_event = cancel = threading.Event()
        self.finished, self.result = False, None
        self.total, self.done = None, 0.0
        self._lock_form(True)
        self.show("exporting… Esc cancels")
        self.query_one(Vertical).border_subtitle = "Esc cancels"
        archive, post = self.archive, self.post_message
        self.run_worker(
            lambda: run_job(archive, job, post, cancel),
            name="export", group="export", thread=True, exclusive=True, exit_on_error=False,
        )  # fmt: skip

    def _lock_form(self, locked: bool) -> None:
        """Fields and button disabled while an export runs."""
        self.query_one("#export-progress").display = locked
        for widget in self.query("Grid > Input, Grid > Select, Grid > Checkbox, Grid > Button"):
            widget.disabled = locked
        if not locked:
            self._anonymize_fields(self.query_one("#export-anon", Checkbox).value)
            self.query_one("#export-dest", Input).focus()

    def on_export_progressed(self, message: ExportProgressed) -> None:
        """Move the bar and count the files."""
        self.count(message.done, message.total, "exporting")

    def on_export_finished(self, message: ExportFinished) -> None:
        """The result in one line; the form is free again (Esc closes it)."""
        self.cancel_event = None
        self.result = message.result
        self.finished = True
        self._lock_form(False)
        failed = message.result is None or bool(message.result.failed)
        self.show(message.line, error=failed)
        self.query_one(Vertical).border_subtitle = "Enter exports again · Esc closes"
