"""What the viewer's picture on screen is: over a slow link the frame the terminal shows may
be older than the newest state, and the overlays, the probe and the status line describe
the picture on screen (functions of the :class:`~tuipacs.app.screens.viewer.ViewerScreen`)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tuipacs.view.info import FrameInfo, index_info
from tuipacs.view.probe import OUTSIDE, probe_text
from tuipacs.view.render import Rendered
from tuipacs.view.state import ViewerState
from tuipacs.view.viewport import zoom_percent

if TYPE_CHECKING:
    from tuipacs.app.screens.viewer import ViewerScreen
    from tuipacs.view.frames import Frame


def zoom_of(screen: ViewerScreen, rendered: Rendered | None, zoom: float) -> float:
    """Zoom as a percentage of one image pixel per screen pixel (of ``rendered`` at
    ``zoom``)."""
    if rendered is None:
        return 100.0 * zoom
    view = screen.view_px(screen._cell())
    return zoom_percent(rendered.oriented_shape, rendered.aspect, view, zoom)


def series_info(screen: ViewerScreen) -> FrameInfo:
    """What the archive's index knows of the open study and series (no disk access)."""
    series = screen.series[screen.loader.index] if screen.series else None
    return index_info(screen.study, series)


def on_screen(screen: ViewerScreen) -> tuple[ViewerState, Frame | None, Rendered | None, FrameInfo]:
    """State, frame, rendering and header of the picture on screen (which may be older than
    the newest state while the link is busy)."""
    displayed = screen.displayed
    shown = screen.recent.get(displayed.seq) if displayed is not None else None
    if shown is None or screen.frame is None:
        return screen.state, screen.frame, screen.rendered, screen.info or series_info(screen)
    request, frame, rendered = shown
    state = replace(
        screen.state,
        index=request.index,
        window=rendered.window if rendered.window is not None else screen.state.window,
        invert=request.invert,
        orientation=request.orientation,
        zoom=request.zoom,
        probe=request.probe,
    )
    return state, frame, rendered, frame.info


def status_text(screen: ViewerScreen) -> str:
    """The status line: backend, quality setting and the link as measured."""
    config = screen.settings.graphics
    link = screen.image.gate.describe() if screen.is_attached else ""
    parts = [config.backend, f"quality {config.quality}", f"link {link}" if link else ""]
    return " · ".join(part for part in parts if part)


def probe_readout(screen: ViewerScreen) -> str:
    """The probe's readout of the picture on screen ('' when its probe is off): the value
    and position of the pixel its crosshair marks."""
    state, frame, _rendered, _info = on_screen(screen)
    if state.probe is None:
        return ""
    if frame is None:
        return OUTSIDE
    return probe_text(frame, state.probe)


def leave_series(screen: ViewerScreen) -> None:
    """Remember the open series' image, window and view for this session."""
    if screen.store is not None and 0 <= screen.state.series_index < len(screen.series):
        uid = screen.series[screen.state.series_index].series_uid
        screen.settings.session.leave(uid, screen.state)


def show_help(
    screen: ViewerScreen, sections: tuple[str, ...], keymap: dict[str, str]
) -> None:
    """Push the help screen of ``screen``: its keys by ``sections`` with the live ``keymap``,
    and this modality's presets."""
    from tuipacs.app.screens.help import HelpScreen

    presets_text = "  ".join(f"{c.key or '(w)'} {c.label}" for c in screen.choices)
    extra = f"Presets: {presets_text}" if presets_text else ""
    hanging = screen.hanging_line()
    extra = "\n".join(part for part in (hanging, extra) if part)
    screen.app.push_screen(HelpScreen.of(screen, "viewer", sections, extra, keymap))


def first_frame(screen: ViewerScreen, frame: Frame) -> None:
    """Per-series settings that come from the first image: presets, cine rate, the hanging
    protocol's preset, and a GSPS magnification applied before the image's aspect was
    known (applied again with it)."""
    from tuipacs.view.state import preset_choices

    presets = screen.settings.config.presets  # the reader's own, from config.toml
    screen.choices = preset_choices(frame.info.modality, frame.windows, presets)
    info = frame.info
    rate = info.cine_rate or (1000.0 / info.frame_time_ms if info.frame_time_ms else None)
    if rate and rate > 0:
        screen.state.cine_rate = float(min(60.0, max(1.0, rate)))
    screen.apply_pending_preset()
    if screen.presentation_guessed():
        screen.request_render()
