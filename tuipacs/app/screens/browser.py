"""The browser: studies of the local archive and the series of the highlighted study."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.widgets.data_table import ColumnKey

from tuipacs.app import format as fmt
from tuipacs.app.messages import LoadFailed, SeriesFound, ShowStudy, StudiesFound
from tuipacs.store.archive import Archive
from tuipacs.store.query import SeriesRow, StudyRow, list_series, list_studies


@dataclass(frozen=True)
class SortKey:
    """A sort order of the study table: a label and how to get the key from a row."""

    label: str
    column: str
    descending: bool


SORTS = (
    SortKey("study date", "date", True),
    SortKey("patient name", "name", False),
    SortKey("patient ID", "id", False),
    SortKey("modality", "modality", False),
    SortKey("description", "description", False),
    SortKey("images", "images", True),
)

STUDY_COLUMNS = (
    ("name", "Patient", 26),
    ("id", "Patient ID", 12),
    ("birth", "Birth date", 10),
    ("date", "Study date", 16),
    ("modality", "Mod", 7),
    ("description", "Description", 36),
    ("accession", "Accession", 12),
    ("series", "Ser", 4),
    ("images", "Images", 6),
    ("pinned", "Pin", 3),
)

SERIES_COLUMNS = (
    ("number", "#", 4),
    ("modality", "Mod", 5),
    ("description", "Series description", 34),
    ("body", "Body part", 12),
    ("images", "Images", 6),
)


def sort_value(row: StudyRow, column: str) -> tuple[object, ...]:
    """The sort key of ``row`` for ``column`` (ties broken by date and UID)."""
    values: dict[str, object] = {
        "date": row.study_date + row.study_time,
        "name": row.patient_name.lower(),
        "id": row.patient_id.lower(),
        "modality": row.modalities,
        "description": row.description.lower(),
        "images": row.num_instances,
    }
    return (values[column], row.study_date, row.study_uid)


def matches(row: StudyRow, text: str) -> bool:
    """Does every word of ``text`` occur in the name, ID, accession or description?"""
    haystack = " ".join(
        (row.patient_name, fmt.person_name(row.patient_name), row.patient_id, row.accession)
        + (row.description,)
    ).lower()
    return all(word in haystack for word in text.lower().split())


def study_cells(row: StudyRow) -> tuple[str, ...]:
    """The cells of a study row, in STUDY_COLUMNS order."""
    date = fmt.dicom_date(row.study_date)
    if row.study_time:
        date = f"{date} {fmt.dicom_time(row.study_time)}"
    return (
        fmt.person_name(row.patient_name),
        row.patient_id,
        fmt.dicom_date(row.birth_date),
        date,
        fmt.modalities(row.modalities),
        row.description,
        row.accession,
        str(row.num_series),
        str(row.num_instances),
        "*" if row.pinned else "",
    )


def series_cells(row: SeriesRow) -> tuple[str, ...]:
    """The cells of a series row, in SERIES_COLUMNS order."""
    return (
        row.series_number,
        row.modality,
        row.description,
        row.body_part,
        str(row.num_instances),
    )


class BrowserScreen(Screen[None]):
    """Studies (filter as you type, sortable) above the series of the highlighted study."""

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse", show=False),
        Binding("tab", "switch_table", "Studies/Series", show=False),
        Binding("asterisk", "toggle_pin", "Pin"),
        Binding("f5,ctrl+r", "refresh", "Refresh"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, archive: Archive) -> None:
        super().__init__()
        self.archive = archive
        self.all_studies: list[StudyRow] = []
        self.shown: list[StudyRow] = []
        self.series: list[SeriesRow] = []
        self.series_study = ""
        self.sort_index = 0
        self.sort_reversed = False

    def compose(self) -> ComposeResult:
        """A filter line, the study table, the series table, a status line and the footer."""
        yield Static("tuipacs · local archive", id="browser-title")
        yield Input(placeholder="/  filter by name, ID, accession or description", id="filter")
        with Vertical(id="tables"):
            yield DataTable(id="studies", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="series", cursor_type="row", zebra_stripes=True)
        yield Static("", id="browser-status")
        yield Footer()

    def on_mount(self) -> None:
        """Set up the columns and start listing the archive."""
        studies = self.query_one("#studies", DataTable)
        for key, label, width in STUDY_COLUMNS:
            studies.add_column(label, key=key, width=width)
        series = self.query_one("#series", DataTable)
        for key, label, width in SERIES_COLUMNS:
            series.add_column(label, key=key, width=width)
        series.border_title = "Series"
        self._label_columns()
        studies.focus()
        self.action_refresh()

    # -- workers -------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="studies", exit_on_error=False)
    def load_studies(self) -> None:
        """List every study of the archive (the filter works on this list in memory)."""
        try:
            rows = list_studies(self.archive)
        except Exception as exc:  # a broken index must not crash the UI
            self.post_message(LoadFailed("studies", f"cannot list the archive: {exc}"))
            return
        self.post_message(StudiesFound(rows))

    @work(thread=True, exclusive=True, group="series", exit_on_error=False)
    def load_series(self, study_uid: str) -> None:
        """List the series of one study."""
        try:
            rows = list_series(self.archive, study_uid)
        except Exception as exc:
            self.post_message(LoadFailed("series", f"cannot list the series: {exc}"))
            return
        self.post_message(SeriesFound(study_uid, rows))

    # -- results -------------------------------------------------------------------------------

    def on_studies_found(self, message: StudiesFound) -> None:
        """Keep the list and show it through the filter."""
        self.all_studies = message.rows
        self._fill_studies()

    def on_series_found(self, message: SeriesFound) -> None:
        """Show the series if they still belong to the highlighted study."""
        current = self.current_study()
        if current is None or current.study_uid != message.study_uid:
            return
        self.series = message.rows
        self.series_study = message.study_uid
        table = self.query_one("#series", DataTable)
        table.clear()
        for row in message.rows:
            table.add_row(*series_cells(row), key=row.series_uid)

    def on_load_failed(self, message: LoadFailed) -> None:
        """One line in the status bar and a notification."""
        self.query_one("#browser-status", Static).update(message.message)
        self.notify(message.message, severity="error")

    # -- table contents ------------------------------------------------------------------------

    def _fill_studies(self) -> None:
        text = self.query_one("#filter", Input).value
        sort = SORTS[self.sort_index]
        rows = [r for r in self.all_studies if matches(r, text)]
        descending = sort.descending != self.sort_reversed
        rows.sort(key=lambda r: sort_value(r, sort.column), reverse=descending)
        table = self.query_one("#studies", DataTable)
        previous = self.current_study()
        self.shown = rows
        table.clear()
        for row in rows:
            table.add_row(*study_cells(row), key=row.study_uid)
        if previous is not None and previous in rows:
            table.move_cursor(row=rows.index(previous))
        self._update_status()
        self._highlight_changed()

    def _label_columns(self) -> None:
        """Mark the sort column's header with an arrow."""
        table = self.query_one("#studies", DataTable)
        sort = SORTS[self.sort_index]
        arrow = "▼" if sort.descending != self.sort_reversed else "▲"
        for key, label, _width in STUDY_COLUMNS:
            column = table.columns[ColumnKey(key)]
            column.label = Text(f"{label} {arrow}" if key == sort.column else label)
        table.refresh()

    def _update_status(self) -> None:
        total, shown = len(self.all_studies), len(self.shown)
        sort = SORTS[self.sort_index]
        order = "descending" if sort.descending != self.sort_reversed else "ascending"
        count = f"{shown} of {total} studies" if shown != total else f"{total} studies"
        self.query_one("#browser-status", Static).update(
            f"{count} · sorted by {sort.label}, {order} · Enter opens · / filters · s sorts"
        )

    def current_study(self) -> StudyRow | None:
        """The study under the cursor of the study table."""
        table = self.query_one("#studies", DataTable)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def _highlight_changed(self) -> None:
        study = self.current_study()
        table = self.query_one("#series", DataTable)
        if study is None:
            self.series, self.series_study = [], ""
            table.clear()
            return
        if study.study_uid != self.series_study:
            table.clear()
            self.load_series(study.study_uid)

    # -- events --------------------------------------------------------------------------------

    @on(Input.Changed, "#filter")
    def filter_changed(self) -> None:
        """Filter as you type."""
        self._fill_studies()

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        """Enter in the filter goes to the results."""
        self.query_one("#studies", DataTable).focus()

    @on(DataTable.RowHighlighted, "#studies")
    def study_highlighted(self) -> None:
        """Show the series of the highlighted study."""
        self._highlight_changed()

    @on(DataTable.RowSelected, "#studies")
    def study_selected(self) -> None:
        """Enter on a study: open its first series."""
        study = self.current_study()
        if study is not None:
            self.post_message(ShowStudy(study))

    @on(DataTable.RowSelected, "#series")
    def series_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a series: open the study at that series."""
        study = self.current_study()
        if study is not None and event.row_key.value:
            self.post_message(ShowStudy(study, str(event.row_key.value)))

    def on_show_study(self, message: ShowStudy) -> None:
        """Open the viewer."""
        from tuipacs.app.screens.viewer import ViewerScreen

        graphics = getattr(self.app, "graphics_config", None)
        self.app.push_screen(
            ViewerScreen(self.archive, message.study, message.series_uid, graphics=graphics)
        )

    def on_key(self, event: events.Key) -> None:
        """Escape in the filter clears it and returns to the table; so does Down."""
        key = event.key
        filt = self.query_one("#filter", Input)
        if key == "escape" and filt.has_focus:
            filt.value = ""
            self.query_one("#studies", DataTable).focus()
        elif key == "down" and filt.has_focus:
            self.query_one("#studies", DataTable).focus()

    # -- actions -------------------------------------------------------------------------------

    def action_focus_filter(self) -> None:
        """Put the cursor in the filter."""
        self.query_one("#filter", Input).focus()

    def action_cycle_sort(self) -> None:
        """Sort by the next column."""
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self.sort_reversed = False
        self._label_columns()
        self._fill_studies()

    def action_reverse_sort(self) -> None:
        """Reverse the sort order."""
        self.sort_reversed = not self.sort_reversed
        self._label_columns()
        self._fill_studies()

    def action_switch_table(self) -> None:
        """Move between the study and the series table."""
        studies = self.query_one("#studies", DataTable)
        target = "#series" if studies.has_focus else "#studies"
        self.query_one(target, DataTable).focus()

    def action_toggle_pin(self) -> None:
        """Pin or unpin the highlighted study (pinned studies are never evicted)."""
        study = self.current_study()
        if study is None:
            return
        self.pin_study(study.study_uid, not study.pinned)

    @work(thread=True, exclusive=True, group="pin", exit_on_error=False)
    def pin_study(self, study_uid: str, pinned: bool) -> None:
        """Write the pin, then list again."""
        try:
            self.archive.set_pinned(study_uid, pinned)
            rows = list_studies(self.archive)
        except Exception as exc:
            self.post_message(LoadFailed("pin", f"cannot pin the study: {exc}"))
            return
        self.post_message(StudiesFound(rows))

    def action_refresh(self) -> None:
        """List the archive again."""
        self.series_study = ""
        self.load_studies()

    def action_help(self) -> None:
        """Show the keys."""
        from tuipacs.app.screens.help import HelpScreen

        self.app.push_screen(HelpScreen("browser"))
