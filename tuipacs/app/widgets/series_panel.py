"""The browser's series panel: the series of the highlighted study beside their thumbnails.

It lists the series and makes the thumbnails (the middle image of each series) in thread
workers, and keeps the thumbnails it made in a small cache, so moving back to a study shows
them at once. A click on a thumbnail posts ShowSeries; Enter on a series row selects it.
SeriesFound goes up to the browser, which shows the series if their study is still the
highlighted one.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable
from textual.worker import Worker, get_current_worker

from tuipacs.app.messages import LoadFailed, SeriesFound, ThumbnailMade
from tuipacs.app.widgets.study_table import BrowserTable, fit_cells, fit_table
from tuipacs.app.widgets.thumbnails import SeriesThumbnails
from tuipacs.safe_text import clean
from tuipacs.store.archive import Archive
from tuipacs.store.query import SeriesRow, list_instances, list_series
from tuipacs.view.columns import Column
from tuipacs.view.graphics.probe import GraphicsConfig

SERIES_LAYOUT = (
    Column("number", "#", 4),
    Column("modality", "Mod", 5),
    Column("description", "Series description", 24, minimum=12, grow=1),
    Column("body", "Body part", 12, minimum=9),
    Column("images", "Images", 6),
)
SERIES_PRIORITY = ("number", "description", "images", "modality", "body")
"""The series columns, most important first (a narrow table drops them from the end)."""

READER = "tuipacs.imaging.reading"
"""The module that reads a KOS (it imports pydicom)."""

SERIES_KEEP = 3
"""The first columns of SERIES_PRIORITY always show."""

#: key, header and preferred width of each series column
SERIES_COLUMNS = tuple((c.key, c.label, c.width) for c in SERIES_LAYOUT)

CARD_ROOM = 28
"""Cells the thumbnails need beside the series table: one card (24 wide, a margin) and the
strip's padding; narrower than that, the series table gives way or the cards hide."""

TABLE_SHARE = 0.4
"""On a wide terminal the series table takes this share of the width (never less than its
preferred width); the thumbnails take the rest."""

THUMBNAIL_CACHE = 256
"""Thumbnails kept in memory (series UID and image count -> picture or reason)."""

Thumbnail = tuple[np.ndarray | None, str]
"""A series' picture, or None and why there is none."""


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


def series_table_width(width: int, thumbnails: bool) -> int:
    """Cells of the series table in a panel ``width`` wide: all of it without thumbnails,
    else its preferred width (or a share of a wide panel) less what one card needs; the
    whole panel (no room for cards) when the table would get narrower than its most
    important columns."""
    if not thumbnails:
        return width
    preferred = sum(c.width + 2 for c in SERIES_LAYOUT) + 2  # cell padding, scroll bar
    smallest = sum(c.narrowest + 2 for c in SERIES_LAYOUT if c.key in SERIES_PRIORITY[:SERIES_KEEP])
    table = min(max(preferred, int(width * TABLE_SHARE)), width - CARD_ROOM)
    return table if table >= smallest else width


