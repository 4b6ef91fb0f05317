"""Pilot tests of hanging protocols applied when a study opens from the browser: a user
protocol in the config folder lays a CT study out as 2x2 with its series and presets, and
puts the prior found in the archive beside it; a study opened at a chosen series, or with
``hanging_protocols = false``, keeps one viewport; the help names the protocol."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from apphelpers import HALFCELL, SIZE, until, workers_done
from layoutkit import _open, _settled
from textual.widgets import DataTable

from tuipacs.app.app import build_app
from tuipacs.app.screens.help import HelpScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.config import Config
from tuipacs.store.archive import Archive

PROTOCOL = """
[[protocol]]
name = "Test CT with prior"
priority = 50
match.modality = ["CT"]
match.description = "chest"
grid = "2x2"
[[protocol.viewport]]
series = "thick"
preset = "lung"
[[protocol.viewport]]
study = "prior"
preset = "bone"
[[protocol.viewport]]
series = "thin"
"""


async def _open_from_browser(pilot: Any, study_uid: str) -> ViewerScreen:
    await workers_done(pilot)
    table = pilot.app.screen.query_one("#studies", DataTable)
    rows = [table.get_row_at(n) for n in range(table.row_count)]
    keys = list(table.rows)
    row = next(n for n, key in enumerate(keys) if key.value == study_uid)
    assert rows
    table.move_cursor(row=row)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, ViewerScreen), "the viewer")
    screen = pilot.app.screen
    assert isinstance(screen, ViewerScreen)
    return screen


async def test_protocol_lays_out_the_study_with_its_prior(
    layout_archive: tuple[Archive, dict[str, list[Any]]], tuipacs_home: Path
) -> None:
    archive, made = layout_archive
    folder = tuipacs_home / "protocols"
    folder.mkdir()
    (folder / "mine.toml").write_text(PROTOCOL, encoding="utf-8")
    app = build_app(archive, Config(), graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_from_browser(pilot, made["thin"][0].StudyInstanceUID)
        prior_uid = made["prior"][0].StudyInstanceUID

        def hung() -> bool:
            panes = screen.panes
            return len(panes) == 4 and panes[1].study.study_uid == prior_uid

        await until(pilot, hung, "four viewports, the prior in the second")
        await _settled(pilot, screen)
        assert screen.hanging is not None and screen.hanging.protocol == "Test CT with prior"
        first, prior, third, fourth = screen.panes
        assert first.loader.open_uid == made["thick"][0].SeriesInstanceUID
        assert prior.study.study_uid == made["prior"][0].StudyInstanceUID
        assert third.loader.open_uid == made["thin"][0].SeriesInstanceUID
        # the cell the protocol does not name: the largest series not shown yet
        assert fourth.loader.open_uid == made["coronal"][0].SeriesInstanceUID
        assert screen.grid == "2x2"
        assert (first.state.window_name, prior.state.window_name) == ("lung", "bone")
        assert third.state.window_name == "file"
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help")
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        assert "Hanging protocol: Test CT with prior (mine.toml), layout 2x2" in help_screen.extra


async def test_no_protocol_at_a_chosen_series_or_when_turned_off(
    layout_archive: tuple[Archive, dict[str, list[Any]]], tuipacs_home: Path
) -> None:
    archive, made = layout_archive
    app = build_app(archive, Config(hanging_protocols=False), graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_from_browser(pilot, made["thin"][0].StudyInstanceUID)
        await _settled(pilot, screen)
        assert screen.hanging is None and len(screen.panes) == 1
    # protocols on (the built-in CT chest with prior fits), but a series was chosen
    app = build_app(archive, Config(), graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, archive, made["thick"][0])
        await workers_done(pilot)
        await _settled(pilot, screen)
        assert screen.hanging is None and len(screen.panes) == 1
        assert screen.loader.open_uid == made["thick"][0].SeriesInstanceUID


def test_shown_grid_shrinks_to_the_series_there_are() -> None:
    from tuipacs.app.screens.viewer_hanging import shown_grid

    assert [shown_grid("2x2", n) for n in (0, 1, 2, 3, 4)] == ["1x1", "1x1", "1x2", "2x2", "2x2"]
    assert shown_grid("2x1", 2) == "2x1" and shown_grid("1x2", 2) == "1x2"


def test_study_facts_from_the_index_rows() -> None:
    from tuipacs.app.screens.viewer_hanging import series_facts, study_facts
    from tuipacs.store.query import SeriesRow, StudyRow

    study = StudyRow("1.2", "P", "ID", "", "", "20260101", "", "", "CT CHEST", "CT\\PT", "",
                     2, 10, 0, False, None)  # fmt: skip
    rows = [
        SeriesRow("s1", "1.2", "x7", "CT", "lung", "", 5),  # a Series Number that is not one
        SeriesRow("s2", "1.2", " 2 ", "PT", "pet", "CHEST", 5),
    ]
    facts = study_facts(study, rows)
    assert facts.modalities == ("CT", "PT") and facts.body_part == "CHEST"
    assert [f.number for f in series_facts(rows)] == [None, 2]
    empty = study_facts(replace(study, modalities=""), rows)
    assert empty.modalities == ("CT", "PT")  # from the series when the study lists none
