"""The priors list (``P`` in the viewer): the patient's other studies, here and on the node the
study came from, the nearest comparable prior first.

Enter on a study here closes the list and shows it (dismissed with its UID); Enter on a study
only on the node fetches it in the background, with progress (``x`` cancels; the list can be
closed meanwhile, the fetch goes on). The list follows the viewer's
:class:`~tuipacs.app.widgets.priors_finder.PriorsFinder` as it finds and fetches.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, ProgressBar, Static

from tuipacs.app.widgets.priors_finder import PriorsFinder
from tuipacs.safe_text import clean
from tuipacs.view import format as fmt
from tuipacs.view.priors import Prior

PRIOR_COLUMNS = (
    ("date", "Date", 10),
    ("modality", "Mod", 7),
    ("description", "Description", 30),
    ("images", "Images", 6),
    ("where", "Where", 5),
    ("reason", "Why", 40),
)

HINT = "Enter opens (fetches one on the node) · x cancels the fetch · Esc/P closes"


def prior_cells(prior: Prior) -> tuple[str, ...]:
    """The cells of a prior's row, in PRIOR_COLUMNS order (made safe for the terminal)."""
    cand = prior.candidate
    images = "" if cand.images is None else str(cand.images)
    return (
        fmt.dicom_date(cand.study_date),
        "/".join(cand.modalities)[:16],
        fmt.clip(clean(cand.description), 30),
        images,
        cand.where,
        fmt.clip(clean(prior.reason), 40),
    )


class PriorsScreen(ModalScreen[str | None]):
    """The ranked priors of the open study; dismissed with the UID of a study to show
    (None when closed)."""

    DEFAULT_CSS = """
    PriorsScreen { align: center middle; }
    PriorsScreen > Vertical {
        width: 90%; max-width: 120; height: auto; max-height: 90%;
        border: round $accent; padding: 0 1; background: $surface;
    }
    PriorsScreen DataTable { height: auto; max-height: 24; }
    PriorsScreen #priors-progress { display: none; }
    PriorsScreen .hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,P", "close", "Close"),
        Binding("x", "cancel_fetch", "Cancel fetch"),
    ]

    def __init__(self, finder: PriorsFinder, patient: str, masked: bool) -> None:
        super().__init__()
        self.finder = finder
        self.patient = patient
        self.masked = masked

    def compose(self) -> ComposeResult:
        """The title, the table, the status line, the progress bar and the keys."""
        with Vertical():
            name = fmt.MASK if self.masked else clean(fmt.person_name(self.patient))
            yield Static(f"Priors of {name}", id="priors-title", markup=False)
            yield DataTable(id="priors", cursor_type="row", zebra_stripes=True)
            yield Static("", id="priors-status", markup=False)
            yield ProgressBar(id="priors-progress", show_eta=False)
            yield Static(HINT, classes="hint", markup=False)

    @property
    def table(self) -> DataTable[Text]:
        """The priors table."""
        return self.query_one("#priors", DataTable)

    def on_mount(self) -> None:
        """Columns, the rows found so far; follow the finder from now on."""
        for key, label, width in PRIOR_COLUMNS:
            self.table.add_column(label, key=key, width=width)
        self.finder.watcher = self.refresh_rows
        self.refresh_rows()
        self.table.focus()

    def on_unmount(self) -> None:
        """Stop following the finder."""
        if self.finder.watcher == self.refresh_rows:
            self.finder.watcher = None

    def refresh_rows(self) -> None:
        """Show the finder's state: its ranked priors, status and fetch progress."""
        finder, table = self.finder, self.table
        cursor = table.cursor_row
        table.clear()
        for prior in finder.priors:
            cells = tuple(Text(cell) for cell in prior_cells(prior))
            table.add_row(*cells, key=prior.candidate.study_uid)
        if 0 <= cursor < table.row_count:
            table.move_cursor(row=cursor)
        empty = " · no other study of this patient" if not finder.priors else ""
        self.query_one("#priors-status", Static).update(finder.status + empty)
        bar = self.query_one("#priors-progress", ProgressBar)
        bar.display = bool(finder.fetching)
        bar.update(total=max(finder.total, 1) if finder.total else None, progress=finder.done)

    def current(self) -> Prior | None:
        """The prior under the cursor."""
        row = self.table.cursor_row
        priors = self.finder.priors
        return priors[row] if 0 <= row < len(priors) else None

    @on(DataTable.RowSelected, "#priors")
    def chosen(self, event: DataTable.RowSelected) -> None:
        """Enter: show a study here, fetch one only on the node."""
        event.stop()
        prior = self.current()
        if prior is None:
            return
        if prior.candidate.where != "node":
            self.dismiss(prior.candidate.study_uid)
            return
        why_not = self.finder.fetch(prior.candidate.study_uid)
        if why_not:
            self.notify(why_not, severity="warning", markup=False)

    def action_cancel_fetch(self) -> None:
        """Cancel the running fetch."""
        if self.finder.cancel():
            self.query_one("#priors-status", Static).update("cancelling the fetch…")

    def action_close(self) -> None:
        """Close the list (a fetch goes on)."""
        self.dismiss(None)
