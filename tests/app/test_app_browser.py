"""Pilot tests of the browser: listing, filter as you type, sorting, opening studies."""

from __future__ import annotations

from typing import Any

from apphelpers import SIZE, browser_listed, settle, until, workers_done
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from tuipacs.app.screens.browser import BrowserScreen, matches
from tuipacs.app.screens.help import HelpScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_studies


async def loaded(pilot: Pilot[object]) -> BrowserScreen:
    """The browser once its study and series tables are filled."""
    screen = await browser_listed(pilot)
    assert isinstance(screen, BrowserScreen)
    series = screen.query_one("#series", DataTable)
    assert screen.all_studies and (series.row_count or not screen.shown)
    return screen


def column(screen: BrowserScreen, key: str) -> list[str]:
    """The cells of one column of the study table, top to bottom."""
    table = screen.query_one("#studies", DataTable)
    return [str(v) for v in table.get_column(key)]


async def test_lists_studies_newest_first_with_series(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        assert column(screen, "date")[0].startswith("2024-03-15")
        assert column(screen, "name")[0] == "Müller, Jürgen"
        assert column(screen, "modality") == ["CT", "DX", "US", "MR"]
        series = screen.query_one("#series", DataTable)
        assert series.row_count == 1
        assert "Thorax" in str(series.get_row_at(0)[2])


async def test_filter_as_you_type(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        await pilot.press("slash")
        assert screen.query_one("#filter", Input).has_focus
        await pilot.press(*"yama")
        assert column(screen, "name") == ["Yamada, Tarou"]
        await pilot.press("escape")
        assert len(column(screen, "name")) == 4
        assert screen.query_one("#studies", DataTable).has_focus
        await pilot.press("slash", *"acc240314")  # accession
        assert column(screen, "modality") == ["DX"]
        await pilot.press("enter")
        assert screen.query_one("#studies", DataTable).has_focus
        await pilot.press("slash", "escape", "slash", *"ECOCARDIO")  # description, any case
        assert column(screen, "modality") == ["US"]
        await pilot.press("escape", "slash", *"nomatch")
        assert column(screen, "name") == []
        assert "0 of 4 studies" in str(screen.query_one("#browser-status").render())


def test_filter_words_match_name_id_accession_description(archive: Archive) -> None:
    rows = list_studies(archive)
    ct = [r for r in rows if "CT" in r.modalities][0]
    assert matches(ct, "müller thorax")
    assert matches(ct, "TP-100231")
    assert not matches(ct, "müller head")


async def test_sort_key_cycles_columns(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        await pilot.press("s")
        names = column(screen, "name")
        assert names == sorted(names, key=str.lower)
        assert "sorted by patient name, ascending" in str(
            screen.query_one("#browser-status").render()
        )
        assert "▲" in str(screen.query_one("#studies", DataTable).columns["name"].label)  # type: ignore[index]
        await pilot.press("S")
        assert column(screen, "name") == list(reversed(names))
        await pilot.press("s", "s")  # ID, then modality
        assert column(screen, "modality") == ["CT", "DX", "MR", "US"]


async def test_enter_opens_first_series_and_series_table_opens_that_series(
    archive: Archive, make_app: Any
) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        table = screen.query_one("#studies", DataTable)
        table.move_cursor(row=3)  # the MR study, two series
        screen = await loaded(pilot)
        assert screen.query_one("#series", DataTable).row_count == 2
        await pilot.press("enter")
        await settle(pilot)
        viewer = app.screen
        assert isinstance(viewer, ViewerScreen)
        assert viewer.state.series_index == 0
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("tab", "down", "enter")
        await settle(pilot)
        viewer = app.screen
        assert isinstance(viewer, ViewerScreen)
        assert viewer.state.series_index == 1
        assert "T2" in viewer.overlay_text()


async def test_pin_toggles_and_shows(archive_copy: Archive, make_app: Any) -> None:
    app = make_app(archive_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        await pilot.press("asterisk")
        await until(pilot, lambda: column(screen, "pinned")[0] == "*", "the pin to show")
    assert [r.pinned for r in list_studies(archive_copy)][0]


async def test_help_and_quit(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BrowserScreen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_empty_archive_shows_no_rows(tmp_path: Any, make_app: Any) -> None:
    empty = Archive.open(tmp_path / "empty")
    app = make_app(empty)
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(pilot)
        screen = app.screen
        assert isinstance(screen, BrowserScreen)
        assert screen.query_one("#studies", DataTable).row_count == 0
        await pilot.press("enter")  # nothing to open: no crash
        await pilot.pause()
        assert isinstance(app.screen, BrowserScreen)
    empty.close()
