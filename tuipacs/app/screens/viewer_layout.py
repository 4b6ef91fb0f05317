"""The viewer's layouts (mixed into the ViewerScreen): 1x1, 1x2, 2x1 and 2x2 viewports, each
showing any series of the study or of a prior; the active one is framed in the accent colour
and takes the keys and the mouse.

- ``V`` cycles the layout; Tab / Shift+Tab make the next / previous viewport active; ``n`` /
  ``p`` change the active viewport's series; a prior chosen with ``P`` opens beside the study.
- Synchronised position (``s``, on by default), window (``u``) and zoom (``z``): the other
  viewports follow the active one (:mod:`tuipacs.view.sync`: along the slice normal in one
  frame of reference, by the distance when linked across frames of reference, else by
  image number).
- Cross-reference lines (``X``) and the jump to the probe's point (``T``) are
  :mod:`tuipacs.app.screens.viewer_crossref`; each viewport's state is a
  :class:`~tuipacs.app.screens.viewer_pane.Pane`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import numpy as np
from textual.binding import BindingType

from tuipacs.app.keymap import Key
from tuipacs.app.screens.viewer_pane import Pane, viewport_id
from tuipacs.view.sync import (
    link_offset,
    same_frame,
    synced_index,
)

if TYPE_CHECKING:
    from tuipacs.app.screens.viewer import ViewerScreen
    from tuipacs.store.query import StudyRow
    from tuipacs.view.annotation_draw import SourceToGrid

Layer = Callable[[np.ndarray, "SourceToGrid"], None]

GRIDS = ("1x1", "1x2", "2x1", "2x2")
"""Rows x columns of viewports."""
SECTION = "Layout"


def layout_keys() -> list[BindingType]:
    """The layout's keys (the help screen's Layout section), with their action names as
    ids (``[keys]`` remaps them)."""
    from tuipacs.app.keymap import named
    from tuipacs.app.screens.viewer_keys import viewer_id

    return named(_keys(), viewer_id)


def _keys() -> list[BindingType]:
    return [
        Key("V", "layout", "Layout", show=False, section=SECTION,
            tooltip="layout: 1x1, 1x2, 2x1, 2x2 viewports"),
        Key("tab", "viewport(1)", "next viewport", show=False, section=SECTION,
            tooltip="next / previous viewport (the framed one takes the keys)"),
        Key("shift+tab", "viewport(-1)", "previous viewport", show=False, section=SECTION,
            tooltip="next / previous viewport (the framed one takes the keys)"),
        Key("s", "sync('position')", "sync position", show=False, section=SECTION,
            tooltip="synchronise the image position of the viewports (on / off)"),
        Key("u", "sync('window')", "sync window", show=False, section=SECTION,
            tooltip="synchronise the window of the viewports (on / off)"),
        Key("z", "sync('zoom')", "sync zoom", show=False, section=SECTION,
            tooltip="synchronise the zoom of the viewports (on / off)"),
        Key("X", "crossref", "cross-reference", show=False, section=SECTION,
            tooltip="cross-reference lines of the active slice (on / off)"),
        Key("T", "probe_jump", "to probe", show=False, section=SECTION,
            tooltip="the other viewports go to the slice at the probe's point"),
    ]  # fmt: skip


def _screen(mixin: ViewerLayout) -> ViewerScreen:
    return cast("ViewerScreen", mixin)


def grid_shape(grid: str) -> tuple[int, int]:
    """(rows, columns) of a layout name."""
    rows, cols = grid.split("x")
    return int(rows), int(cols)


class ViewerLayout:
    """Layouts, the active viewport, synchronisation and cross-reference lines."""

    sync_position = True
    sync_window = False
    sync_zoom = False
    _syncing = False

    # -- layout ----------------------------------------------------------------------------

    def action_layout(self) -> None:
        """The next layout (1x1, 1x2, 2x1, 2x2)."""
        screen = _screen(self)
        self.set_grid(GRIDS[(GRIDS.index(screen.grid) + 1) % len(GRIDS)])

    def set_grid(self, grid: str, fill: bool = True) -> None:
        """Show ``grid`` viewports: new ones open the study's next series (``fill``), the
        ones beyond it close."""
        screen = _screen(self)
        rows, cols = grid_shape(grid)
        screen.grid = grid
        wanted = rows * cols
        while len(screen.panes) > wanted:
            self._close_pane(screen.panes[-1])
        while fill and len(screen.panes) < wanted:
            self.open_pane(screen.panes[0].study, self._next_series())
        container = screen.query_one("#panes")
        container.styles.grid_size_columns = cols
        container.styles.grid_size_rows = rows
        container.set_class(wanted > 1, "-multi")
        screen.active = min(screen.active, len(screen.panes) - 1)
        self._mark_active()
        screen.call_after_refresh(self.render_all)

    def _next_series(self) -> str:
        """The series a new viewport opens: the one after the last viewport's in the
        study (wrapping), or the same when the study has one."""
        screen = _screen(self)
        from tuipacs.app.screens.viewer_hanging import image_series

        first = screen.panes[0]
        series = image_series(first.loader.series) or first.loader.series
        if not series:
            return ""
        used = {
            p.loader.open_uid for p in screen.panes if p.study.study_uid == first.study.study_uid
        }
        last = screen.panes[-1].loader.open_uid
        uids = [row.series_uid for row in series]
        start = uids.index(last) if last in uids else 0
        for step in range(1, len(series) + 1):
            row = series[(start + step) % len(series)]
            if row.series_uid not in used:
                return row.series_uid
        return series[(start + 1) % len(series)].series_uid

    def open_pane(self, study: StudyRow, series_uid: str = "", index: int | None = None) -> Pane:
        """Viewport ``index`` (a new one at the end when None) shows ``study`` at
        ``series_uid`` (its first series when '')."""
        from tuipacs.app.screens.viewer_mpr import Reformats
        from tuipacs.app.screens.viewer_render import FrameRenderer
        from tuipacs.app.widgets.series_loader import SeriesLoader
        from tuipacs.app.widgets.viewport import ImageViewport
        from tuipacs.view.state import ViewerState

        screen = _screen(self)
        number = len(screen.panes) if index is None else index
        loader = SeriesLoader(screen.archive, study.study_uid, series_uid, pane=number)
        uid = study.study_uid
        loader.keys_of = lambda: screen.settings.session.flags(uid)
        state = ViewerState(masked=screen.settings.session.masked)
        state.overlays = screen.panes[0].state.overlays
        pane = Pane(number, study, loader, FrameRenderer(screen, number), Reformats(), state)
        pane.requested_seq = pane.shown_seq = screen.next_seq()  # the old one's frames: older
        if number < len(screen.panes):
            old = screen.panes[number]
            self._stop_pane(old)
            old.loader.remove()
            screen.panes[number] = pane
            viewport = screen.query_one(f"#{viewport_id(number)}", ImageViewport)
            viewport.image.clear()
            viewport.show_message("loading…")
        else:
            screen.panes.append(pane)
            viewport = ImageViewport(screen.settings.graphics, id=viewport_id(number))
            screen.query_one("#panes").mount(viewport)
        screen.mount(loader)
        return pane

    def _stop_pane(self, pane: Pane) -> None:
        """End a viewport's render thread and decode-ahead (not waiting on the UI thread)."""
        pane.renderer.stop()
        store = pane.store
        if store is not None:
            threading.Thread(target=store.close, name="tuipacs-close", daemon=True).start()
            pane.store = None

    def _close_pane(self, pane: Pane) -> None:
        """Remove the last viewport."""
        screen = _screen(self)
        self._stop_pane(pane)
        pane.loader.remove()
        screen.query_one(f"#{pane.viewport_id}").remove()
        screen.panes.remove(pane)

    def render_all(self) -> None:
        """Render every viewport again (its size changed)."""
        screen = _screen(self)
        for pane in list(screen.panes):
            with screen.in_pane(pane.index):
                screen.request_render()

    def action_viewport(self, direction: int) -> None:
        """Make the next (1) or previous (-1) viewport the active one."""
        screen = _screen(self)
        if len(screen.panes) < 2:
            return
        self.focus_pane((screen.active + direction) % len(screen.panes))

    def focus_pane(self, index: int) -> None:
        """Make viewport ``index`` the active one: it takes the keys and the mouse."""
        screen = _screen(self)
        if not 0 <= index < len(screen.panes) or index == screen.active:
            return
        screen.cine.stop(screen.state)
        screen.active = index
        self._mark_active()
        self._link()
        screen.update_overlays()
        _screen(self).refresh_crossrefs()

    def _mark_active(self) -> None:
        from tuipacs.app.widgets.viewport import ImageViewport

        screen = _screen(self)
        for viewport in screen.query(ImageViewport):
            viewport.set_class(viewport.id == viewport_id(screen.active), "-active")

    def layout_line(self) -> str:
        """The layout's state for the help screen and the overlays ('' in 1x1)."""
        screen = _screen(self)
        if len(screen.panes) < 2:
            return ""
        synced = [
            name
            for name, on in (
                ("position", self.sync_position),
                ("window", self.sync_window),
                ("zoom", self.sync_zoom),
            )
            if on
        ]
        sync = "sync " + ", ".join(synced) if synced else "no sync"
        return f"{screen.grid} · viewport {screen.active + 1} · {sync}"

    # -- synchronisation -------------------------------------------------------------------

    def action_sync(self, what: str) -> None:
        """Turn synchronised position, window or zoom on or off."""
        attribute = f"sync_{what}"
        if attribute not in ("sync_position", "sync_window", "sync_zoom"):
            return
        setattr(self, attribute, not getattr(self, attribute))
        screen = _screen(self)
        self._link()
        screen.notify(f"sync {what}: {'on' if getattr(self, attribute) else 'off'}", timeout=2)
        self.sync_others()

    def _link(self) -> None:
        """Take the distance between the active slice and each other viewport's slice (for
        viewports of another frame of reference: a prior)."""
        screen = _screen(self)
        active = screen.panes[screen.active]
        src = active.planes.at(active.state.index)
        for pane in screen.panes:
            if pane is not active:
                if same_frame(active.planes, pane.planes):
                    pane.offset = 0.0
                else:
                    pane.offset = link_offset(src, pane.planes.at(pane.state.index))

    def sync_others(self, motion: float | None = None) -> None:
        """The other viewports follow the active one (position, window, zoom as on)."""
        screen = _screen(self)
        if self._syncing or len(screen.panes) < 2 or screen._current not in (None, screen.active):
            return
        active = screen.panes[screen.active]
        if active.store is None:
            return
        src = active.planes.at(active.state.index)
        self._syncing = True
        try:
            for pane in screen.panes:
                if pane is active or pane.store is None:
                    continue
                with screen.in_pane(pane.index):
                    if self._follow(active, pane, src):
                        screen.request_render(motion)
        finally:
            self._syncing = False

    def _follow(self, active: Pane, pane: Pane, src: object) -> bool:
        """Bring ``pane``'s state in line with ``active``'s; True when it changed."""
        from tuipacs.view.sync import Plane

        state, changed = pane.state, False
        if self.sync_position and not state.plane and not active.state.plane:
            offset = 0.0 if same_frame(active.planes, pane.planes) else pane.offset
            plane = src if isinstance(src, Plane) else None
            target = synced_index(plane, active.state.index, pane.planes, state.count, offset)
            changed = state.go_to(target) or changed
        modality = active.info.modality if active.info else ""
        same_kind = pane.info is not None and pane.info.modality == modality
        if self.sync_window and same_kind and active.state.window is not None:
            if (state.window, state.window_name) != (active.state.window, active.state.window_name):
                state.window, state.window_name = active.state.window, active.state.window_name
                changed = True
        if self.sync_zoom and state.zoom != active.state.zoom:
            state.zoom = active.state.zoom
            changed = True
        return changed

    def follow_active(self) -> None:
        """A series just opened in another viewport: link it to the active one (across
        frames of reference: at the same fraction of the stack first) and follow it."""
        screen = _screen(self)
        pane, active = screen.pane, screen.panes[screen.active]
        if active.store is None or pane.state.count < 1 or pane is active:
            return
        src = active.planes.at(active.state.index)
        if same_frame(active.planes, pane.planes):
            pane.offset = 0.0
        else:
            if active.state.count > 1 and self.sync_position:
                fraction = active.state.index / (active.state.count - 1)
                pane.state.go_to(round(fraction * (pane.state.count - 1)))
            pane.offset = link_offset(src, pane.planes.at(pane.state.index))
        self._follow(active, pane, src)
