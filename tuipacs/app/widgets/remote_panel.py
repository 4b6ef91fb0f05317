"""The browser's remote panel: the studies a remote node answered, and their retrieve.

It runs the query and the retrieve in thread workers, through the client seam
(:mod:`tuipacs.remote`: the App's client factory gives a client for the node the form names),
and shows the retrieve's progress in a ProgressBar bound (``data_bind``) to its own reactives.
It tells the browser what to write on the status line (:class:`RemotePanel.Status`) and when
to list the archive again (:class:`RemotePanel.Landed`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import ProgressBar

from tuipacs.app.messages import (
    RemoteQueryFailed,
    RemoteStudiesFound,
    RetrieveFinished,
    RetrieveProgressed,
)
from tuipacs.app.widgets.study_table import BrowserTable, fit_cells
from tuipacs.remote import ClientFactory, QueryRow, RemoteError, RetrieveProgress, RetrieveResult
from tuipacs.safe_text import clean
from tuipacs.view import format as fmt

if TYPE_CHECKING:
    from tuipacs.app.screens.query import QueryRequest
    from tuipacs.store.query import StudyRow

REMOTE_COLUMNS = (
    ("local", "Here", 4),
    ("name", "Patient", 26),
    ("id", "Patient ID", 12),
    ("date", "Study date", 10),
    ("modality", "Mod", 7),
    ("description", "Description", 36),
    ("accession", "Accession", 16),
    ("images", "Images", 6),
)

REMOTE_RETURN_KEYS = (
    "PatientName",
    "PatientID",
    "StudyDate",
    "ModalitiesInStudy",
    "StudyDescription",
    "AccessionNumber",
    "StudyInstanceUID",
    "NumberOfStudyRelatedInstances",
)
"""The return keys asked of the remote node besides the matching keys of the form."""


@dataclass(frozen=True)
class RemoteStudy:
    """One study a remote node answered (texts as the node sent them, not yet cleaned)."""

    study_uid: str = ""
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    modalities: str = ""
    description: str = ""
    accession: str = ""
    images: str = ""

    @classmethod
    def from_find(cls, row: QueryRow | Mapping[str, str]) -> RemoteStudy:
        """The study of one study-level answer (a row, or {keyword: text})."""
        return cls(
            study_uid=row.get("StudyInstanceUID", ""),
            patient_name=row.get("PatientName", ""),
            patient_id=row.get("PatientID", ""),
            study_date=row.get("StudyDate", ""),
            modalities=row.get("ModalitiesInStudy", ""),
            description=row.get("StudyDescription", ""),
            accession=row.get("AccessionNumber", ""),
            images=row.get("NumberOfStudyRelatedInstances", ""),
        )


HERE = "✓"
"""Here column: the study is in the local archive."""
HERE_IN_PART = "!"
"""Here column: the study is in the local archive in part (fewer images than its node said)."""


def local_marks(rows: Iterable[StudyRow]) -> dict[str, str]:
    """The Here marks of the local studies: HERE, or HERE_IN_PART for a study with fewer
    images here than its node said when it was retrieved."""
    return {row.study_uid: HERE_IN_PART if row.complete is False else HERE for row in rows}


def remote_cells(row: RemoteStudy, here: str, masked: bool = False) -> tuple[str, ...]:
    """The cells of a remote study row, in REMOTE_COLUMNS order; ``here`` is the mark of a
    local study (HERE, HERE_IN_PART or "") (``masked``: no name or ID)."""
    return (
        here,
        fmt.MASK if masked else fmt.person_name(row.patient_name),
        fmt.MASK if masked else row.patient_id,
        fmt.dicom_date(row.study_date),
        fmt.modalities(row.modalities),
        row.description,
        row.accession,
        row.images,
    )


# -- the calls through the client seam --------------------------------------------------------


def find_studies(clients: ClientFactory, request: QueryRequest) -> tuple[str, list[RemoteStudy]]:
    """A study-level query on the request's node: (node name, studies)."""
    keys = {keyword: "" for keyword in REMOTE_RETURN_KEYS}
    keys.update(request.keys)
    client = clients(request.node)
    rows = client.find(level="study", root="study", keys=keys)
    return client.name, [RemoteStudy.from_find(row) for row in rows]


