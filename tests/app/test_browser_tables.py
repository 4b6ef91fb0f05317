"""Pilot tests of the browser's tables: cells cut with "…", sort arrows that show, filter
ignoring case and accents, the cursor following a pinned study, Home/End/PageUp/PageDown."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from apphelpers import SIZE, until
from rich.cells import cell_len
from textual.pilot import Pilot
from textual.widgets import DataTable, Input
from textual.widgets.data_table import ColumnKey

from tuipacs.app.messages import RemoteStudiesFound, SeriesFound, StudiesFound
from tuipacs.app.screens.browser import (
    REMOTE_COLUMNS,
    SORT_ARROWS,
    SORTS,
    STUDY_COLUMNS,
    BrowserScreen,
    fit_cells,
    matches,
    study_cells,
)
from tuipacs.app.screens.help import HelpScreen
from tuipacs.app.widgets.remote_panel import RemoteStudy
from tuipacs.store.archive import Archive
from tuipacs.store.query import StudyRow, list_studies


async def wait_for(pilot: Pilot[object], what: str, done: Callable[[], object]) -> None:
    """Let the app run until ``done()`` is true (checked after each message; 10 s is a
    hang, not a speed bound)."""
    await until(pilot, done, what)


async def loaded(pilot: Pilot[object]) -> BrowserScreen:
    """The browser once its study and series tables are filled."""
    screen = pilot.app.screen
    assert isinstance(screen, BrowserScreen)
    series = screen.query_one("#series", DataTable)
    await wait_for(pilot, "the browser to load", lambda: screen.all_studies and series.row_count)
    return screen


def column(screen: BrowserScreen, key: str) -> list[str]:
    """The cells of one column of the study table, top to bottom."""
    return [str(v) for v in screen.query_one("#studies", DataTable).get_column(key)]


def rendered(table: DataTable[Any]) -> list[str]:
    """The table's lines as the terminal shows them (header first)."""
    return [table.render_line(y).text for y in range(table.size.height)]


def long_study(row: StudyRow) -> StudyRow:
    """A copy of ``row`` whose texts are longer than their columns."""
    return dataclasses.replace(
        row,
        study_uid=row.study_uid + ".999",
        patient_name="Wolfeschlegelsteinhausen-Bergerdorff^Hubert Blaine",
        patient_id="PID-0123456789-ABCDEF",
        accession="ACC24031500429999",
        description="CT Thorax/Abdomen/Becken mit KM, arterielle und portalvenöse Phase",
        study_date="20250101",
    )


# -- 2: cells cut with an ellipsis ----------------------------------------------------------


