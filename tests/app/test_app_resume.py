"""A study retrieved only in part is marked in the browser (Images ``!n/N``: here / what the
node said) and ``c`` retrieves the rest from the node it came from, against an in-process
``tuipacs serve`` holding the demo studies (the App is given its client factory): once all
images are here the mark goes away. Tests wait on the app's messages, never sleep."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apphelpers import HALFCELL, SIZE, until
from test_app_query_retrieve import Hold, browser, holding, node_config, query, study_of
from textual.pilot import Pilot
from textual.widgets import DataTable

from tuipacs.app.app import build_app
from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.screens.help import HelpScreen
from tuipacs.config import Config
from tuipacs.remote import config_clients
from tuipacs.server import ArchiveServer
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_instances, list_series

AET = "REMOTE"  # node_config's AE title


@pytest.fixture(scope="module")
def remote(archive_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``tuipacs serve`` in this process on 127.0.0.1, port 0, over a copy of the demo
    archive (its CT has 20 slices); stopped at the end."""
    root = tmp_path_factory.mktemp("remote") / "archive"
    shutil.copytree(archive_template, root)
    archive = Archive.open(root)
    server = ArchiveServer(archive, Config(), aet=AET, port=0, bind="127.0.0.1").start()
    try:
        yield server
    finally:
        server.stop()
        archive.close()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Archive]:
    """An empty local archive."""
    archive = Archive.open(tmp_path / "local")
    yield archive
    archive.close()


def images(screen: BrowserScreen, study_uid: str) -> str:
    """The Images cell of a study in the browser's study table ("" if not listed)."""
    if study_uid not in [row.study_uid for row in screen.shown]:
        return ""
    return str(screen.studies.get_cell(study_uid, "images"))


def here(archive: Archive, study_uid: str) -> int:
    """Images of the study in ``archive``."""
    return sum(s.num_instances for s in list_series(archive, study_uid))


async def complete_with_c(pilot: Pilot[Any], study_uid: str, missing: int, present: int) -> None:
    """Highlight the study, press c, wait for the retrieve to end and the mark to go."""
    screen = browser(pilot)
    table = screen.query_one("#studies", DataTable)
    table.focus()
    table.move_cursor(row=[r.study_uid for r in screen.shown].index(study_uid))
    await until(pilot, lambda: screen.studies.check_action("resume", ()), "c to be offered")
    before = screen.last_summary
    await pilot.press("c")
    await until(pilot, lambda: screen.last_summary is not before, "the retrieve to end")
    summary = screen.last_summary
    assert summary is not None and summary.ok, summary
    assert (summary.node, summary.study_uid) == ("remote", study_uid)
    assert (summary.completed, summary.skipped) == (missing, present)
    total = missing + present
    await until(pilot, lambda: images(screen, study_uid) == str(total), "the mark to go")
    assert not screen.studies.check_action("resume", ())


async def test_c_retrieves_the_rest_of_a_study_present_in_part(
    remote: ArchiveServer, local: Archive, tuipacs_home: Path
) -> None:
    """7 of the CT's 20 images here, the node said 20: the row shows !7/20, the help lists
    c, and c fetches the 13 others from that node (the 7 are skipped); then it shows 20."""
    ct_uid, ct_images = study_of(remote, "CT")
    (series,) = list_series(remote.archive, ct_uid)
    for row in list_instances(remote.archive, series.series_uid)[:7]:
        local.add_file(row.path)
    assert local.record_expected(ct_uid, ct_images, "remote")
    cfg = node_config(remote)
    app = build_app(
        local, cfg, graphics=HALFCELL, theme="reading-room", clients=config_clients(cfg, local)
    )
    async with app.run_test(size=SIZE) as pilot:
        screen = browser(pilot)
        await until(pilot, lambda: images(screen, ct_uid) == f"!7/{ct_images}", "the mark")

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help")
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        rows = dict(help_screen.sections())["Remote node"]
        assert any(keys == "c" and "retrieved only in part" in text for keys, text in rows)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, BrowserScreen), "the browser")

        await complete_with_c(pilot, ct_uid, ct_images - 7, 7)
    assert here(local, ct_uid) == ct_images
    assert local.expected_instances(ct_uid) == ct_images


async def test_a_cancelled_retrieve_is_marked_and_c_completes_it(
    remote: ArchiveServer, local: Archive, tuipacs_home: Path
) -> None:
    """g on the CT, x after its first image: the retrieve itself records the node's count,
    so the study is listed as !n/20 (not as present); c then fetches the rest."""
    ct_uid, ct_images = study_of(remote, "CT")
    cfg = node_config(remote)
    hold = Hold()
    factory = holding(config_clients(cfg, local), hold)
    app = build_app(local, cfg, graphics=HALFCELL, theme="reading-room", clients=factory)
    async with app.run_test(size=SIZE) as pilot:
        table = await query(pilot, 4)
        screen = browser(pilot)
        table.move_cursor(row=[row.study_uid for row in screen.remote_rows].index(ct_uid))
        try:
            await pilot.press("g")
            await until(pilot, hold.held.is_set, "the first image")
            await pilot.press("x")
        finally:
            hold.release.set()
        await until(pilot, lambda: screen.last_summary is not None, "the retrieve to end")
        summary = screen.last_summary
        assert summary is not None and summary.cancelled
        kept = summary.completed
        assert 1 <= kept < ct_images and here(local, ct_uid) == kept
        assert local.expected_instances(ct_uid) == ct_images
        await until(
            pilot, lambda: images(screen, ct_uid) == f"!{kept}/{ct_images}", "the study marked"
        )
        # the node's results mark it as here in part, not as here (it showed a check mark)
        await until(pilot, lambda: marked_here(table, ct_uid) == "!", "the remote row marked")
        await complete_with_c(pilot, ct_uid, ct_images - kept, kept)
        await until(pilot, lambda: marked_here(table, ct_uid) == "✓", "the remote row here")
    assert here(local, ct_uid) == ct_images


def marked_here(table: DataTable[Any], study_uid: str) -> str:
    """The Here cell of a study in the node's results."""
    return str(table.get_cell(study_uid, "local"))
