"""The browser's remote query and retrieve against a real Orthanc on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from apphelpers import HALFCELL, SIZE, until
from helpers import free_port, require_binary
from peers import (
    OrthancPeer,
    SyntheticArchive,
    build_bindshim,
    find_dcmtk,
    find_orthanc,
    make_test_data,
    start_orthanc,
)
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, ProgressBar

from tuipacs.app.app import ServeSettings, build_app
from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.screens.query import QueryScreen
from tuipacs.config import Config
from tuipacs.store.archive import Archive

pytestmark = pytest.mark.net

WAIT = 30.0


@pytest.fixture(scope="module")
def test_data(tmp_path_factory: pytest.TempPathFactory) -> SyntheticArchive:
    """The synthetic studies loaded into the peer (small: 4 slices in the big series)."""
    return make_test_data(tmp_path_factory.mktemp("remote-data"), big_slices=4)


@pytest.fixture(scope="module")
def orthanc(
    tmp_path_factory: pytest.TempPathFactory, test_data: SyntheticArchive
) -> Iterator[OrthancPeer]:
    """A private Orthanc on 127.0.0.1 loaded with the test data (stopped by PID)."""
    shim = build_bindshim(tmp_path_factory.mktemp("remote-shim"), require_binary("cc"))
    binary = find_orthanc()
    if binary is None:
        require_binary("Orthanc")
    peer = start_orthanc(tmp_path_factory.mktemp("remote-orthanc"), test_data.files, shim, binary)
    try:
        yield peer
    finally:
        peer.stop()


def node_config(peer: OrthancPeer) -> Config:
    """A config that knows the peer as node "pacs" (C-GET, 15 s timeout)."""
    node = {"ae_title": peer.aet, "host": "127.0.0.1", "port": peer.dicom_port, "timeout": 15}
    return Config(nodes={"pacs": node})


async def wait_for(pilot: Pilot[object], what: str, test: object) -> None:
    """Wait (on the app's messages) until ``test()`` is true; fail naming ``what`` after
    WAIT seconds (a real peer may be slow under load: a hang bound, not a speed bound)."""
    assert callable(test)
    await until(pilot, test, what, WAIT)


async def submit_query(pilot: Pilot[object], **fields: str) -> None:
    """Open the query form with ``r``, fill ``fields`` (input id: value) and press Enter."""
    await pilot.press("r")
    await wait_for(pilot, "the query form", lambda: isinstance(pilot.app.screen, QueryScreen))
    form = pilot.app.screen
    for input_id, value in fields.items():
        form.query_one(f"#{input_id}", Input).value = value
    form.query_one("#q-name", Input).focus()
    await pilot.press("enter")
    await wait_for(pilot, "the form to close", lambda: isinstance(pilot.app.screen, BrowserScreen))


def browser(pilot: Pilot[object]) -> BrowserScreen:
    """The browser screen."""
    screen = pilot.app.screen
    assert isinstance(screen, BrowserScreen)
    return screen


def errors(pilot: Pilot[object]) -> list[str]:
    """The messages of the error notifications shown so far."""
    return [n.message for n in pilot.app._notifications if n.severity == "error"]


async def test_query_and_retrieve(
    orthanc: OrthancPeer, test_data: SyntheticArchive, archive_copy: Archive, tuipacs_home: Path
) -> None:
    """r queries the node, the rows appear; g retrieves one into the archive and lists it."""
    brain = test_data.study("MR BRAIN")
    assert not archive_copy.has_study(brain.uid)
    app = build_app(archive_copy, node_config(orthanc), graphics=HALFCELL, theme="reading-room")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, "local studies", lambda: browser(pilot).all_studies)
        await submit_query(pilot, **{"q-name": "DOE*"})
        screen = browser(pilot)
        remote = screen.query_one("#remote", DataTable)
        await wait_for(pilot, "remote rows", lambda: remote.row_count == 2)
        uids = [row.study_uid for row in screen.remote_rows]
        assert sorted(uids) == sorted(s.uid for s in test_data.studies[:2])
        assert screen.remote.display and remote.has_focus
        assert not errors(pilot)

        remote.move_cursor(row=uids.index(brain.uid))
        await pilot.press("g")
        await wait_for(pilot, "the retrieve to finish", lambda: screen.last_summary is not None)
        summary = screen.last_summary
        assert summary.ok, summary.errors
        assert summary.completed == brain.instance_count
        bar = screen.query_one("#retrieve-progress", ProgressBar)  # bound to the panel
        assert (bar.total, bar.progress) == (brain.instance_count, brain.instance_count)
        assert (screen.remote.total, screen.remote.done) == (bar.total, bar.progress)
        assert archive_copy.has_study(brain.uid)
        await wait_for(
            pilot, "the study in the list", lambda: brain.uid in [r.study_uid for r in screen.shown]
        )
        row = uids.index(brain.uid)
        assert remote.get_row_at(row)[0] == "✓"
        messages = [n.message for n in pilot.app._notifications]
        assert f"{brain.instance_count} received, 0 failed" in messages
        await pilot.press("escape")
        await wait_for(pilot, "the remote results to hide", lambda: not screen.remote.display)


async def test_refused_connection(archive: Archive, tuipacs_home: Path) -> None:
    """A node with nothing listening gives one line of error, no traceback, no remote rows."""
    app = build_app(archive, Config(), graphics=HALFCELL, theme="reading-room")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, "local studies", lambda: browser(pilot).all_studies)
        await submit_query(pilot, **{"q-spec": f"NOBODY@127.0.0.1:{free_port()}"})
        await wait_for(pilot, "an error notification", lambda: errors(pilot))
        (message,) = errors(pilot)
        assert message.startswith("query failed:")
        assert "\n" not in message and "Traceback" not in message
        assert not browser(pilot).remote.display


async def test_query_form_needs_a_node(archive: Archive, tuipacs_home: Path) -> None:
    """Without configured nodes and no AE@host:port, Enter keeps the form open with a hint."""
    app = build_app(archive, Config(), graphics=HALFCELL, theme="reading-room")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_for(pilot, "the query form", lambda: isinstance(pilot.app.screen, QueryScreen))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(pilot.app.screen, QueryScreen)
        await pilot.press("escape")
        await wait_for(pilot, "the browser", lambda: isinstance(pilot.app.screen, BrowserScreen))


async def test_live_arrivals(
    test_data: SyntheticArchive, archive_copy: Archive, tuipacs_home: Path
) -> None:
    """With serve on, a file sent by DCMTK storescu shows up in the browser by itself."""
    storescu = find_dcmtk("storescu")
    if storescu is None:
        require_binary("storescu (DCMTK)")
    assert storescu is not None
    sent = test_data.files[0]
    study_uid = str(pydicom.dcmread(sent, stop_before_pixels=True).StudyInstanceUID)
    assert not archive_copy.has_study(study_uid)
    port = free_port()
    serve = ServeSettings(aet="TUIPACS", port=port, bind="127.0.0.1")
    app = build_app(archive_copy, Config(), graphics=HALFCELL, theme="reading-room", serve=serve)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, "local studies", lambda: browser(pilot).all_studies)
        assert app.server is not None and app.server.port == port
        proc = await asyncio.create_subprocess_exec(
            storescu,
            "-aet",
            "SENDER",
            "-aec",
            "TUIPACS",
            "127.0.0.1",
            str(port),
            str(sent),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(proc.communicate(), WAIT)
        assert proc.returncode == 0, output.decode(errors="replace")
        screen = browser(pilot)
        await wait_for(
            pilot,
            "the sent study in the list",
            lambda: study_uid in [r.study_uid for r in screen.shown],
        )
        assert archive_copy.has_study(study_uid)
    assert app.server is None


async def test_help_lists_remote_keys(archive: Archive, tuipacs_home: Path) -> None:
    """The browser's help screen documents the query, retrieve and cancel keys."""
    from tuipacs.app.screens.help import HelpScreen, keys_table

    app = build_app(archive, Config(), graphics=HALFCELL, theme="reading-room")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, "the help screen", lambda: isinstance(pilot.app.screen, HelpScreen))
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        titles = [title for title, _rows in help_screen.sections()]
        assert "Remote node" in titles
        assert keys_table(help_screen.sections()).row_count > 5


async def test_cancel_retrieve(
    orthanc: OrthancPeer, test_data: SyntheticArchive, archive_copy: Archive, tuipacs_home: Path
) -> None:
    """x right after g cancels: the summary says cancelled and the bar goes away."""
    abdomen = test_data.study("CT ABDOMEN")
    app = build_app(archive_copy, node_config(orthanc), graphics=HALFCELL, theme="reading-room")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, "local studies", lambda: browser(pilot).all_studies)
        await submit_query(pilot, **{"q-id": "TP002"})
        screen = browser(pilot)
        remote = screen.query_one("#remote", DataTable)
        await wait_for(pilot, "remote rows", lambda: remote.row_count == 1)
        screen.action_retrieve()
        screen.action_cancel_retrieve()
        assert screen.cancel_event is not None and screen.cancel_event.is_set()
        await wait_for(pilot, "the retrieve to finish", lambda: screen.last_summary is not None)
        summary = screen.last_summary
        assert summary.study_uid == abdomen.uid
        assert summary.cancelled and not summary.ok
        assert summary.completed < abdomen.instance_count
        assert not screen.query_one("#retrieve-progress").display
        assert screen.cancel_event is None