async def test_accession_shown_in_full(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        table = screen.query_one("#studies", DataTable)
        lines = rendered(table)
        assert any("ACC2403150042" in line for line in lines)
        assert not any("…" in line for line in lines)  # the demo values all fit
        assert table.max_scroll_x == 0  # and the wider columns still fit 160 columns


async def test_cut_cells_end_with_an_ellipsis(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        rows = list_studies(archive)
        screen.post_message(StudiesFound([*rows, long_study(rows[0])]))
        await wait_for(pilot, "the long study", lambda: len(screen.shown) == len(rows) + 1)
        name = column(screen, "name")[0]
        table = screen.query_one("#studies", DataTable)
        assert name.startswith("Wolfeschlegelsteinhausen-") and name.endswith("…")
        assert cell_len(name) == table.columns[ColumnKey("name")].width
        assert column(screen, "id")[0] == "PID-0123456…"
        assert column(screen, "description")[0].endswith("…")
        assert column(screen, "accession")[0] == "ACC240315004299…"
        await pilot.pause()
        top = rendered(table)[1]
        assert name in top
        assert "ACC240315004299…" in top
        assert "PID-0123456…" in top


async def test_cut_series_description_ends_with_an_ellipsis(
    archive: Archive, make_app: Any
) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        long = dataclasses.replace(screen.series[0], description="Thorax " * 10)
        screen.post_message(SeriesFound(screen.series_study, [long]))
        series = screen.query_one("#series", DataTable)
        await wait_for(pilot, "the long series", lambda: screen.series == [long])
        cell = str(series.get_row(long.series_uid)[series.get_column_index("description")])
        width = series.columns[ColumnKey("description")].width
        assert cell.endswith("…") and cell_len(cell) == width


def test_study_cells_fit_their_columns(archive: Archive) -> None:
    rows = list_studies(archive)
    for row in [*rows, long_study(rows[0])]:
        for cell, (key, _label, width) in zip(
            fit_cells(study_cells(row), STUDY_COLUMNS), STUDY_COLUMNS, strict=True
        ):
            assert cell.cell_len <= width, key
    assert max(width for key, _l, width in STUDY_COLUMNS if key == "accession") >= 16
    assert max(width for key, _l, width in REMOTE_COLUMNS if key == "accession") >= 16


async def test_cells_are_not_read_as_markup(archive: Archive, make_app: Any) -> None:
    """Brackets in a description are text, not Rich markup (``[/]`` would not render)."""
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        rows = list_studies(archive)
        odd = dataclasses.replace(rows[0], description="T1 [Gd] [/]", study_uid="1.2.3.999")
        screen.post_message(StudiesFound([*rows[1:], odd]))
        await wait_for(pilot, "the new list", lambda: odd in screen.shown)
        await pilot.pause()
        lines = rendered(screen.query_one("#studies", DataTable))
        assert any("T1 [Gd] [/]" in line for line in lines)


# -- 6: the sort arrow shows on every sortable column ---------------------------------------


def test_sortable_columns_have_room_for_the_arrow() -> None:
    widths = {key: (label, width) for key, label, width in STUDY_COLUMNS}
    for sort in SORTS:
        label, width = widths[sort.column]
        for arrow in SORT_ARROWS:
            assert cell_len(f"{label} {arrow}") <= width, sort.column


async def test_images_header_shows_its_sort_arrow(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        table = screen.query_one("#studies", DataTable)
        for _ in range([s.column for s in SORTS].index("images")):
            await pilot.press("s")
        assert "sorted by images, descending" in str(screen.query_one("#browser-status").render())
        await pilot.pause()
        assert "Images ▼" in rendered(table)[0]
        await pilot.press("S")
        await pilot.pause()
        assert "Images ▲" in rendered(table)[0]


# -- 3: filter ignoring case and accents ----------------------------------------------------


async def test_filter_ignores_case_and_accents(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        filt = screen.query_one("#filter", Input)
        await pilot.press("slash", *"muller")  # typed; the other spellings set at once
        await pilot.pause()
        assert filt.value == "muller" and column(screen, "name") == ["Müller, Jürgen"] * 2
        for text in ("MÜLLER", "Muller", "jurgen muller", "müller^jürgen"):
            filt.value = text
            await pilot.pause()
            assert column(screen, "name") == ["Müller, Jürgen"] * 2, text
        await pilot.press("escape")
        await pilot.press("slash")
        filt.value = "NUNEZ GARCIA"
        await pilot.pause()
        assert column(screen, "name") == ["Núñez García, Zoë"]
        filt.value = "ecocardiografia"
        await pilot.pause()
        assert column(screen, "modality") == ["US"]


def test_matches_folds_names_and_descriptions(archive: Archive) -> None:
    rows = list_studies(archive)
    ct = [r for r in rows if "CT" in r.modalities][0]
    us = [r for r in rows if "US" in r.modalities][0]
    assert matches(ct, "muller") and matches(ct, "MÜLLER") and matches(ct, "MULLER")
    assert matches(ct, "jurgen muller") and matches(ct, "Müller, Jürgen")
    assert matches(ct, "muller^jurgen") and matches(ct, "thorax/abdomen")
    assert matches(us, "nunez garcia zoe") and matches(us, "transtoracica")
    assert matches(us, "ZOË") and not matches(us, "muller")


async def test_slash_in_an_empty_filter_is_not_typed(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        filt = screen.query_one("#filter", Input)
        await pilot.press("slash", "slash")
        assert filt.has_focus and filt.value == ""
        await pilot.press(*"acc", "slash")
        assert filt.value == "acc/"


# -- 4: pinning keeps the cursor on the study -----------------------------------------------


async def test_pin_keeps_the_cursor_on_the_study(archive_copy: Archive, make_app: Any) -> None:
    async with make_app(archive_copy).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        table = screen.query_one("#studies", DataTable)
        table.move_cursor(row=2)
        await pilot.pause()
        study = screen.current_study()
        assert study is not None and not study.pinned
        await pilot.press("asterisk")
        await wait_for(pilot, "the pin", lambda: column(screen, "pinned")[2] == "*")
        assert table.cursor_row == 2
        current = screen.current_study()
        assert current is not None and current.study_uid == study.study_uid and current.pinned
        await pilot.press("asterisk")  # and unpinning
        await wait_for(pilot, "the unpin", lambda: column(screen, "pinned")[2] == "")
        assert table.cursor_row == 2


async def test_cursor_follows_a_study_that_moves(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        table = screen.query_one("#studies", DataTable)
        first = screen.shown[0]  # the newest study, at the top
        older = dataclasses.replace(first, study_date="19990101", pinned=True)
        others = [r for r in list_studies(archive) if r.study_uid != first.study_uid]
        screen.post_message(StudiesFound([*others, older]))
        await wait_for(pilot, "the new list", lambda: screen.shown[-1] == older)
        assert table.cursor_row == len(screen.shown) - 1
        current = screen.current_study()
        assert current is not None and current.study_uid == first.study_uid


# -- 5: Home, End, PageUp, PageDown ---------------------------------------------------------


async def test_home_end_and_page_keys_in_the_tables(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        studies = screen.query_one("#studies", DataTable)
        assert studies.has_focus
        last = studies.row_count - 1
        await pilot.press("end")
        assert studies.cursor_row == last
        await pilot.press("home")
        assert studies.cursor_row == 0
        await pilot.press("pagedown")
        assert studies.cursor_row == last
        await pilot.press("pageup")
        assert studies.cursor_row == 0

        await pilot.press("end")  # the MR study has two series
        series = screen.query_one("#series", DataTable)
        await wait_for(pilot, "the MR series", lambda: series.row_count == 2)
        await pilot.press("tab")
        assert series.has_focus
        await pilot.press("end")
        assert series.cursor_row == 1
        await pilot.press("home")
        assert series.cursor_row == 0
        await pilot.press("pagedown")
        assert series.cursor_row == 1
        await pilot.press("pageup")
        assert series.cursor_row == 0

        found = [RemoteStudy(study_uid=f"1.2.3.{n}", patient_name=f"P^{n}") for n in range(3)]
        screen.remote.post_message(RemoteStudiesFound("NODE", found))
        remote = screen.query_one("#remote", DataTable)
        await wait_for(pilot, "the remote rows", lambda: remote.row_count == 3 and remote.has_focus)
        await pilot.press("end")
        assert remote.cursor_row == 2
        await pilot.press("home")
        assert remote.cursor_row == 0


async def test_help_lists_home_end_and_page_keys(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = [key for _title, rows in help_screen.sections() for key, _what in rows]
        assert "Home / End" in keys and "PgUp / PgDn" in keys


async def test_keys_right_after_slash_go_to_the_filter(archive: Archive, make_app: Any) -> None:
    """'/yamada' arriving in one read (fast typing over SSH) filters; no key is lost."""
    from textual import events

    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        filt = screen.query_one("#filter", Input)
        keys = [events.Key("slash", "/")] + [events.Key(c, c) for c in "yamada"]
        for key in keys:  # queued together, before the app handles the first one
            pilot.app.post_message(key)
        await pilot.pause()
        await pilot.pause()
        assert filt.has_focus and filt.value == "yamada"
        assert column(screen, "name") == ["Yamada, Tarou"]