class SeriesPanel(Horizontal):
    """The series table and, unless hidden, the thumbnails of one study."""

    def __init__(
        self, archive: Archive, graphics: GraphicsConfig, thumbnails: bool, *, id: str
    ) -> None:
        super().__init__(id=id)
        self.archive = archive
        self.graphics = graphics
        self.thumbnails_on = thumbnails
        self.series: list[SeriesRow] = []
        self.study_uid = ""
        """The study whose series are listed ('' when none)."""
        self.cache: OrderedDict[tuple[str, int], Thumbnail] = OrderedDict()
        self._request: tuple[str, tuple[tuple[str, int], ...]] = ("", ())
        self.series_columns: list[tuple[str, str, int]] = []
        """The series columns shown: key, header, width."""
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        """The series table and the thumbnails."""
        yield BrowserTable(id="series", cursor_type="row", zebra_stripes=True)
        yield SeriesThumbnails(self.graphics, id="thumbs")

    @property
    def table(self) -> BrowserTable:
        """The series table."""
        return self.query_one("#series", BrowserTable)

    @property
    def thumbs(self) -> SeriesThumbnails:
        """The thumbnails."""
        return self.query_one("#thumbs", SeriesThumbnails)

    def on_mount(self) -> None:
        """Columns and title."""
        self.border_title = "Series"
        self._place_thumbnails()

    def on_resize(self) -> None:
        """Share the width between the series table and the thumbnails again."""
        self._place_thumbnails()

    def _fit_columns(self) -> None:
        """Columns for the table's width; rebuilt (with the rows) when they change."""
        table = self.table
        columns = fit_table(table, SERIES_LAYOUT, SERIES_PRIORITY, len(self.series), SERIES_KEEP)
        if columns != self.series_columns:
            self.series_columns = columns
            row = table.cursor_row
            table.clear(columns=True)
            for key, label, width in columns:
                table.add_column(label, key=key, width=width)
            self._add_rows()
            if 0 <= row < table.row_count:
                table.move_cursor(row=row)

    def _add_rows(self) -> None:
        """The listed series in the table, cut to its columns."""
        table = self.table
        table.clear()
        keys = [key for key, _label, _width in self.series_columns]
        for row in self.series:
            cells = dict(zip((c.key for c in SERIES_LAYOUT), series_cells(row), strict=True))
            values = tuple(cells[key] for key in keys)
            table.add_row(*fit_cells(values, tuple(self.series_columns)), key=row.series_uid)

    def show_study(self, study_uid: str) -> None:
        """List the series of ``study_uid`` ('' for none) unless they are listed already."""
        if not study_uid:
            self.series, self.study_uid = [], ""
            self.table.clear()
            self.thumbs.clear_series()
        elif study_uid != self.study_uid:
            self.table.clear()
            self._list_in_worker(study_uid)

    def _list_in_worker(self, study_uid: str) -> None:
        """List the series of ``study_uid`` (and its key images) in a worker."""
        settings = getattr(self.app, "settings", None)
        flags = settings.session.flags(study_uid) if settings is not None else {}
        self.run_worker(
            lambda: self._list_series(study_uid, flags),
            name="load_series",
            group="series",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    @dataclasses.dataclass
    class KeysPending(Message):
        """The study has KOS objects, to be read once the DICOM reader is imported."""

        study_uid: str

    def on_series_panel_keys_pending(self, message: SeriesPanel.KeysPending) -> None:
        """Import the DICOM reader here (the UI thread), then list the series again with
        the key images of the KOS objects."""
        message.stop()
        importlib.import_module(READER)
        self._list_in_worker(message.study_uid)

    def forget(self) -> None:
        """List the series again the next time (the archive was listed again)."""
        self.study_uid = ""

    def relist(self) -> None:
        """List the series of the study shown again now (its key images changed)."""
        study_uid, self.study_uid = self.study_uid, ""
        if study_uid:
            self.show_study(study_uid)

    def _list_series(self, study_uid: str, flags: Mapping[tuple[str, int], bool]) -> None:
        """Worker: the series of one study, and its key images as a virtual series (its KOS
        objects are read once the UI thread has imported the DICOM reader: pydicom imported
        in two threads at once can fail half-initialised)."""
        from tuipacs.writeback.keyimages import has_kos, with_key_series

        try:
            rows = list_series(self.archive, study_uid)
            if READER not in sys.modules and has_kos(self.archive, study_uid):
                self.post_message(SeriesFound(study_uid, rows))
                self.post_message(self.KeysPending(study_uid))
                return
            rows = with_key_series(self.archive, study_uid, rows, flags)
        except Exception as exc:
            self.post_message(LoadFailed("series", f"cannot list the series: {exc}"))
            return
        self.post_message(SeriesFound(study_uid, rows))

    def show_series(self, study_uid: str, rows: list[SeriesRow]) -> None:
        """Fill the table with ``rows`` of ``study_uid`` and show their thumbnails."""
        self.series, self.study_uid = rows, study_uid
        self._fit_columns()  # a scroll bar may come or go with the number of rows
        self._add_rows()
        self._show_thumbnails()

    def toggle_thumbnails(self) -> None:
        """Show or hide the thumbnails."""
        self.thumbnails_on = not self.thumbnails_on
        self._place_thumbnails()
        if self.thumbnails_on:
            self._show_thumbnails()
        else:
            self.thumbs.clear_series()

    def _place_thumbnails(self) -> None:
        """Thumbnails beside the series table, or the table alone at full width: the
        table gives way to one whole card, and on a terminal too narrow for both the cards
        hide (``t`` shows them again when there is room)."""
        width = self.content_size.width
        table_width = series_table_width(width, self.thumbnails_on)
        shown = self.thumbnails_on and table_width < width
        self.thumbs.display = shown
        self.table.set_class(not shown, "-alone")
        if width:
            self.table.styles.width = table_width if shown else None
        self.call_after_refresh(self._fit_columns)

    def _show_thumbnails(self) -> None:
        """Tiles for the listed series: cached pictures at once, the others from a worker."""
        if not self.thumbnails_on:
            return
        thumbs = self.thumbs
        rows = thumbs.show_series(self.study_uid, [shown_series(row) for row in self.series])
        missing = []
        for row in rows:
            key = (row.series_uid, row.num_instances)
            if key in self.cache:
                self.cache.move_to_end(key)
                array, reason = self.cache[key]
                thumbs.set_picture(row.series_uid, array, reason)
            else:
                missing.append(key)
        self._highlight_thumbnail()
        request = (self.study_uid, tuple(missing))
        running = self._worker is not None and self._worker.is_running
        if missing and (request != self._request or not running):
            self._request = request
            study_uid = self.study_uid
            self._worker = self.run_worker(
                lambda: self._make_thumbnails(study_uid, missing),
                name="load_thumbnails",
                group="thumbnails",
                thread=True,
                exclusive=True,
                exit_on_error=False,
            )

    def _make_thumbnails(self, study_uid: str, series: list[tuple[str, int]]) -> None:
        """Worker: the thumbnail of each series (its middle image), one message each."""
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

    def on_thumbnail_made(self, message: ThumbnailMade) -> None:
        """Keep the picture and show it if its study is still the one listed."""
        message.stop()
        self.cache[(message.series_uid, message.images)] = (message.array, message.reason)
        while len(self.cache) > THUMBNAIL_CACHE:
            self.cache.popitem(last=False)
        if message.study_uid == self.study_uid and self.thumbnails_on:
            self.thumbs.set_picture(message.series_uid, message.array, message.reason)

    @on(DataTable.RowHighlighted, "#series")
    def series_highlighted(self) -> None:
        """Outline the thumbnail of the highlighted series."""
        self._highlight_thumbnail()

    def _highlight_thumbnail(self) -> None:
        row = self.table.cursor_row
        uid = self.series[row].series_uid if 0 <= row < len(self.series) else ""
        self.thumbs.highlight(uid)
