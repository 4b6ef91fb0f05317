"""The browser: studies of the local archive and the series of the highlighted study.

A composition: the filter line and the :class:`~tuipacs.app.widgets.study_table.StudyTable`
(filter, sort), the :class:`~tuipacs.app.widgets.series_panel.SeriesPanel` (series and their
thumbnails) and the :class:`~tuipacs.app.widgets.remote_panel.RemotePanel` (query and
retrieve). The screen lists the archive, routes the highlighted study and opens the viewer.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from tuipacs.app.keymap import Key
from tuipacs.app.messages import (
    LoadFailed,
    SeriesFound,
    ShowSeries,
    ShowStudy,
    StudiesFound,
    StudyArrived,
)
from tuipacs.app.screens.browser_export import BrowserExport
from tuipacs.app.screens.browser_mask import BrowserMask
from tuipacs.app.screens.query import QueryRequest, QueryScreen
from tuipacs.app.settings import Settings
from tuipacs.app.widgets.fit_footer import FitFooter
from tuipacs.app.widgets.remote_panel import (
    REMOTE_COLUMNS,
    RemotePanel,
    RemoteStudy,
    local_marks,
)
from tuipacs.app.widgets.series_panel import SERIES_COLUMNS, SeriesPanel
from tuipacs.app.widgets.study_table import (
    SORT_ARROWS,
    SORTS,
    STUDY_COLUMNS,
    FilterInput,
    StudyTable,
    fit_cells,
    matches,
    study_cells,
)
from tuipacs.remote import config_clients
from tuipacs.safe_text import clean
from tuipacs.store.archive import Archive
from tuipacs.store.query import SeriesRow, StudyRow, list_studies

if TYPE_CHECKING:
    import threading

    from tuipacs.remote import ClientFactory, RetrieveResult

__all__ = [  # the browser's names tests and callers know
    "REMOTE_COLUMNS",
    "SERIES_COLUMNS",
    "SORTS",
    "SORT_ARROWS",
    "STUDY_COLUMNS",
    "BrowserScreen",
    "fit_cells",
    "matches",
    "study_cells",
]

ARRIVAL_DELAY = 0.5
"""Seconds to gather arrivals before listing the archive again."""

RETRIEVE_RELIST = 1.0
"""While a retrieve runs, list the archive again at most this often (seconds), so a study
being retrieved can be opened as soon as its first images have landed."""

SECTIONS = ("Find", "Open", "App", "Remote node")
"""The help screen's sections, in this order."""

FOOTER_KEEP = ("help", "app.quit")
"""The keys the footer always shows, however narrow the terminal (? help, q quit)."""


def _bindings() -> list[BindingType]:
    """The browser's keys (the tables and the filter line add theirs)."""
    find, open_, app, remote = SECTIONS
    return [
        # priority: an empty filter with the focus must not take the / as text
        Key("slash", "focus_filter", "Filter", priority=True, section=find,
            tooltip="filter studies by name, ID, accession or description"),
        Key("s", "cycle_sort", "Sort", section=find,
            tooltip="sort by the next column / reverse the order"),
        Key("S", "reverse_sort", "Reverse", show=False, section=find,
            tooltip="sort by the next column / reverse the order"),
        Key("tab", "switch_table", "Studies/Series", show=False, section=open_,
            tooltip="switch between studies and series"),
        Key("asterisk", "toggle_pin", "Pin", section=open_,
            tooltip="pin or unpin the study (never evicted)"),
        Key("t", "toggle_thumbnails", "Thumbnails", section=open_,
            tooltip="show or hide the series thumbnails (a click on one opens it)"),
        Key("f5,ctrl+r", "refresh", "Refresh", section=find, tooltip="list the archive again"),
        Key("r", "remote_query", "Query node", section=remote,
            tooltip="query a node: configured name, AE@host:port or URL, name, ID, date, modality"),
        Key("g", "retrieve", "Retrieve", section=remote,
            tooltip="on a remote study: retrieve it into the local archive"),
        Key("x", "cancel_retrieve", "Cancel retrieve", section=remote,
            tooltip="cancel the running retrieve"),
        Key("escape", "escape", "Back", show=False, section=remote,
            tooltip="cancel the running retrieve, else hide the remote results"),
        Key("E", "export", "Export", section=open_,
            tooltip="export the study (or the series) to a folder, DICOMDIR, zip or PNGs"),
        Key("u", "send", "Send", section=remote,
            tooltip="send the study (or the series) to a configured node"),
        Key("m", "mask", "Mask", section=app,
            tooltip="mask / unmask patient identity on every screen"),
        Key("question_mark", "help", "Help", section=app, tooltip="this help"),
        Key("q", "app.quit", "Quit", section=app, tooltip="quit"),
    ]  # fmt: skip


