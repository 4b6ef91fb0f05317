"""Helpers for the TUI tests (not a test module): constants, and waiting on what the app does.

Tests never sleep: they wait until a condition holds, checked after each message the app
dispatches (:func:`until`, through the message hook that ``conftest.py`` gives every app run
with ``run_test``) or once the app's workers are done (:func:`workers_done`). A timeout is a
hang bound (10 s by default), never a speed bound.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.message import Message
from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed, WorkerState

from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.view.graphics.probe import GraphicsConfig
from tuipacs.view.layout import CellSize
from tuipacs.view.render import RenderRequest

CT_SLICES = 20
SIZE = (160, 50)
HALFCELL = GraphicsConfig(backend="halfcell", cell_size=CellSize(10, 20))
HANG = 10.0
"""Seconds after which a wait counts as a hang."""


class Watch:
    """A ``message_hook`` for ``App.run_test``: wakes waiters after each message."""

    def __init__(self) -> None:
        self.messages = 0
        self._waiters: list[asyncio.Event] = []

    def __call__(self, message: Message) -> None:
        self.messages += 1
        for event in self._waiters:
            event.set()

    async def next_message(self, timeout: float) -> bool:
        """Wait for the next message; False when none came within ``timeout``."""
        event = asyncio.Event()
        self._waiters.append(event)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters.remove(event)


_WATCHES: weakref.WeakKeyDictionary[App[Any], Watch] = weakref.WeakKeyDictionary()


def watch_of(app: App[Any]) -> Watch:
    """The message watch of ``app`` (made on first use; conftest hooks it into run_test)."""
    watch = _WATCHES.get(app)
    if watch is None:
        watch = _WATCHES[app] = Watch()
    return watch


async def until(
    pilot: Pilot[Any], done: Callable[[], object], what: str, timeout: float = HANG
) -> None:
    """Let the app run until ``done()`` holds, checking after each message it handles."""
    watch = watch_of(pilot.app)
    deadline = time.monotonic() + timeout
    await pilot.pause()
    while not done():
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not await watch.next_message(remaining):
            if done():
                return
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause()  # let the message's handler finish


_ACTIVE = (WorkerState.PENDING, WorkerState.RUNNING)


async def workers_done(pilot: Pilot[Any], timeout: float = HANG) -> None:
    """Wait until the app's workers have finished and their messages are handled, including
    the workers those messages start."""
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


def _rendered(pilot: Pilot[Any]) -> bool:
    """The viewer rendered its latest request and the ImageView shows it in full."""
    screen = pilot.app.screen
    if not isinstance(screen, ViewerScreen):
        return False
    if screen.requested_seq == 0 or screen.shown_seq < screen.requested_seq:
        return False
    return screen.frame is None or _image_shows(screen)


async def settle(pilot: Pilot[Any], timeout: float = HANG) -> None:
    """Wait until the viewer has rendered its latest request and the ImageView shows it."""
    try:
        await until(pilot, lambda: _rendered(pilot), "the viewer to render", timeout)
    except AssertionError:
        screen = pilot.app.screen
        shown = screen.query_one(ImageView).last_shown if isinstance(screen, ViewerScreen) else None
        raise AssertionError(
            f"the viewer did not finish rendering in time: {type(screen).__name__} "
            f"{getattr(screen, 'requested_seq', '-')}/{getattr(screen, 'shown_seq', '-')} "
            f"frame={getattr(screen, 'frame', None) is not None} shown={shown is not None}"
        ) from None


def _image_shows(screen: ViewerScreen) -> bool:
    """True when the ImageView displays the viewer's latest rendered array in full (with
    the probe on: that picture with the crosshair drawn in)."""
    shown = screen.query_one(ImageView).last_shown
    rendered = screen.rendered
    if shown is None or rendered is None or shown.preview:
        return False
    latest = isinstance(shown.tag, RenderRequest) and shown.tag.seq == screen.shown_seq
    return shown.array is rendered.array or latest


async def browser_listed(pilot: Pilot[Any]) -> Any:
    """The browser once the archive is listed, with the series of the highlighted study."""
    from tuipacs.app.screens.browser import BrowserScreen

    await workers_done(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, BrowserScreen)
    return screen


async def open_study(pilot: Pilot[Any], row: int = 0) -> ViewerScreen:
    """From the browser, open study ``row`` and wait for its first image."""
    from textual.widgets import DataTable

    await browser_listed(pilot)
    table = pilot.app.screen.query_one("#studies", DataTable)
    table.move_cursor(row=row)
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ViewerScreen)
    return screen


async def thumbnails_done(pilot: Pilot[Any], count: int, timeout: float = HANG) -> list[Any]:
    """Wait until ``count`` thumbnail tiles have their picture on screen (or a reason)."""
    from tuipacs.app.widgets.thumbnails import SeriesThumbnails

    def tiles() -> list[Any]:
        return pilot.app.screen.query_one(SeriesThumbnails).tiles()

    def done() -> bool:
        shown = tiles()
        return len(shown) == count and all(
            t.reason or (t.has_picture and t.view.last_shown is not None) for t in shown
        )

    try:
        await until(pilot, done, "thumbnails", timeout)
    except AssertionError:
        states = [(t.series_uid[-6:], t.has_picture, t.reason) for t in tiles()]
        raise AssertionError(f"thumbnails not shown in time: want {count}, have {states}") from None
    return tiles()
