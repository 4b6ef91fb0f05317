"""The TUI on a DICOMweb node, against a real Orthanc with its DICOMweb plugin on 127.0.0.1:
the browser's query form lists the node's studies (QIDO-RS), `g` retrieves one into the
archive (WADO-RS) with the same progress bar and summary as over DIMSE, and Enter opens it,
as it does for a DIMSE node (tests/app/test_app_query_retrieve.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apphelpers import HALFCELL, SIZE, settle, until, watch_of, workers_done
from helpers import free_port, require_binary
from peers import OrthancPeer, build_bindshim, find_orthanc, make_ct_study, require_dicomweb_plugin
from textual.message import Message
from textual.widgets import DataTable, Input, ProgressBar

from tuipacs.app.app import build_app
from tuipacs.app.messages import RetrieveProgressed
from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.screens.query import QueryScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.config import Config
from tuipacs.remote import config_clients
from tuipacs.remote.dicomweb import DicomWebClient
from tuipacs.store.archive import Archive
from tuipacs.store.query import get_study

pytestmark = pytest.mark.net

SLICES = 12
WAIT = 60.0
"""A hang bound for a real peer on a loaded machine, not a speed bound."""


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OrthancPeer, str]]:
    """Orthanc with DICOMweb holding one 12-slice CT (stopped by PID); (peer, study UID)."""
    plugin = require_dicomweb_plugin()
    binary = find_orthanc()
    if binary is None:
        require_binary("Orthanc")
    shim = build_bindshim(tmp_path_factory.mktemp("web-shim"), require_binary("cc"))
    study_uid, files = make_ct_study(tmp_path_factory.mktemp("web-data"), SLICES, size=64)
    peer = OrthancPeer(
        tmp_path_factory.mktemp("web-orthanc"), free_port(), free_port(), shim=shim,
        binary=binary, plugins=[plugin],
    )  # fmt: skip
    try:
        peer.start()
        peer.load(files)
        yield peer, study_uid
    finally:
        peer.stop()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Archive]:
    """An empty local archive."""
    archive = Archive.open(tmp_path / "local")
    yield archive
    archive.close()


async def test_query_retrieve_and_open_from_a_dicomweb_node(
    web: tuple[OrthancPeer, str], local: Archive, tuipacs_home: Path
) -> None:
    peer, study_uid = web
    cfg = Config(nodes={"pacs": {"url": peer.dicomweb, "timeout": 15}})
    clients = config_clients(cfg, local)
    assert isinstance(clients("pacs"), DicomWebClient), "a URL makes a DICOMweb node"
    app = build_app(local, cfg, graphics=HALFCELL, theme="reading-room", clients=clients)
    seen: list[Message] = []
    watch = watch_of(app)

    def hook(message: Message) -> None:
        seen.append(message)
        watch(message)

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await workers_done(pilot)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(pilot.app.screen, QueryScreen), "the query form")
        pilot.app.screen.query_one("#q-name", Input).focus()
        await pilot.press("enter")
        screen = pilot.app.screen
        assert isinstance(screen, BrowserScreen)
        table = screen.query_one("#remote", DataTable)
        await until(pilot, lambda: table.row_count == 1, "the node's study", timeout=WAIT)
        assert [row.study_uid for row in screen.remote_rows] == [study_uid]

        table.move_cursor(row=0)
        await pilot.press("g")
        await until(
            pilot, lambda: screen.last_summary is not None, "the retrieve to end", timeout=WAIT
        )
        summary = screen.last_summary
        assert summary is not None and summary.ok, summary
        assert summary.completed == SLICES and summary.node == "pacs"
        steps = [m.progress for m in seen if isinstance(m, RetrieveProgressed)]
        assert steps and steps[-1].completed == SLICES
        assert [s.completed for s in steps] == sorted(s.completed for s in steps)
        bar = screen.query_one("#retrieve-progress", ProgressBar)
        assert (bar.total, bar.progress) == (SLICES, SLICES)
        study = get_study(local, study_uid)
        assert study is not None and study.num_instances == SLICES

        await until(
            pilot, lambda: study_uid in [r.study_uid for r in screen.shown], "the study listed"
        )
        studies = screen.query_one("#studies", DataTable)
        studies.move_cursor(row=[r.study_uid for r in screen.shown].index(study_uid))
        studies.focus()
        await pilot.press("enter")
        await settle(pilot)
        viewer = pilot.app.screen
        assert isinstance(viewer, ViewerScreen)
        assert viewer.study.study_uid == study_uid
        assert viewer.frame is not None and viewer.message == ""
        assert viewer.state.count == SLICES