class BrowserResume:
    """The browser's part in completing a study retrieved only in part: ``c`` on it in the
    study table (:class:`StudyTable.Resume`) retrieves the missing images from the node it
    came from, through the remote panel (status line, x cancels); the archive is listed
    again when it ends, and the study's Images cell loses its mark once all are here."""

    def on_study_table_resume(self, message: StudyTable.Resume) -> None:
        """Start the retrieve of the study's missing images."""
        message.stop()
        screen = cast(Screen[None], self)
        screen.query_one(RemotePanel).start_retrieve(message.node, message.study_uid)


class BrowserPin:
    """The browser's pin key: pinned studies are never evicted."""

    archive: Archive

    def action_toggle_pin(self) -> None:
        """Pin or unpin the highlighted study."""
        study = cast("BrowserScreen", self).current_study()
        if study is not None:
            self.pin_study(study.study_uid, not study.pinned)

    @work(thread=True, exclusive=True, group="pin", exit_on_error=False)
    def pin_study(self, study_uid: str, pinned: bool) -> None:
        """Write the pin, then list again."""
        screen = cast(Screen[None], self)
        try:
            self.archive.set_pinned(study_uid, pinned)
            rows = list_studies(self.archive)
        except Exception as exc:
            screen.post_message(LoadFailed("pin", f"cannot pin the study: {exc}"))
            return
        screen.post_message(StudiesFound(rows))


