"""Helpers for the TUI tests (not a test module): constants and waiting for the viewer."""

from __future__ import annotations

import asyncio
import time

from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed, WorkerState

from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.view.graphics.probe import GraphicsConfig
from tuipacs.view.layout import CellSize

CT_SLICES = 20
SIZE = (160, 50)
HALFCELL = GraphicsConfig(backend="halfcell", cell_size=CellSize(10, 20))


async def settle(pilot: Pilot[object], timeout: float = 10.0) -> None:
    """Wait until the viewer has rendered its latest request and the ImageView shows it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.02)
        screen = pilot.app.screen
        if not isinstance(screen, ViewerScreen):
            continue
        if screen.requested_seq == 0 or screen.shown_seq < screen.requested_seq:
            continue
        if screen.frame is None or _image_shows(screen):
            await pilot.pause()
            return
    screen = pilot.app.screen
    shown = screen.query_one(ImageView).last_shown if isinstance(screen, ViewerScreen) else None
    raise AssertionError(
        f"the viewer did not finish rendering in time: {type(screen).__name__} "
        f"{getattr(screen, 'requested_seq', '-')}/{getattr(screen, 'shown_seq', '-')} "
        f"frame={getattr(screen, 'frame', None) is not None} shown={shown is not None}"
    )


def _image_shows(screen: ViewerScreen) -> bool:
    """True when the ImageView displays the viewer's latest rendered array in full."""
    shown = screen.query_one(ImageView).last_shown
    rendered = screen.rendered
    return (
        shown is not None
        and rendered is not None
        and shown.array is rendered.array
        and not shown.preview
    )


async def open_study(pilot: Pilot[object], row: int = 0) -> ViewerScreen:
    """From the browser, open study ``row`` and wait for its first image."""
    from textual.widgets import DataTable

    await pilot.pause()
    table = pilot.app.screen.query_one("#studies", DataTable)
    deadline = time.monotonic() + 10
    while table.row_count == 0 and time.monotonic() < deadline:
        await pilot.pause(0.02)
    table.move_cursor(row=row)
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ViewerScreen)
    return screen


async def thumbnails_done(pilot: Pilot[object], count: int, timeout: float = 10.0) -> list:
    """Wait until ``count`` thumbnail tiles have their picture on screen (or a reason)."""
    from tuipacs.app.widgets.thumbnails import SeriesThumbnails

    deadline = time.monotonic() + timeout
    tiles: list = []
    while time.monotonic() < deadline:
        await pilot.pause(0.02)
        tiles = pilot.app.screen.query_one(SeriesThumbnails).tiles()
        if len(tiles) == count and all(
            t.reason or (t.has_picture and t.view.last_shown is not None) for t in tiles
        ):
            await pilot.pause()
            return tiles
    states = [(t.series_uid[-6:], t.has_picture, t.reason) for t in tiles]
    raise AssertionError(f"thumbnails not shown in time: want {count}, have {states}")


_ACTIVE = (WorkerState.PENDING, WorkerState.RUNNING)


async def workers_done(pilot: Pilot[object], timeout: float = 10.0) -> None:
    """Wait until the app's workers have finished and their messages are handled, including
    the workers those messages start (``timeout`` is a hang bound, not a speed bound)."""
    deadline = time.monotonic() + timeout
    while True:
        active = [w for w in pilot.app.workers if w.state in _ACTIVE]
        if not active:
            await pilot.pause()
            if not any(w.state in _ACTIVE for w in pilot.app.workers):
                return
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"workers still running: {[w.name for w in active]}")
        try:
            await asyncio.wait_for(pilot.app.workers.wait_for_complete(active), remaining)
        except (WorkerCancelled, WorkerFailed):  # replaced by a newer one, or failed: done
            pass
        except TimeoutError:
            raise AssertionError(f"workers still running: {[w.name for w in active]}") from None
