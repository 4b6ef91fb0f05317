"""The browser's export and send keys (mixed into the BrowserScreen): ``E`` opens the Export
form (:mod:`tuipacs.app.screens.export`) and ``u`` the Send list
(:mod:`tuipacs.app.screens.send`) for the highlighted study, or for the highlighted series
when the series table has the focus. Their last line goes to the status bar."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tuipacs.safe_text import clean
from tuipacs.view import format as fmt
from tuipacs.writeback.keyimages import KEY_SERIES_UID

if TYPE_CHECKING:
    from textual.app import App

    from tuipacs.app.settings import Settings
    from tuipacs.app.widgets.series_panel import SeriesPanel
    from tuipacs.config import Config
    from tuipacs.remote import ClientFactory
    from tuipacs.store.archive import Archive
    from tuipacs.store.query import SeriesRow, StudyRow


class _Browser(Protocol):
    archive: Archive
    settings: Settings
    cfg: Config
    clients: ClientFactory

    @property
    def app(self) -> App[object]: ...
    @property
    def series_panel(self) -> SeriesPanel: ...
    def current_study(self) -> StudyRow | None: ...
    def status(self, text: str) -> None: ...
    def notify(self, message: str, *, severity: str = ..., markup: bool = ...) -> None: ...
    def _chosen(self, verb: str) -> tuple[StudyRow, SeriesRow | None] | None: ...
    def _job_done(self, line: str | None) -> None: ...


def subject_title(verb: str, study: StudyRow, series: SeriesRow | None, masked: bool) -> str:
    """The form's title: what is exported or sent, the patient masked as the session is."""
    name = fmt.MASK if masked else fmt.person_name(study.patient_name) or "(no name)"
    parts = [name, fmt.dicom_date(study.study_date), study.description]
    what = " · ".join(clean(part) for part in parts if part)
    if series is not None:
        fields = (series.series_number, series.modality, series.description)
        label = " ".join(field for field in fields if field)
        return f"{verb} series {clean(label)} of {what}"
    return f"{verb} study {what}"


def node_list(cfg: Config) -> list[tuple[str, str]]:
    """The configured nodes as (name, address) pairs: AE@host:port or the DICOMweb URL (a
    node whose settings are broken says so instead)."""
    nodes = []
    for name in sorted(cfg.nodes):
        try:
            node = cfg.node(name)
        except Exception as exc:  # noqa: BLE001 - a broken node is listed with its reason
            nodes.append((name, f"(cannot be used: {exc})"))
            continue
        nodes.append((name, getattr(node, "url", "") or getattr(node, "address", "")))
    return nodes


class BrowserExport:
    """``E`` exports and ``u`` sends the highlighted study or series."""

    def action_export(self: _Browser) -> None:
        """Open the Export form for the highlighted study (or series)."""
        from tuipacs.app.screens.export import ExportScreen, default_destination

        chosen = self._chosen("export")
        if chosen is None:
            return
        study, series = chosen
        title = subject_title("Export", study, series, self.settings.session.masked)
        series_uids = (series.series_uid,) if series is not None else ()
        destination = default_destination(Path.home(), datetime.date.today())
        screen = ExportScreen(self.archive, study.study_uid, series_uids, title, destination)
        self.app.push_screen(screen, self._job_done)

    def action_send(self: _Browser) -> None:
        """Open the Send list for the highlighted study (or series)."""
        from tuipacs.app.screens.send import SendScreen

        chosen = self._chosen("send")
        if chosen is None:
            return
        study, series = chosen
        title = subject_title("Send", study, series, self.settings.session.masked)
        series_uids = (series.series_uid,) if series is not None else ()
        nodes = node_list(self.cfg)
        screen = SendScreen(self.archive, self.clients, nodes, study.study_uid, series_uids, title)
        self.app.push_screen(screen, self._job_done)

    def _chosen(self: _Browser, verb: str) -> tuple[StudyRow, SeriesRow | None] | None:
        """The highlighted study, and its highlighted series when the series table has the
        focus; None (with one line) when there is nothing to ``verb``."""
        study = self.current_study()
        panel = self.series_panel
        if panel.app.focused is not None and panel.app.focused.id == "remote":
            self.notify(f"{verb} works on the local archive: pick a study in the studies table",
                        severity="warning", markup=False)  # fmt: skip
            return None
        if study is None:
            self.notify(f"no study to {verb}: the archive lists none", severity="warning",
                        markup=False)  # fmt: skip
            return None
        table = panel.table
        if not table.has_focus:
            return study, None
        row = table.cursor_row
        if panel.study_uid != study.study_uid or not 0 <= row < len(panel.series):
            return study, None
        series = panel.series[row]
        if series.series_uid == KEY_SERIES_UID:
            self.notify(f"the key images are not a stored series: {verb} the study, or a "
                        "series of it", severity="warning", markup=False)  # fmt: skip
            return None
        return study, series

    def _job_done(self: _Browser, line: str | None) -> None:
        """The form closed: its last line on the status bar."""
        if line:
            self.status(line)