class BrowserScreen(BrowserResume, BrowserPin, BrowserMask, BrowserExport, Screen[None]):
    """Studies (filter as you type, sortable) above the series of the highlighted study."""

    BINDINGS = _bindings()

    def __init__(
        self,
        archive: Archive,
        settings: Settings | None = None,
        clients: ClientFactory | None = None,
    ) -> None:
        """Browse ``archive``; ``clients`` reach remote nodes (None: those of the config)."""
        super().__init__()
        self.archive = archive
        self.settings = settings or Settings()
        self.cfg = self.settings.config
        self.clients = clients if clients is not None else config_clients(self.cfg, archive)
        self.last_query: QueryRequest | None = None
        self.arrivals: set[str] = set()
        self.listed_at = 0.0

    def compose(self) -> ComposeResult:
        """A filter line, the study table, the series panel, the remote panel, a status line
        and the footer."""
        yield Static("tuipacs · local archive", id="browser-title")
        yield FilterInput(
            placeholder="/  filter by name, ID, accession or description", id="filter"
        )
        with Vertical(id="tables"):
            yield StudyTable(id="studies")
            yield SeriesPanel(self.archive, self.settings.graphics, self.cfg.thumbnails, id="lower")
            yield RemotePanel(self.clients, id="remote-panel")
        yield Static("", id="browser-status", markup=False)
        yield FitFooter(keep=FOOTER_KEEP)

    def on_mount(self) -> None:
        """Start listing the archive."""
        self.studies.focus()
        self.action_refresh()

    # -- the parts ---------------------------------------------------------------------------

    @property
    def studies(self) -> StudyTable:
        """The study table."""
        return self.query_one(StudyTable)

    @property
    def series_panel(self) -> SeriesPanel:
        """The series and their thumbnails."""
        return self.query_one(SeriesPanel)

    @property
    def remote(self) -> RemotePanel:
        """The remote results and the retrieve."""
        return self.query_one(RemotePanel)

    @property
    def all_studies(self) -> list[StudyRow]:
        """Every study of the archive, as last listed."""
        return self.studies.all_studies

    @property
    def shown(self) -> list[StudyRow]:
        """The studies in the table, in its order."""
        return self.studies.shown

    @property
    def series(self) -> list[SeriesRow]:
        """The series of the highlighted study."""
        return self.series_panel.series

    @property
    def series_study(self) -> str:
        """The study whose series are listed."""
        return self.series_panel.study_uid

    @property
    def remote_rows(self) -> list[RemoteStudy]:
        """The studies the remote node answered."""
        return self.remote.rows

    @property
    def cancel_event(self) -> threading.Event | None:
        """Set to cancel the running retrieve (None when none runs)."""
        return self.remote.cancel_event

    @property
    def last_summary(self) -> RetrieveResult | None:
        """How the last retrieve ended."""
        return self.remote.last_summary

    def current_study(self) -> StudyRow | None:
        """The study under the cursor of the study table."""
        return self.studies.current_study()

    def status(self, text: str) -> None:
        """Write the status line."""
        self.query_one("#browser-status", Static).update(text)

    # -- listing -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="studies", exit_on_error=False)
    def load_studies(self) -> None:
        """List every study of the archive (the filter works on this list in memory)."""
        try:
            rows = list_studies(self.archive)
        except Exception as exc:  # a broken index must not crash the UI
            self.post_message(LoadFailed("studies", f"cannot list the archive: {exc}"))
            return
        self.post_message(StudiesFound(rows))

    def on_studies_found(self, message: StudiesFound) -> None:
        """Keep the list and show it through the filter."""
        self.studies.set_studies(message.rows)
        self._fill_studies()
        self.remote.local = local_marks(message.rows)
        if self.remote.rows:
            self.remote.fill()

    def _fill_studies(self) -> None:
        self.studies.fill(self.query_one("#filter", Input).value)
        self.status(self.studies.status())
        self._highlight_changed()

    def _highlight_changed(self) -> None:
        study = self.current_study()
        self.series_panel.show_study(study.study_uid if study else "")

    def on_series_found(self, message: SeriesFound) -> None:
        """Show the series if they still belong to the highlighted study."""
        current = self.current_study()
        if current is not None and current.study_uid == message.study_uid:
            self.series_panel.show_series(message.study_uid, message.rows)

    def on_load_failed(self, message: LoadFailed) -> None:
        """One line in the status bar and a notification."""
        line = clean(message.message)
        self.status(line)
        self.notify(line, severity="error", markup=False)

    def on_remote_panel_status(self, message: RemotePanel.Status) -> None:
        """The remote panel's line on the status bar."""
        self.status(message.text)

    def on_remote_panel_landed(self, message: RemotePanel.Landed) -> None:
        """Images landed: list the archive again (while retrieving, at most every second)."""
        now = time.monotonic()
        if message.final:
            self.action_refresh()
        elif now - self.listed_at >= RETRIEVE_RELIST:
            self.listed_at = now
            self.load_studies()

    def on_study_arrived(self, message: StudyArrived) -> None:
        """An instance arrived: list the archive again, at most every half second."""
        if not self.arrivals:
            self.set_timer(ARRIVAL_DELAY, self._arrivals_done)
        self.arrivals.add(message.study_uid)

    def _arrivals_done(self) -> None:
        count, self.arrivals = len(self.arrivals), set()
        self.action_refresh()
        self.notify(f"images received for {count} {'study' if count == 1 else 'studies'}")

    # -- events ------------------------------------------------------------------------------

    @on(Input.Changed, "#filter")
    def filter_changed(self) -> None:
        """Filter as you type."""
        self._fill_studies()

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        """Enter (or Down, or Escape) in the filter goes to the results."""
        self.studies.focus()

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

    def on_show_series(self, message: ShowSeries) -> None:
        """A thumbnail was clicked: open the study at that series."""
        study = self.current_study()
        if study is not None and study.study_uid == self.series_study:
            self.post_message(ShowStudy(study, message.series_uid))

    def on_show_study(self, message: ShowStudy) -> None:
        """Open the viewer."""
        from tuipacs.app.screens.viewer import ViewerScreen

        self.app.push_screen(
            ViewerScreen(
                self.archive, message.study, message.series_uid, self.settings, self.clients
            )
        )

    # -- actions -----------------------------------------------------------------------------

    def action_focus_filter(self) -> None:
        """Put the cursor in the filter; / is typed only into a filter already begun."""
        filt = self.query_one("#filter", Input)
        if filt.has_focus and filt.value:
            raise SkipAction()  # the key goes on to the filter
        # at once, not later: keys typed right after the / (one SSH packet) go to it
        self.set_focus(filt)

    def action_cycle_sort(self) -> None:
        """Sort by the next column."""
        self.studies.cycle_sort()
        self._fill_studies()

    def action_reverse_sort(self) -> None:
        """Reverse the sort order."""
        self.studies.reverse_sort()
        self._fill_studies()

    def action_switch_table(self) -> None:
        """Move between the study and the series table (and the remote results)."""
        order = ["#studies", "#series"] + (["#remote"] if self.remote.display else [])
        focused = next((i for i, t in enumerate(order) if self.query_one(t).has_focus), -1)
        self.query_one(order[(focused + 1) % len(order)], DataTable).focus()

    def action_toggle_thumbnails(self) -> None:
        """Show or hide the series thumbnails."""
        self.series_panel.toggle_thumbnails()

    def action_refresh(self) -> None:
        """List the archive again."""
        self.series_panel.forget()
        self.load_studies()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show g only with remote results and x only while a retrieve runs."""
        if action == "retrieve":
            return bool(self.is_mounted and self.remote.display)
        if action == "cancel_retrieve":
            return self.is_mounted and self.remote.cancel_event is not None
        return True

    def action_remote_query(self) -> None:
        """Open the "Query node" form; its answer starts the C-FIND."""
        self.app.push_screen(QueryScreen(sorted(self.cfg.nodes), self.last_query), self._query_done)

    def _query_done(self, request: QueryRequest | None) -> None:
        if request is not None:
            self.last_query = request
            self.remote.run_query(request)

    def action_retrieve(self) -> None:
        """Retrieve the highlighted remote study into the archive."""
        self.remote.retrieve()

    def action_cancel_retrieve(self) -> None:
        """Ask the running retrieve to stop."""
        self.remote.cancel()

    def action_escape(self) -> None:
        """Escape outside the filter: cancel a retrieve, else hide the remote results."""
        if not self.remote.escape():
            raise SkipAction()
        if not self.remote.display:
            self.studies.focus()
            self.status(self.studies.status())

    def action_help(self) -> None:
        """Show the keys."""
        from tuipacs.app.screens.help import HelpScreen

        self.app.push_screen(HelpScreen.of(self, "browser", SECTIONS))
