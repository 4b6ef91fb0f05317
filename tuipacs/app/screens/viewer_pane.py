"""One viewport of the viewer's layout and what it shows: its study, series loader, render
thread, state and the frames on its way (:class:`Pane`).

The viewer's keys, mouse, measurements and overlays act on "the screen's" state, frame and
store; :class:`PaneForwarding` makes those names the current pane's: the active viewport's
(the one the reader works in), or, while a message of another viewport is handled or another
viewport is synchronised, that one's (:meth:`PaneForwarding.in_pane`). So one viewport's code
serves every viewport of a 1x2, 2x1 or 2x2 layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from textual import events
from textual.message import Message

from tuipacs.app.widgets.image_view import ImageView
from tuipacs.app.widgets.viewport import ImageViewport
from tuipacs.view.state import PresetChoice, ViewerState
from tuipacs.view.sync import StackPlanes

if TYPE_CHECKING:
    from textual.screen import Screen

    from tuipacs.app.screens.viewer_mpr import Reformats
    from tuipacs.app.screens.viewer_render import FrameRenderer
    from tuipacs.app.widgets.series_loader import SeriesLoader
    from tuipacs.store.query import StudyRow
    from tuipacs.view.frames import Frame, FrameStore
    from tuipacs.view.info import FrameInfo
    from tuipacs.view.render import Rendered, RenderRequest


def viewport_id(index: int) -> str:
    """The widget id of viewport ``index`` (the first keeps the one-viewport id)."""
    return "viewport" if index == 0 else f"viewport-{index}"


@dataclass
class Pane:
    """One viewport: what it shows and the frames on their way to it."""

    index: int
    study: StudyRow
    loader: SeriesLoader
    renderer: FrameRenderer
    mpr: Reformats
    state: ViewerState = field(default_factory=ViewerState)
    store: FrameStore | None = None
    frame: Frame | None = None
    rendered: Rendered | None = None
    info: FrameInfo | None = None
    """What the overlays show: the header of the image on screen (or that failed)."""
    picture_scale: float = 1.0
    """Fraction of the fitted size the picture on screen takes (< 1 zoomed out)."""
    choices: list[PresetChoice] = field(default_factory=list)
    requested_seq: int = 0
    shown_seq: int = 0
    recent: dict[int, tuple[RenderRequest, Frame, Rendered]] = field(default_factory=dict)
    """The last rendered frames by request number (the one on screen may be older)."""
    displayed: RenderRequest | None = None
    """The request of the frame on screen (sent to the terminal last)."""
    displayed_preview: bool = False
    direction: int = 1
    planes: StackPlanes = field(default_factory=StackPlanes)
    """The plane of each image of the open series (synchronisation, cross-references)."""
    offset: float | None = None
    """Across frames of reference: mm from the active slice to this one when linked."""
    preset: str | None = None
    """A preset (by name) to apply when its first image comes (a hanging protocol's)."""
    crossref: object = None
    """The cross-reference line drawn now (redrawn only when it changes)."""

    @property
    def viewport_id(self) -> str:
        """Its viewport widget's id."""
        return viewport_id(self.index)


class PaneForwarding:
    """The current pane's attributes under the names the viewer's code uses."""

    panes: list[Pane]
    active: int
    """The viewport the reader works in (keys and mouse act on it)."""
    _current: int | None = None
    _seq = 0

    def next_seq(self) -> int:
        """A render request number no viewport has used: a viewport opened in the place of
        another starts above every request of the old one, so a frame the old one's render
        thread finishes late is dropped as older."""
        self._seq += 1
        return self._seq

    @property
    def pane(self) -> Pane:
        """The current pane: the one being handled, else the active one."""
        index = self._current if self._current is not None else self.active
        return self.panes[index]

    @property
    def viewport(self) -> ImageViewport:
        """The current viewport: the picture with its overlays."""
        return cast("Screen[None]", self).query_one(f"#{self.pane.viewport_id}", ImageViewport)

    @property
    def image(self) -> ImageView:
        """The current viewport's image widget."""
        return self.viewport.image

    async def _on_message(self, message: Message) -> None:
        """A message of one viewport (its loader, render thread or image widget) is handled
        with the viewer's names referring to that viewport; one of a viewport closed
        meanwhile is dropped."""
        if isinstance(message, events.MouseDown | events.MouseScrollDown | events.MouseScrollUp):
            under = self.pane_at(message.screen_x, message.screen_y)
            if under is not None and under != self.active:
                self.focus_pane(under)  # a press or the wheel in a viewport makes it active
        pane = getattr(message, "pane", None)
        if isinstance(message, ImageView.Shown):
            name = message.view.parent.id if message.view.parent else None
            pane = next((p.index for p in self.panes if name == p.viewport_id), -1)
        if not isinstance(pane, int) or isinstance(pane, bool):
            await super()._on_message(message)  # type: ignore[misc]
            return
        with self.in_pane(pane) as found:
            if found is not None:
                await super()._on_message(message)  # type: ignore[misc]

    def pane_at(self, x: float, y: float) -> int | None:
        """The viewport under screen cell (x, y), None when none is."""
        for pane in self.panes:
            viewport = cast("Screen[None]", self).query_one(f"#{pane.viewport_id}", ImageViewport)
            if viewport.region.contains(int(x), int(y)):
                return pane.index
        return None

    def focus_pane(self, index: int) -> None:
        """Make viewport ``index`` the active one (the layout's mixin does it)."""

    @contextmanager
    def in_pane(self, index: int) -> Iterator[Pane | None]:
        """The viewer's names refer to pane ``index`` inside (None: no such pane, e.g. a
        message of a viewport closed meanwhile)."""
        if not 0 <= index < len(self.panes):
            yield None
            return
        previous = self._current
        self._current = index
        try:
            yield self.panes[index]
        finally:
            self._current = previous

    @property
    def study(self) -> StudyRow:
        """The study of the current pane."""
        return self.pane.study

    @study.setter
    def study(self, value: StudyRow) -> None:
        self.pane.study = value

    @property
    def loader(self) -> SeriesLoader:
        """The current pane's series loader."""
        return self.pane.loader

    @loader.setter
    def loader(self, value: SeriesLoader) -> None:
        self.pane.loader = value

    @property
    def renderer(self) -> FrameRenderer:
        """The current pane's render thread."""
        return self.pane.renderer

    @renderer.setter
    def renderer(self, value: FrameRenderer) -> None:
        self.pane.renderer = value

    @property
    def mpr(self) -> Reformats:
        """The current pane's reformats."""
        return self.pane.mpr

    @mpr.setter
    def mpr(self, value: Reformats) -> None:
        self.pane.mpr = value

    @property
    def state(self) -> ViewerState:
        """The current pane's state."""
        return self.pane.state

    @state.setter
    def state(self, value: ViewerState) -> None:
        self.pane.state = value

    @property
    def store(self) -> FrameStore | None:
        """The current pane's images."""
        return self.pane.store

    @store.setter
    def store(self, value: FrameStore | None) -> None:
        self.pane.store = value

    @property
    def frame(self) -> Frame | None:
        """The current pane's newest frame."""
        return self.pane.frame

    @frame.setter
    def frame(self, value: Frame | None) -> None:
        self.pane.frame = value

    @property
    def rendered(self) -> Rendered | None:
        """The current pane's newest rendering."""
        return self.pane.rendered

    @rendered.setter
    def rendered(self, value: Rendered | None) -> None:
        self.pane.rendered = value

    @property
    def info(self) -> FrameInfo | None:
        """What the current pane's overlays show."""
        return self.pane.info

    @info.setter
    def info(self, value: FrameInfo | None) -> None:
        self.pane.info = value

    @property
    def picture_scale(self) -> float:
        """The current pane's picture scale."""
        return self.pane.picture_scale

    @picture_scale.setter
    def picture_scale(self, value: float) -> None:
        self.pane.picture_scale = value

    @property
    def choices(self) -> list[PresetChoice]:
        """The current pane's window presets."""
        return self.pane.choices

    @choices.setter
    def choices(self, value: list[PresetChoice]) -> None:
        self.pane.choices = value

    @property
    def requested_seq(self) -> int:
        """The current pane's newest render request."""
        return self.pane.requested_seq

    @requested_seq.setter
    def requested_seq(self, value: int) -> None:
        self.pane.requested_seq = value

    @property
    def shown_seq(self) -> int:
        """The current pane's newest request shown."""
        return self.pane.shown_seq

    @shown_seq.setter
    def shown_seq(self, value: int) -> None:
        self.pane.shown_seq = value

    @property
    def recent(self) -> dict[int, tuple[RenderRequest, Frame, Rendered]]:
        """The current pane's last rendered frames."""
        return self.pane.recent

    @recent.setter
    def recent(self, value: dict[int, tuple[RenderRequest, Frame, Rendered]]) -> None:
        self.pane.recent = value

    @property
    def displayed(self) -> RenderRequest | None:
        """The request of the current pane's frame on screen."""
        return self.pane.displayed

    @displayed.setter
    def displayed(self, value: RenderRequest | None) -> None:
        self.pane.displayed = value

    @property
    def displayed_preview(self) -> bool:
        """The current pane's frame on screen is a preview."""
        return self.pane.displayed_preview

    @displayed_preview.setter
    def displayed_preview(self, value: bool) -> None:
        self.pane.displayed_preview = value

    @property
    def _direction(self) -> int:
        return self.pane.direction

    @_direction.setter
    def _direction(self, value: int) -> None:
        self.pane.direction = value
