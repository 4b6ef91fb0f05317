"""The browser: studies of the local archive and the series of the highlighted study."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.text import Text
from textual import events, on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, ProgressBar, Static
from textual.widgets.data_table import ColumnKey
from textual.worker import Worker, get_current_worker

from tuipacs.app.messages import (
    LoadFailed,
    RemoteQueryFailed,
    RemoteStudiesFound,
    RetrieveFinished,
    RetrieveProgressed,
    SeriesFound,
    ShowSeries,
    ShowStudy,
    StudiesFound,
    StudyArrived,
    ThumbnailMade,
)
from tuipacs.app.screens.query import QueryRequest, QueryScreen
from tuipacs.app.widgets.thumbnails import SeriesThumbnails
from tuipacs.config import Config
from tuipacs.dicom.errors import DicomError
from tuipacs.safe_text import clean
from tuipacs.store.archive import Archive
from tuipacs.store.query import SeriesRow, StudyRow, list_instances, list_series, list_studies
from tuipacs.view import format as fmt


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

#: key, header and width (in cells) of each column; a longer value is cut with "…", and a
#: sortable column is wide enough for its header and the sort arrow
STUDY_COLUMNS = (
    ("name", "Patient", 26),
    ("id", "Patient ID", 12),
    ("birth", "Birth date", 10),
    ("date", "Study date", 16),
    ("modality", "Mod", 7),
    ("description", "Description", 34),
    ("accession", "Accession", 16),  # an accession number (SH) has up to 16 characters
    ("series", "Ser", 4),
    ("images", "Images", 8),
    ("pinned", "Pin", 3),
)

#: the arrows marking the sort column's header: ascending, descending
SORT_ARROWS = ("▲", "▼")

#: seconds to gather arrivals before listing the archive again
ARRIVAL_DELAY = 0.5

#: while a retrieve runs, list the archive again at most this often (seconds), so a study
#: being retrieved can be opened as soon as its first images have landed
RETRIEVE_RELIST = 1.0

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

#: thumbnails kept in memory (series UID and image count -> picture or reason)
THUMBNAIL_CACHE = 256

#: the return keys asked of the remote node besides the matching keys of the form
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

SERIES_COLUMNS = (
    ("number", "#", 4),
    ("modality", "Mod", 5),
    ("description", "Series description", 34),
    ("body", "Body part", 12),
    ("images", "Images", 6),
)


def sort_value(row: StudyRow, column: str) -> tuple[object, ...]:
    """The sort key of ``row`` for ``column`` (ties broken by date and UID); text sorts
    ignoring case and accents, so ``Öztürk`` comes before ``Peters``."""
    values: dict[str, object] = {
        "date": row.study_date + row.study_time,
        "name": fmt.fold(row.patient_name),
        "id": fmt.fold(row.patient_id),
        "modality": row.modalities,
        "description": fmt.fold(row.description),
        "images": row.num_instances,
    }
    return (values[column], row.study_date, row.study_uid)


def search_text(row: StudyRow) -> str:
    """What the filter searches in a study: its patient name (as stored, with its parts
    separated by spaces, and as shown), patient ID, accession and description, folded
    (:func:`tuipacs.view.format.fold`) so that matching ignores case and accents."""
    name = row.patient_name
    parts = name.replace("^", " ").replace("=", " ")
    fields = (name, parts, fmt.person_name(name), row.patient_id, row.accession, row.description)
    return fmt.fold(" ".join(fields))


def filter_words(text: str) -> list[str]:
    """The words of a filter, folded like :func:`search_text`."""
    return fmt.fold(text).split()


def has_words(haystack: str, words: list[str]) -> bool:
    """Does every one of ``words`` (from :func:`filter_words`) occur in ``haystack``?"""
    return all(word in haystack for word in words)


def matches(row: StudyRow, text: str) -> bool:
    """Does every word of ``text`` occur in the name, ID, accession or description?

    Case and accents are ignored: ``muller`` and ``MÜLLER`` find ``Müller^Jürgen``.
    """
    return has_words(search_text(row), filter_words(text))


def fit_cells(values: tuple[str, ...], columns: tuple[tuple[str, str, int], ...]) -> list[Text]:
    """Cells for a table row: each value cleaned (:func:`tuipacs.safe_text.clean`: no
    control, escape sequence or bidi override reaches the terminal), cut to its column's
    width with a final "…", and as plain text (``T1 [Gd]`` is not read as Rich markup)."""
    return [
        Text(fmt.clip(clean(value), width), no_wrap=True, overflow="ellipsis", end="")
        for value, (_key, _label, width) in zip(values, columns, strict=True)
    ]


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


def remote_cells(row: dict[str, str], here: bool) -> tuple[str, ...]:
    """The cells of a remote study row, in REMOTE_COLUMNS order; ``here`` marks local ones."""
    return (
        "✓" if here else "",
        fmt.person_name(row.get("PatientName", "")),
        row.get("PatientID", ""),
        fmt.dicom_date(row.get("StudyDate", "")),
        fmt.modalities(row.get("ModalitiesInStudy", "")),
        row.get("StudyDescription", ""),
        row.get("AccessionNumber", ""),
        row.get("NumberOfStudyRelatedInstances", ""),
    )


def shown_series(row: SeriesRow) -> SeriesRow:
    """``row`` with its displayed text cleaned (:func:`tuipacs.safe_text.clean`), for the
    thumbnail captions; the UIDs stay exact (they are keys, not shown)."""
    return dataclasses.replace(
        row,
        series_number=clean(row.series_number),
        modality=clean(row.modality),
        description=clean(row.description),
        body_part=clean(row.body_part),
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


class BrowserTable(DataTable[Text | str]):
    """A row-cursor table of the browser: Home and End go to the first and last row (the
    plain DataTable scrolls sideways); PageUp and PageDown move a page (as in DataTable)."""

    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]


class BrowserScreen(Screen[None]):
    """Studies (filter as you type, sortable) above the series of the highlighted study."""

    BINDINGS = [
        # priority: an empty filter with the focus must not take the / as text
        Binding("slash", "focus_filter", "Filter", priority=True),
        Binding("s", "cycle_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse", show=False),
        Binding("tab", "switch_table", "Studies/Series", show=False),
        Binding("asterisk", "toggle_pin", "Pin"),
        Binding("t", "toggle_thumbnails", "Thumbnails"),
        Binding("f5,ctrl+r", "refresh", "Refresh"),
        Binding("r", "remote_query", "Query node"),
        Binding("g", "retrieve", "Retrieve"),
        Binding("x", "cancel_retrieve", "Cancel retrieve"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, archive: Archive, cfg: Config | None = None) -> None:
        super().__init__()
        self.archive = archive
        self.cfg = cfg or Config()
        self.remote_node = ""
        self.remote_rows: list[dict[str, str]] = []
        self.last_query: QueryRequest | None = None
        self.retrieving = ""
        self.cancel_event: threading.Event | None = None
        self.last_summary: Any = None
        self.arrivals: set[str] = set()
        self.listed_at = 0.0
        self.all_studies: list[StudyRow] = []
        self.search_texts: dict[str, str] = {}
        self.shown: list[StudyRow] = []
        self.series: list[SeriesRow] = []
        self.series_study = ""
        self.sort_index = 0
        self.sort_reversed = False
        self.thumbnails_on = self.cfg.thumbnails
        self.thumbnails: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self.thumbnail_request: tuple[str, tuple[tuple[str, int], ...]] = ("", ())
        self.thumbnail_worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        """A filter line, the study table, the series table, a status line and the footer."""
        yield Static("tuipacs · local archive", id="browser-title")
        yield Input(placeholder="/  filter by name, ID, accession or description", id="filter")
        with Vertical(id="tables"):
            yield BrowserTable(id="studies", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="lower"):
                yield BrowserTable(id="series", cursor_type="row", zebra_stripes=True)
                yield SeriesThumbnails(getattr(self.app, "graphics_config", None), id="thumbs")
            yield BrowserTable(id="remote", cursor_type="row", zebra_stripes=True)
        yield ProgressBar(id="retrieve-progress", show_eta=False)
        yield Static("", id="browser-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        """Set up the columns and start listing the archive."""
        studies = self.query_one("#studies", DataTable)
        for key, label, width in STUDY_COLUMNS:
            studies.add_column(label, key=key, width=width)
        series = self.query_one("#series", DataTable)
        for key, label, width in SERIES_COLUMNS:
            series.add_column(label, key=key, width=width)
        self.query_one("#lower").border_title = "Series"
        self._place_thumbnails()
        remote = self.query_one("#remote", DataTable)
        for key, label, width in REMOTE_COLUMNS:
            remote.add_column(label, key=key, width=width)
        remote.display = False
        self.query_one("#retrieve-progress", ProgressBar).display = False
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

    @work(thread=True, exclusive=True, group="thumbnails", exit_on_error=False)
    def load_thumbnails(self, study_uid: str, series: list[tuple[str, int]]) -> None:
        """Make the thumbnail of each series (its middle image), one message each."""
        # imported here: the pixel pipeline is not needed to start
        from tuipacs.imaging import thumbnail
        from tuipacs.imaging.errors import ImagingError

        worker = get_current_worker()
        for series_uid, count in series:
            if worker.is_cancelled:
                return
            array, reason = None, ""
            try:
                images = [i for i in list_instances(self.archive, series_uid) if i.rows]
                if images:
                    array = thumbnail.make_thumbnail(images[len(images) // 2].path).array
                else:
                    reason = "no image"
            except ImagingError as exc:
                reason = str(exc)
            except Exception as exc:  # a broken index or file must not crash the UI
                reason = f"cannot read: {exc}"
            self.post_message(ThumbnailMade(study_uid, series_uid, count, array, clean(reason)))

    # -- results -------------------------------------------------------------------------------

    def on_studies_found(self, message: StudiesFound) -> None:
        """Keep the list and show it through the filter."""
        self.all_studies = message.rows
        self.search_texts = {row.study_uid: search_text(row) for row in message.rows}
        self._fill_studies()
        if self.remote_rows:
            self._fill_remote()

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
            table.add_row(*fit_cells(series_cells(row), SERIES_COLUMNS), key=row.series_uid)
        self._show_thumbnails()

    # -- thumbnails ----------------------------------------------------------------------------

    def _show_thumbnails(self) -> None:
        """Tiles for the listed series: cached pictures at once, the others from a worker."""
        thumbs = self.query_one("#thumbs", SeriesThumbnails)
        if not self.thumbnails_on:
            return
        rows = thumbs.show_series(self.series_study, [shown_series(row) for row in self.series])
        missing = []
        for row in rows:
            key = (row.series_uid, row.num_instances)
            if key in self.thumbnails:
                self.thumbnails.move_to_end(key)
                array, reason = self.thumbnails[key]
                thumbs.set_picture(row.series_uid, array, reason)
            else:
                missing.append(key)
        self._highlight_thumbnail()
        request = (self.series_study, tuple(missing))
        running = self.thumbnail_worker is not None and self.thumbnail_worker.is_running
        if missing and (request != self.thumbnail_request or not running):
            self.thumbnail_request = request
            self.thumbnail_worker = self.load_thumbnails(self.series_study, missing)

    def on_thumbnail_made(self, message: ThumbnailMade) -> None:
        """Keep the picture and show it if its study is still the highlighted one."""
        self.thumbnails[(message.series_uid, message.images)] = (message.array, message.reason)
        while len(self.thumbnails) > THUMBNAIL_CACHE:
            self.thumbnails.popitem(last=False)
        if message.study_uid == self.series_study and self.thumbnails_on:
            self.query_one("#thumbs", SeriesThumbnails).set_picture(
                message.series_uid, message.array, message.reason
            )

    @on(DataTable.RowHighlighted, "#series")
    def series_highlighted(self) -> None:
        """Outline the thumbnail of the highlighted series."""
        self._highlight_thumbnail()

    def _highlight_thumbnail(self) -> None:
        table = self.query_one("#series", DataTable)
        row = table.cursor_row
        uid = self.series[row].series_uid if 0 <= row < len(self.series) else ""
        self.query_one("#thumbs", SeriesThumbnails).highlight(uid)

    def on_show_series(self, message: ShowSeries) -> None:
        """A thumbnail was clicked: open the study at that series."""
        study = self.current_study()
        if study is not None and study.study_uid == self.series_study:
            self.post_message(ShowStudy(study, message.series_uid))

    def action_toggle_thumbnails(self) -> None:
        """Show or hide the series thumbnails."""
        self.thumbnails_on = not self.thumbnails_on
        self._place_thumbnails()
        if self.thumbnails_on:
            self._show_thumbnails()
        else:
            self.query_one("#thumbs", SeriesThumbnails).clear_series()

    def _place_thumbnails(self) -> None:
        """Thumbnails beside the series table, or the table alone at full width."""
        self.query_one("#thumbs", SeriesThumbnails).display = self.thumbnails_on
        self.query_one("#series", DataTable).set_class(not self.thumbnails_on, "-alone")

    def on_load_failed(self, message: LoadFailed) -> None:
        """One line in the status bar and a notification."""
        line = clean(message.message)
        self.query_one("#browser-status", Static).update(line)
        self.notify(line, severity="error", markup=False)

    # -- table contents ------------------------------------------------------------------------

    def _fill_studies(self) -> None:
        words = filter_words(self.query_one("#filter", Input).value)
        sort = SORTS[self.sort_index]
        rows = [
            r
            for r in self.all_studies
            if has_words(self.search_texts.get(r.study_uid) or search_text(r), words)
        ]
        descending = sort.descending != self.sort_reversed
        rows.sort(key=lambda r: sort_value(r, sort.column), reverse=descending)
        table = self.query_one("#studies", DataTable)
        previous = self.current_study()
        self.shown = rows
        table.clear()
        for row in rows:
            table.add_row(*fit_cells(study_cells(row), STUDY_COLUMNS), key=row.study_uid)
        # follow the study by its UID: a new listing (after a pin, say) has new rows
        uids = [row.study_uid for row in rows]
        if previous is not None and previous.study_uid in uids:
            table.move_cursor(row=uids.index(previous.study_uid))
        self._update_status()
        self._highlight_changed()

    def _label_columns(self) -> None:
        """Mark the sort column's header with an arrow."""
        table = self.query_one("#studies", DataTable)
        sort = SORTS[self.sort_index]
        arrow = SORT_ARROWS[sort.descending != self.sort_reversed]
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
            self.query_one("#thumbs", SeriesThumbnails).clear_series()
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
        elif key == "escape" and self._escape_remote():
            event.stop()

    # -- actions -------------------------------------------------------------------------------

    def action_focus_filter(self) -> None:
        """Put the cursor in the filter; / is typed only into a filter already begun."""
        filt = self.query_one("#filter", Input)
        if filt.has_focus and filt.value:
            raise SkipAction()  # the key goes on to the filter
        # at once, not later: keys typed right after the / (one SSH packet) go to it
        self.set_focus(filt)

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
        order = ["#studies", "#series"]
        if self.query_one("#remote", DataTable).display:
            order.append("#remote")
        focused = next((i for i, t in enumerate(order) if self.query_one(t).has_focus), -1)
        self.query_one(order[(focused + 1) % len(order)], DataTable).focus()

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

    # -- remote query and retrieve -------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show g only with remote results and x only while a retrieve runs."""
        if action == "retrieve":
            return bool(self.is_mounted and self.query_one("#remote", DataTable).display)
        if action == "cancel_retrieve":
            return self.cancel_event is not None
        return True

    def action_remote_query(self) -> None:
        """Open the "Query node" form; its answer starts the C-FIND."""
        self.app.push_screen(QueryScreen(sorted(self.cfg.nodes), self.last_query), self._query_done)

    def _query_done(self, request: QueryRequest | None) -> None:
        if request is None:
            return
        self.last_query = request
        self.query_one("#browser-status", Static).update(f"querying {clean(request.node)}…")
        self.run_query(request)

    @work(thread=True, exclusive=True, group="remote", exit_on_error=False)
    def run_query(self, request: QueryRequest) -> None:
        """C-FIND at study level on the chosen node; posts the rows or one line of error."""
        from tuipacs.dicom import scu

        keys = {keyword: "" for keyword in REMOTE_RETURN_KEYS}
        keys.update(request.keys)
        try:
            node = self.cfg.node(request.node)
            rows = scu.find(node, self.cfg.local_ae(), level="study", root="study", keys=keys)
        except DicomError as exc:
            self.post_message(RemoteQueryFailed(f"query failed: {exc}"))
            return
        except Exception as exc:  # never a traceback in the UI
            self.post_message(RemoteQueryFailed(f"query failed: {type(exc).__name__}: {exc}"))
            return
        self.post_message(RemoteStudiesFound(node.name, rows))

    def on_remote_query_failed(self, message: RemoteQueryFailed) -> None:
        """One line in the status bar and an error notification."""
        line = clean(message.message.splitlines()[0]) if message.message else "query failed"
        self.query_one("#browser-status", Static).update(line)
        self.notify(line, severity="error", timeout=8, markup=False)

    def on_remote_studies_found(self, message: RemoteStudiesFound) -> None:
        """Show the remote results below the local tables and focus them."""
        self.remote_node = message.node
        self.remote_rows = message.rows
        remote = self.query_one("#remote", DataTable)
        remote.display = True
        self._fill_remote()
        remote.focus()
        self.refresh_bindings()
        count = len(message.rows)
        self.query_one("#browser-status", Static).update(
            f"{count} studies on {clean(message.node)} · g retrieves · Esc hides · r queries again"
        )

    def _fill_remote(self) -> None:
        local = {row.study_uid for row in self.all_studies}
        remote = self.query_one("#remote", DataTable)
        cursor = remote.cursor_row
        remote.clear()
        for row in self.remote_rows:
            uid = row.get("StudyInstanceUID", "")
            here, *cells = remote_cells(row, uid in local)
            remote.add_row(here, *fit_cells(tuple(cells), REMOTE_COLUMNS[1:]), key=uid or None)
        # a Text: a node typed as AE@host:port is not read as markup
        title = f"Remote: {clean(self.remote_node)} · {len(self.remote_rows)} studies"
        remote.border_title = Text(title)
        if 0 <= cursor < len(self.remote_rows):
            remote.move_cursor(row=cursor)

    def current_remote(self) -> dict[str, str] | None:
        """The remote study under the cursor of the remote table (if it is shown)."""
        remote = self.query_one("#remote", DataTable)
        if not remote.display or not 0 <= remote.cursor_row < len(self.remote_rows):
            return None
        return self.remote_rows[remote.cursor_row]

    def action_retrieve(self) -> None:
        """Retrieve the highlighted remote study into the archive."""
        row = self.current_remote()
        if row is None:
            self.notify("query a node first (r), then pick a study", severity="warning")
            return
        uid = row.get("StudyInstanceUID", "")
        if not uid:
            self.notify("the node did not return a Study Instance UID", severity="error")
            return
        if self.retrieving:
            self.notify("a retrieve is running; x cancels it", severity="warning")
            return
        self.retrieving = uid
        self.cancel_event = threading.Event()
        bar = self.query_one("#retrieve-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.refresh_bindings()
        self.query_one("#browser-status", Static).update("retrieving… x cancels")
        self.run_retrieve(self.remote_node, uid, self.cancel_event)

    @work(thread=True, exclusive=True, group="retrieve", exit_on_error=False)
    def run_retrieve(self, node_name: str, study_uid: str, cancel: threading.Event) -> None:
        """Retrieve one study into the archive; posts progress and the summary."""
        from tuipacs.dicom.retrieve import RetrieveProgress, RetrieveSummary, retrieve

        def sink(path: Path, _info: Any) -> None:
            self.archive.add_file(path, move=True)

        def progress(state: RetrieveProgress) -> None:
            self.post_message(RetrieveProgressed(study_uid, state))

        try:
            node = self.cfg.node(node_name)
            summary = retrieve(
                node,
                self.cfg.local_ae(),
                study_uid,
                sink=sink,
                have=self.archive.has_instance,
                have_any=self.archive.has_study,
                progress=progress,
                cancel=cancel,
            )
        except Exception as exc:  # retrieve reports network errors; this is for the rest
            summary = RetrieveSummary(study_uid, "", errors=[f"{type(exc).__name__}: {exc}"])
        self.post_message(RetrieveFinished(summary))

    def on_retrieve_progressed(self, message: RetrieveProgressed) -> None:
        """Move the progress bar: completed (and skipped) of total."""
        state = message.progress
        bar = self.query_one("#retrieve-progress", ProgressBar)
        done = state.completed + state.skipped + state.failed
        bar.update(total=max(state.total, 1), progress=done)
        self.query_one("#browser-status", Static).update(
            f"retrieving: {state.completed} of {state.total} received"
            + (f", {state.failed} failed" if state.failed else "")
            + " · x cancels"
        )
        now = time.monotonic()
        if state.completed and now - self.listed_at >= RETRIEVE_RELIST:
            self.listed_at = now
            self.load_studies()

    def on_retrieve_finished(self, message: RetrieveFinished) -> None:
        """Notify "N received, M failed", hide the bar, list the archive again."""
        summary = message.summary
        self.last_summary = summary
        self.retrieving = ""
        self.cancel_event = None
        self.query_one("#retrieve-progress", ProgressBar).display = False
        self.refresh_bindings()
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
        self.query_one("#browser-status", Static).update(line)
        self.notify(line, severity=severity, timeout=8, markup=False)
        self.action_refresh()

    def action_cancel_retrieve(self) -> None:
        """Ask the running retrieve to stop."""
        if self.cancel_event is None:
            return
        self.cancel_event.set()
        self.query_one("#browser-status", Static).update("cancelling the retrieve…")

    def on_unmount(self) -> None:
        """Leaving (quitting): stop a running retrieve so its thread ends soon."""
        if self.cancel_event is not None:
            self.cancel_event.set()

    def _escape_remote(self) -> bool:
        """Escape outside the filter: cancel a retrieve, else hide the remote results."""
        if self.cancel_event is not None:
            self.action_cancel_retrieve()
            return True
        remote = self.query_one("#remote", DataTable)
        if remote.display:
            remote.display = False
            self.refresh_bindings()
            self.query_one("#studies", DataTable).focus()
            self._update_status()
            return True
        return False

    # -- live arrivals ---------------------------------------------------------------------------

    def on_study_arrived(self, message: StudyArrived) -> None:
        """An instance arrived: list the archive again, at most every half second."""
        if not self.arrivals:
            self.set_timer(ARRIVAL_DELAY, self._arrivals_done)
        self.arrivals.add(message.study_uid)

    def _arrivals_done(self) -> None:
        count, self.arrivals = len(self.arrivals), set()
        self.action_refresh()
        self.notify(f"images received for {count} {'study' if count == 1 else 'studies'}")

    def action_help(self) -> None:
        """Show the keys."""
        from tuipacs.app.screens.help import HelpScreen

        self.app.push_screen(HelpScreen("browser"))
