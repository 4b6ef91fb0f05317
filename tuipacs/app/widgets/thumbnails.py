"""A strip of series thumbnails: one tile per series of the highlighted study.

Each tile is an :class:`ImageView` (so thumbnails use the same Kitty / Sixel / half-cell
backend as the viewer) above a two-line label. Tiles are kept and reused from study to
study, so moving through the study list does not mount and unmount widgets. The browser
makes the pictures in a worker and hands them over with :meth:`SeriesThumbnails.set_picture`.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import HorizontalScroll, Vertical
from textual.widgets import Static

from tuipacs.app.messages import ShowSeries
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.store.query import SeriesRow
from tuipacs.view.graphics.probe import GraphicsConfig

#: At most this many tiles (a study with more series shows the first ones).
MAX_TILES = 32

#: The note of a series that has nothing to show (reports); any other reason is an error.
NO_IMAGE = "no image"


def tile_label(row: SeriesRow) -> Text:
    """Two lines: series number, modality and image count; then the description."""
    count = f"{row.num_instances} img" if row.num_instances != 1 else "1 img"
    number = row.series_number or "?"
    text = Text(f"#{number} {row.modality or '--'} · {count}\n", style="bold")
    text.append(row.description or "(no description)", style="not bold")
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


class ThumbnailTile(Vertical, can_focus=False):
    """One series: its picture (or why there is none) and a label. Click opens it."""

    DEFAULT_CSS = """
    ThumbnailTile {
        width: 24;
        height: 1fr;
        max-height: 16;
        border: round $panel;
        margin: 0 1 0 0;
    }
    ThumbnailTile.-current {
        border: round $accent;
    }
    ThumbnailTile ImageView {
        height: 1fr;
    }
    ThumbnailTile .thumb-missing {
        height: 1fr;
        content-align: center middle;
        text-align: center;
        color: $text-muted;
        background: black;
        padding: 0 1;
    }
    ThumbnailTile .thumb-missing.-error {
        color: $error;
    }
    ThumbnailTile .thumb-label {
        height: 2;
        color: $text-muted;
    }
    ThumbnailTile.-current .thumb-label {
        color: $text;
    }
    """

    def __init__(self, config: GraphicsConfig | None) -> None:
        super().__init__()
        self.series_uid = ""
        self.has_picture = False
        self.reason = ""
        self.view = ImageView(config=config, auto_preview=False)
        self.missing = Static("", classes="thumb-missing", markup=False)
        # hidden from the start, not on mount: a tile's reason can arrive before it mounts
        self.missing.display = False
        self.label = Static("", classes="thumb-label", markup=False)

    def compose(self) -> ComposeResult:
        """Picture, the 'no image' note in its place when needed, and the label."""
        yield self.view
        yield self.missing
        yield self.label

    def assign(self, row: SeriesRow) -> None:
        """Show series ``row`` (its picture follows with set_picture / set_missing)."""
        if row.series_uid != self.series_uid:
            self.series_uid = row.series_uid
            self.has_picture = False
            self.reason = ""
            self.view.clear()
            self.view.display = True
            self.missing.display = False
        self.label.update(tile_label(row))

    def release(self) -> None:
        """No series: forget the picture (and free it in the terminal)."""
        self.series_uid = ""
        self.has_picture = False
        self.view.clear()

    def set_picture(self, array: np.ndarray) -> None:
        """Show the series' picture (uint8, square pixels)."""
        self.has_picture = True
        self.reason = ""
        self.missing.display = False
        self.view.display = True
        self.view.show(array, 1.0)

    def set_missing(self, reason: str) -> None:
        """No picture: say why in the picture's place (in the error colour unless it is
        the 'no image' note of a series without images, such as a report)."""
        self.has_picture = False
        self.reason = reason
        self.view.clear()
        self.view.display = False
        self.missing.update(Text(reason))
        self.missing.set_class(reason != NO_IMAGE, "-error")
        self.missing.display = True

    @property
    def is_error(self) -> bool:
        """True when the tile shows why its picture could not be made."""
        return not self.has_picture and bool(self.reason) and self.reason != NO_IMAGE

    def on_click(self, event: events.Click) -> None:
        """A click opens the series."""
        if self.series_uid:
            event.stop()
            self.post_message(ShowSeries(self.series_uid))


class SeriesThumbnails(HorizontalScroll, can_focus=False):
    """The tiles of one study's series, the current one outlined."""

    DEFAULT_CSS = """
    SeriesThumbnails {
        height: 1fr;
        padding: 0 1;
        scrollbar-size-horizontal: 1;
    }
    """

    def __init__(self, config: GraphicsConfig | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.config = config
        self.study_uid = ""
        self.current = ""

    def tiles(self) -> list[ThumbnailTile]:
        """The tiles in use, in series order."""
        return [t for t in self.query(ThumbnailTile) if t.series_uid]

    def tile(self, series_uid: str) -> ThumbnailTile | None:
        """The tile of ``series_uid``, if shown."""
        for tile in self.query(ThumbnailTile):
            if tile.series_uid == series_uid:
                return tile
        return None

    def show_series(self, study_uid: str, rows: list[SeriesRow]) -> list[SeriesRow]:
        """One tile per series (reusing tiles); returns the series that got a tile."""
        self.study_uid = study_uid
        rows = rows[:MAX_TILES]
        tiles = list(self.query(ThumbnailTile))
        new = [ThumbnailTile(self.config) for _ in range(len(rows) - len(tiles))]
        for tile, row in zip(tiles + new, rows, strict=False):
            tile.assign(row)
            tile.display = True
        for tile in tiles[len(rows) :]:
            tile.release()
            tile.display = False
        if new:
            self.mount_all(new)
        self.highlight(self.current if self.tile(self.current) else "")
        return rows

    def clear_series(self) -> None:
        """No study: hide every tile."""
        self.show_series("", [])

    def set_picture(self, series_uid: str, array: np.ndarray | None, reason: str = "") -> None:
        """Give a tile its picture, or the reason it has none."""
        tile = self.tile(series_uid)
        if tile is None:
            return
        if array is None:
            tile.set_missing(reason or NO_IMAGE)
        else:
            tile.set_picture(array)

    def highlight(self, series_uid: str) -> None:
        """Outline the tile of ``series_uid`` and scroll it into view."""
        self.current = series_uid
        for tile in self.query(ThumbnailTile):
            tile.set_class(bool(series_uid) and tile.series_uid == series_uid, "-current")
        current = self.tile(series_uid) if series_uid else None
        if current is not None and current.is_mounted:
            self.scroll_to_widget(current, animate=False)