def retrieve_study(
    clients: ClientFactory,
    node: str,
    study_uid: str,
    progress: Callable[[RetrieveProgress], None],
    cancel: threading.Event,
) -> RetrieveResult:
    """Retrieve one study from ``node`` into the archive; never raises."""
    try:
        return clients(node).retrieve(study_uid, progress=progress, cancel=cancel)
    except Exception as exc:  # a retrieve reports network errors; this is for the rest
        line = str(exc) if isinstance(exc, RemoteError) else f"{type(exc).__name__}: {exc}"
        return RetrieveResult(node, study_uid, errors=[line])


def query_error(exc: Exception) -> str:
    """One line for a failed query."""
    if isinstance(exc, RemoteError):
        return f"query failed: {exc}"
    return f"query failed: {type(exc).__name__}: {exc}"  # never a traceback in the UI


# -- the panel ---------------------------------------------------------------------------------


class RemotePanel(Vertical):
    """The remote results (hidden until a query answers) and the retrieve's progress bar."""

    class Status(Message):
        """A line for the browser's status bar."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Landed(Message):
        """Images landed in the archive: list it again (at once when ``final``, else at
        most every RETRIEVE_RELIST seconds)."""

        def __init__(self, final: bool = False) -> None:
            super().__init__()
            self.final = final

    total: reactive[float | None] = reactive(None)
    """Instances to retrieve (None: not known yet)."""
    done: reactive[float] = reactive(0.0)
    """Instances received, skipped or failed so far."""

    def __init__(self, clients: ClientFactory, *, id: str) -> None:
        super().__init__(id=id)
        self.clients = clients
        """A client for a node name or AE@host:port (the App's factory)."""
        self.node = ""
        self.rows: list[RemoteStudy] = []
        self.local: dict[str, str] = {}
        """Studies in the local archive: UID -> mark in Here (HERE, or HERE_IN_PART)."""
        self.masked = False
        """Patient identity masked (the session's mask)."""
        self.retrieving = ""
        self.cancel_event: threading.Event | None = None
        self.last_summary: RetrieveResult | None = None

    def compose(self) -> ComposeResult:
        """The results table and the progress bar."""
        yield BrowserTable(id="remote", cursor_type="row", zebra_stripes=True)
        bar = ProgressBar(id="retrieve-progress", show_eta=False)
        yield bar.data_bind(total=RemotePanel.total, progress=RemotePanel.done)

    @property
    def table(self) -> BrowserTable:
        """The results table."""
        return self.query_one("#remote", BrowserTable)

    def on_mount(self) -> None:
        """Columns; hidden until a query answers."""
        for key, label, width in REMOTE_COLUMNS:
            self.table.add_column(label, key=key, width=width)
        self.display = False
        self.query_one("#retrieve-progress").display = False

    # -- query ------------------------------------------------------------------------------

    def run_query(self, request: QueryRequest) -> None:
        """C-FIND in a worker; RemoteStudiesFound or RemoteQueryFailed follow."""
        self.post_message(self.Status(f"querying {clean(request.node)}…"))
        self.run_worker(
            lambda: self._query(request),
            name="run_query",
            group="remote",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def _query(self, request: QueryRequest) -> None:
        try:
            node, rows = find_studies(self.clients, request)
        except Exception as exc:
            self.post_message(RemoteQueryFailed(query_error(exc)))
            return
        self.post_message(RemoteStudiesFound(node, rows))

    def on_remote_query_failed(self, message: RemoteQueryFailed) -> None:
        """One line in the status bar and an error notification."""
        message.stop()
        line = clean(message.message.splitlines()[0]) if message.message else "query failed"
        self.post_message(self.Status(line))
        self.notify(line, severity="error", timeout=8, markup=False)

    def on_remote_studies_found(self, message: RemoteStudiesFound) -> None:
        """Show the results and focus them."""
        message.stop()
        self.node, self.rows = message.node, message.rows
        self.display = True
        self.fill()
        self.table.focus()
        self.screen.refresh_bindings()
        count = len(message.rows)
        self.post_message(
            self.Status(
                f"{count} studies on {clean(message.node)} · g retrieves · Esc hides"
                " · r queries again"
            )
        )

    def fill(self) -> None:
        """The rows, marked when the study is in the local archive."""
        table = self.table
        cursor = table.cursor_row
        table.clear()
        for row in self.rows:
            here, *cells = remote_cells(row, self.local.get(row.study_uid, ""), self.masked)
            cells_ = fit_cells(tuple(cells), REMOTE_COLUMNS[1:])
            table.add_row(here, *cells_, key=row.study_uid or None)
        # a Text: a node typed as AE@host:port is not read as markup
        table.border_title = Text(f"Remote: {clean(self.node)} · {len(self.rows)} studies")
        if 0 <= cursor < len(self.rows):
            table.move_cursor(row=cursor)

    def current(self) -> RemoteStudy | None:
        """The remote study under the cursor (if the results are shown)."""
        if not self.display or not 0 <= self.table.cursor_row < len(self.rows):
            return None
        return self.rows[self.table.cursor_row]

    # -- retrieve ---------------------------------------------------------------------------

    def retrieve(self) -> None:
        """Retrieve the highlighted study into the archive."""
        row = self.current()
        if row is None:
            self.notify("query a node first (r), then pick a study", severity="warning")
            return
        if not row.study_uid:
            self.notify("the node did not return a Study Instance UID", severity="error")
            return
        self.start_retrieve(self.node, row.study_uid)

    def start_retrieve(self, node: str, study_uid: str) -> None:
        """Retrieve ``study_uid`` from ``node`` (the highlighted remote study, or the rest of a
        local study retrieved only in part: what is here is skipped); one at a time."""
        if self.retrieving:
            self.notify("a retrieve is running; x cancels it", severity="warning")
            return
        self.retrieving = study_uid
        self.cancel_event = cancel = threading.Event()
        self.total, self.done = None, 0.0
        self.query_one("#retrieve-progress").display = True
        self.screen.refresh_bindings()
        self.post_message(self.Status("retrieving… x cancels"))

        def progress(state: RetrieveProgress) -> None:
            self.post_message(RetrieveProgressed(study_uid, state))

        def work() -> None:
            summary = retrieve_study(self.clients, node, study_uid, progress, cancel)
            self.post_message(RetrieveFinished(summary))

        self.run_worker(
            work, name="run_retrieve", group="retrieve", thread=True, exclusive=True,
            exit_on_error=False,
        )  # fmt: skip

    def on_retrieve_progressed(self, message: RetrieveProgressed) -> None:
        """Move the bar: completed (and skipped) of total."""
        message.stop()
        state = message.progress
        self.total = max(state.total, 1)
        self.done = state.completed + state.skipped + state.failed
        failed = f", {state.failed} failed" if state.failed else ""
        self.post_message(
            self.Status(
                f"retrieving: {state.completed} of {state.total} received{failed} · x cancels"
            )
        )
        if state.completed:
            self.post_message(self.Landed())

    def on_retrieve_finished(self, message: RetrieveFinished) -> None:
        """Notify "N received, M failed", hide the bar, list the archive again."""
        message.stop()
        summary = self.last_summary = message.summary
        self.retrieving = ""
        self.cancel_event = None
        self.query_one("#retrieve-progress").display = False
        self.screen.refresh_bindings()
        line = f"{summary.completed} received, {summary.failed} failed"
        if summary.skipped:
            line += f", {summary.skipped} already here"
        if summary.cancelled:
            line += " (cancelled)"
        severity: Literal["information", "warning", "error"] = "information"
        if summary.errors:
            line += f": {clean(summary.errors[0].splitlines()[0])}"
            severity = "error"
        elif summary.failed or summary.cancelled:
            severity = "warning"
        self.post_message(self.Status(line))
        self.notify(line, severity=severity, timeout=8, markup=False)
        self.post_message(self.Landed(final=True))

    def cancel(self) -> bool:
        """Ask the running retrieve to stop; False when none runs."""
        if self.cancel_event is None:
            return False
        self.cancel_event.set()
        self.post_message(self.Status("cancelling the retrieve…"))
        return True

    def escape(self) -> bool:
        """Escape: cancel a retrieve, else hide the results; False when neither applies."""
        if self.cancel():
            return True
        if self.display:
            self.display = False
            self.screen.refresh_bindings()
            return True
        return False

    def on_unmount(self) -> None:
        """Leaving (quitting): stop a running retrieve so its thread ends soon."""
        if self.cancel_event is not None:
            self.cancel_event.set()
