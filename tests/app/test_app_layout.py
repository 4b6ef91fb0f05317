"""The layout adapts to the terminal: the browser at 80x24 and 250x70 (columns, footer keys,
the thumbnail card), the help box without slivers of the screen below it, and Kitty
placeholder lines that Textual cuts under a label without splitting a cell."""

from __future__ import annotations

from typing import Any

import pytest
from apphelpers import SIZE, browser_listed, thumbnails_done
from rich.console import Console
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import DataTable
from textual.widgets._footer import FooterKey

from tuipacs.app.graphics.canvas import KittyCanvas
from tuipacs.app.screens.help import HelpScreen, keys_table
from tuipacs.app.widgets.study_table import STUDY_COLUMNS
from tuipacs.app.widgets.thumbnails import ThumbnailTile
from tuipacs.store.archive import Archive
from tuipacs.view.graphics import kitty
from tuipacs.view.layout import Box

READING = ["name", "date", "modality", "description", "images"]
"""The study columns a reader needs at any size, in the table's order."""

PREFERRED = {key: width for key, _label, width in STUDY_COLUMNS}


def shown_columns(pilot: Pilot[Any]) -> dict[str, int]:
    """Key -> width of the study table's columns, in their order."""
    table = pilot.app.screen.query_one("#studies", DataTable)
    return {str(key.value): column.width for key, column in table.columns.items()}


def visible_footer_actions(pilot: Pilot[Any]) -> list[str]:
    """The actions of the footer keys that show entirely on the screen."""
    screen = pilot.app.screen
    return [
        key.action
        for key in screen.query(FooterKey)
        if key.display and key.region.width and screen.region.contains_region(key.region)
    ]


async def browser_ready(pilot: Pilot[Any]) -> Any:
    """The browser listed, with the thumbnail of the highlighted study's series."""
    screen = await browser_listed(pilot)
    table = screen.query_one("#series", DataTable)
    await thumbnails_done(pilot, table.row_count)
    await pilot.pause()
    return screen


def assert_table_fills(pilot: Pilot[Any]) -> None:
    """The study table's columns (and their padding) fill it exactly: no horizontal
    scroll bar, no hidden column."""
    table = pilot.app.screen.query_one("#studies", DataTable)
    widths = shown_columns(pilot)
    assert sum(widths.values()) + 2 * table.cell_padding * len(widths) == table.size.width
    assert table.max_scroll_x == 0


async def test_80x24_browser_keeps_reading_columns_keys_and_card(
    archive: Archive, make_app: Any
) -> None:
    async with make_app(archive).run_test(size=(80, 24)) as pilot:
        screen = await browser_ready(pilot)
        assert list(shown_columns(pilot)) == READING
        assert shown_columns(pilot)["description"] >= 16
        assert_table_fills(pilot)
        actions = visible_footer_actions(pilot)
        assert "help" in actions and "app.quit" in actions
        tiles = [t for t in screen.query(ThumbnailTile) if t.series_uid]
        assert tiles and tiles[0].display
        assert screen.region.contains_region(tiles[0].region)  # the card is not clipped
        # a long description is cut with an ellipsis to the column
        cell = str(screen.query_one("#studies", DataTable).get_row_at(0)[3])
        assert len(cell) <= shown_columns(pilot)["description"]


async def test_250x70_browser_widens_and_adds_columns(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=(250, 70)) as pilot:
        screen = await browser_ready(pilot)
        widths = shown_columns(pilot)
        assert list(widths) == [key for key, _label, _width in STUDY_COLUMNS]  # all of them
        assert widths["description"] > PREFERRED["description"]
        assert widths["name"] > PREFERRED["name"]
        assert_table_fills(pilot)
        actions = visible_footer_actions(pilot)
        assert "help" in actions and "app.quit" in actions and "mask" in actions
        tile = next(t for t in screen.query(ThumbnailTile) if t.series_uid)
        assert screen.region.contains_region(tile.region)
        referring = str(list(screen.query_one("#studies", DataTable).get_column("referring"))[0])
        assert referring and referring != "…"


async def test_browser_columns_follow_a_resize(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        await browser_ready(pilot)
        uid = pilot.app.screen.current_study().study_uid
        await pilot.press("down")
        moved = pilot.app.screen.current_study().study_uid
        assert moved != uid
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert list(shown_columns(pilot)) == READING
        assert pilot.app.screen.current_study().study_uid == moved  # the cursor stays
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert "id" in shown_columns(pilot) and "accession" in shown_columns(pilot)


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 45), (250, 70)])
async def test_help_box_leaves_no_sliver_of_the_screen(
    archive: Archive, make_app: Any, size: tuple[int, int]
) -> None:
    """Beside the box either nothing of the screen below shows or a margin wide enough to
    read (the cut ends of words in one or two columns looked like stray glyphs)."""
    async with make_app(archive).run_test(size=size) as pilot:
        await browser_ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpScreen)
        box = pilot.app.screen.query_one("#help-box").region
        left, right = box.x, size[0] - box.right
        assert (left, right) == (0, 0) or min(left, right) >= 8, (left, right)
        assert Region(0, 0, *size).contains_region(box)


def test_help_titles_underline_only_their_words() -> None:
    console = Console(width=80, force_terminal=True, color_system="truecolor", record=True)
    table = keys_table((("Find", [("Enter / Down", "back to the studies")]),))
    segments = list(console.render(table))
    underlined = [s.text for s in segments if s.style is not None and s.style.underline]
    assert underlined == ["Find"]


@pytest.mark.parametrize("image_id", [0x123456, 0x7F123456])
def test_placeholder_lines_are_cut_between_cells(image_id: int) -> None:
    """Textual divides a picture's line where a label covers one cell: every piece holds
    whole placeholders (with their row and column marks), so no mark follows the label."""
    cols, width = 60, 64
    canvas = KittyCanvas(image_id, True, list)
    canvas.set_grid(cols, 3)
    canvas.box = Box(2, 0, cols, 3)
    marks = set(kitty.DIACRITICS)
    per_cell = 3 if image_id <= 0xFFFFFF else 4
    for y in range(3):
        line = canvas._compose_line(y, width)
        for x in range(width - 1):
            before, _label, after = line.divide([x, x + 1, width])
            for piece in (before, after):
                text = piece.text
                assert not text or text[0] not in marks, (y, x)
                runs = text.split(kitty.PLACEHOLDER)[1:]
                assert all(len(run) >= per_cell - 1 for run in runs), (y, x)
                assert piece.cell_length == len(text.replace(kitty.PLACEHOLDER, "x")) - sum(
                    ch in marks for ch in text
                )
            cropped = line.crop(x + 1, width)
            assert cropped.text == after.text and cropped.cell_length == width - x - 1
