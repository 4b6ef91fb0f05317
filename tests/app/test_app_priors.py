"""Priors in the viewer (``P``), over a local archive: the patient's other studies are listed,
the nearest comparable first; another patient's are not, nor those of the same Patient ID
with another issuer; Enter shows one; the mask hides the name; a node that does not answer is
one line. Tests wait on the app's messages, never sleep."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apphelpers import HALFCELL, SIZE, open_study, until
from helpers import free_port
from priorskit import PriorStudy, write_study
from textual.pilot import Pilot

from tuipacs.app.app import build_app
from tuipacs.app.screens.help import HelpScreen
from tuipacs.app.screens.priors import PriorsScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.config import Config
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.view import format as fmt

NAME = "PRIOR^PATIENT"


@pytest.fixture
def studies(tmp_path: Path) -> dict[str, PriorStudy]:
    """P1: the current CT chest, an older CT chest, an MR brain; P2: a CT chest; P1 with
    the issuer OTHER: a CT chest (another patient by the archive's rules)."""
    folder = tmp_path / "files"
    return {
        "current": write_study(folder, patient_id="P1", date="20240315",
                               description="CT CHEST", body_part="CHEST", seed=1),
        "chest": write_study(folder, patient_id="P1", date="20230110",
                             description="CT THORAX", body_part="CHEST", seed=2, images=3),
        "brain": write_study(folder, patient_id="P1", date="20240101", modality="MR",
                             description="MR BRAIN", seed=3),
        "other": write_study(folder, patient_id="P2", date="20240310",
                             description="CT CHEST", name="OTHER^PATIENT", seed=4),
        "issuer": write_study(folder, patient_id="P1", issuer="OTHER", date="20240314",
                              description="CT CHEST", seed=5),
    }  # fmt: skip


@pytest.fixture
def archive(tmp_path: Path, studies: dict[str, PriorStudy]) -> Iterator[Archive]:
    """A local archive holding every study."""
    archive = Archive.open(tmp_path / "archive")
    files = [path for study in studies.values() for path in study.files]
    assert import_paths(archive, files).added == len(files)
    yield archive
    archive.close()


async def open_current(pilot: Pilot[Any]) -> ViewerScreen:
    """Open the newest study (the current one) and wait for its local priors."""
    viewer = await open_study(pilot, row=0)
    finder = viewer.priors
    await until(pilot, lambda: finder.current is not None, "the local priors")
    return viewer


async def priors_screen(pilot: Pilot[Any]) -> PriorsScreen:
    """Press P and return the priors screen."""
    await pilot.press("P")
    await until(pilot, lambda: isinstance(pilot.app.screen, PriorsScreen), "the priors list")
    screen = pilot.app.screen
    assert isinstance(screen, PriorsScreen)
    return screen


def rows(screen: PriorsScreen) -> list[list[str]]:
    """The table's rows as text."""
    table = screen.table
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_p_lists_the_patients_other_studies_nearest_comparable_first(
    archive: Archive, studies: dict[str, PriorStudy], tuipacs_home: Path
) -> None:
    app = build_app(archive, Config(), graphics=HALFCELL, theme="reading-room")
    async with app.run_test(size=SIZE) as pilot:
        viewer = await open_current(pilot)
        assert viewer.study.study_uid == studies["current"].uid
        screen = await priors_screen(pilot)
        listed = rows(screen)
        uids = [p.candidate.study_uid for p in viewer.priors.priors]
        # the CT chest first (though older than the MR); not P2's, not P1 of issuer OTHER
        assert uids == [studies["chest"].uid, studies["brain"].uid]
        assert listed[0] == ["2023-01-10", "CT", "CT THORAX", "3", "here",
                             "CT CHEST, 1 y 2 m earlier"]  # fmt: skip
        assert listed[1][4:] == ["here", "other modality and region, 2 m earlier"]
        status = str(screen.query_one("#priors-status").render())
        assert "2 here" in status and "no node: local only" in status
        title = str(screen.query_one("#priors-title").render())
        assert title == f"Priors of {fmt.person_name(NAME)}"

        await pilot.press("enter")  # the CT chest: shown beside the current study

        def beside() -> bool:
            panes = viewer.panes
            return len(panes) == 2 and panes[1].study.study_uid == studies["chest"].uid

        await until(pilot, lambda: pilot.app.screen is viewer and beside(), "the prior beside")
        assert viewer.grid == "1x2" and viewer.panes[0].study.study_uid == studies["current"].uid


async def test_the_mask_hides_the_name_and_help_lists_p(
    archive: Archive, tuipacs_home: Path
) -> None:
    app = build_app(archive, Config(), graphics=HALFCELL, theme="reading-room")
    async with app.run_test(size=SIZE) as pilot:
        await open_current(pilot)
        await pilot.press("m")
        screen = await priors_screen(pilot)
        title = str(screen.query_one("#priors-title").render())
        assert title == f"Priors of {fmt.MASK}" and "PRIOR" not in title
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, ViewerScreen), "the viewer")

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help")
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        help_rows = [row for _, section in help_screen.sections() for row in section]
        assert any(keys == "P" and "priors" in text for keys, text in help_rows)


async def test_a_remapped_key_opens_the_priors(archive: Archive, tuipacs_home: Path) -> None:
    """[keys] priors = "ctrl+o": the named action moves to another key."""
    app = build_app(archive, Config(keys={"priors": "ctrl+o"}), graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        await open_current(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(pilot.app.screen, PriorsScreen), "the priors")


async def test_a_node_that_does_not_answer_is_one_line(
    archive: Archive, studies: dict[str, PriorStudy], tuipacs_home: Path
) -> None:
    """The first configured node refuses the connection: the local priors are listed, the
    node's line says what failed; no crash, no traceback."""
    node = {"ae_title": "NOBODY", "host": "127.0.0.1", "port": free_port(), "timeout": 5}
    app = build_app(archive, Config(nodes={"pacs": node}), graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        viewer = await open_current(pilot)
        finder = viewer.priors
        await until(pilot, lambda: finder.node_line.startswith("pacs: "), "the node's line")
        assert "query failed" in finder.node_line and "\n" not in finder.node_line
        assert "Traceback" not in finder.node_line
        assert len(finder.priors) == 2
        screen = await priors_screen(pilot)
        assert "pacs: query failed" in str(screen.query_one("#priors-status").render())
