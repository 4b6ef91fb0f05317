"""The reader's session: the identity mask holds on every screen until turned off, a
reopened series comes back at its last image and window; and going to image N."""

from __future__ import annotations

from typing import Any

from apphelpers import open_study, settle, until
from textual.widgets import DataTable

from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.screens.goto import GoToScreen, image_number
from tuipacs.app.screens.tags import TagScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.store.archive import Archive

CT = 0
SIZE = (160, 50)


def table_text(app: Any) -> str:
    """Every cell of the browser's study table."""
    table = app.screen.query_one("#studies", DataTable)
    return " ".join(str(cell) for row in range(table.row_count) for cell in table.get_row_at(row))


async def back_to_browser(pilot: Any) -> BrowserScreen:
    """Leave the viewer for the browser."""
    await pilot.press("backspace")
    await until(pilot, lambda: isinstance(pilot.app.screen, BrowserScreen), "the browser")
    return pilot.app.screen


async def test_mask_holds_on_every_screen_until_turned_off(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("m")
        assert "Müller" not in screen.overlay_text()
        await back_to_browser(pilot)
        text = table_text(app)
        assert "Müller" not in text and "TP-100231" not in text and "***" in text
        screen = await open_study(pilot, CT)
        assert screen.state.masked, "reopening the study keeps the mask"
        assert "Müller" not in screen.overlay_text() and "ID: ***" in screen.overlay_text()
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TagScreen), "the tag browser")
        assert app.screen.mask
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ViewerScreen), "the viewer")
        await pilot.press("m")
        assert "Müller, Jürgen" in app.screen.overlay_text()
        await back_to_browser(pilot)
        assert "Müller" in table_text(app), "unmasked in the viewer: unmasked everywhere"
        await pilot.press("m")  # the browser's own key
        await until(pilot, lambda: "Müller" not in table_text(app), "the masked table")
        screen = await open_study(pilot, CT)
        assert screen.state.masked


async def test_reopened_series_returns_to_its_image_and_window(
    archive: Archive, make_app: Any
) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("j", "j", "j", "up", "i")
        await settle(pilot)
        left = (screen.state.index, screen.state.center, screen.state.width, screen.state.invert)
        assert left == (3, 50, 400, True)
        await back_to_browser(pilot)
        screen = await open_study(pilot, CT)
        state = screen.state
        assert (state.index, state.center, state.width, state.invert) == left
        assert state.window_name == "custom"
        assert "Im: 4/" in screen.overlay_text() and "WL: 50 WW: 400" in screen.overlay_text()
        assert not state.cine and state.probe is None


async def test_go_to_image_number(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, GoToScreen), "the prompt")
        await pilot.press("1", "5", "enter")
        await until(pilot, lambda: app.screen is screen, "the viewer")
        await settle(pilot)
        assert screen.state.index == 14 and "Im: 15/" in screen.overlay_text()
        await pilot.press("g", "9", "9", "9", "enter")
        await until(pilot, lambda: screen.state.index == screen.state.count - 1, "the last image")
        await pilot.press("g", "3", "escape")
        await until(pilot, lambda: app.screen is screen, "the viewer")
        assert screen.state.index == screen.state.count - 1, "Escape does not move"


def test_image_number_parsing() -> None:
    assert image_number(" 7 ", 20) == 7
    assert image_number("0", 20) == 1 and image_number("999", 20) == 20
    assert image_number("", 20) is None and image_number("-3", 20) is None
    assert image_number("1e3", 20) is None and image_number("9" * 30, 20) is None
