"""Send from the browser to a real Orthanc on 127.0.0.1: ``u`` lists the configured nodes,
Enter sends the highlighted series (series table) or the whole study with a progress bar,
and Orthanc's REST API then holds the study with the right number of instances; a node
that refuses the connection is one line, never a traceback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apphelpers import HALFCELL, SIZE, browser_listed, until
from helpers import free_port, require_binary
from peers import OrthancPeer, build_bindshim, find_orthanc, start_orthanc
from textual.pilot import Pilot
from textual.widgets import OptionList

from tuipacs.app.app import build_app
from tuipacs.app.screens.send import SendScreen
from tuipacs.config import Config
from tuipacs.remote import PacsClient, SendResult, config_clients
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_series, list_studies

pytestmark = pytest.mark.net

WAIT = 60.0
"""A hang bound for a send (a real peer may be slow under load), not a speed bound."""
MR = 3
"""The demo MR (two series of 24 images) is the fourth study in the table."""


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[OrthancPeer]:
    """A private, empty Orthanc (stopped by PID)."""
    (tmp_path / "shim").mkdir()
    shim = build_bindshim(tmp_path / "shim", require_binary("cc"))
    binary = find_orthanc()
    if binary is None:
        require_binary("Orthanc")
    peer = start_orthanc(tmp_path / "orthanc", [], shim, binary)
    try:
        yield peer
    finally:
        peer.stop()


def orthanc_instances(peer: OrthancPeer, study_uid: str) -> int:
    """How many instances Orthanc holds for ``study_uid`` (0 when it has not the study)."""
    found = peer.rest("POST", "/tools/lookup", study_uid.encode())
    assert isinstance(found, list)
    ids = [item["ID"] for item in found if item["Type"] == "Study"]
    if not ids:
        return 0
    instances = peer.rest("GET", f"/studies/{ids[0]}/instances")
    assert isinstance(instances, list)
    return len(instances)


async def send_from(
    pilot: Pilot[Any], row: int, series_table: bool = False, wait: bool = True
) -> SendScreen:
    """``u`` on study ``row`` (on its first series with ``series_table``), Enter on the
    first node; the list once the send has ended (with ``wait``, else at once)."""
    browser = await browser_listed(pilot)
    browser.studies.move_cursor(row=row)
    await until(pilot, lambda: bool(browser.series), "the series")
    (browser.series_panel.table if series_table else browser.studies).focus()
    await pilot.press("u")
    await until(pilot, lambda: isinstance(pilot.app.screen, SendScreen), "the send list")
    screen = pilot.app.screen
    assert isinstance(screen, SendScreen)
    assert screen.query_one(OptionList).highlighted == 0
    await pilot.press("enter")
    if wait:
        await until(pilot, lambda: screen.finished, "the send", WAIT)
    return screen


class HeldClient:
    """The real client of a node, whose send stops after its third file until ``gate`` is
    set (when ``hold`` is set): the test presses Esc while the send is surely mid-way."""

    def __init__(self, client: PacsClient, gate: threading.Event, hold: threading.Event) -> None:
        self.client, self.gate, self.hold = client, gate, hold

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def send(self, paths: Any, *, progress: Any = None, cancel: Any = None) -> SendResult:
        def held(done: int, total: int) -> None:
            progress(done, total)
            if done == 3 and self.hold.is_set():
                assert self.gate.wait(WAIT)

        return self.client.send(paths, progress=held, cancel=cancel)


async def test_send_a_series_then_the_study_to_orthanc(
    orthanc: OrthancPeer, archive: Archive, tuipacs_home: Path
) -> None:
    """A series, then the study cancelled at its third file, then the whole study."""
    study = list_studies(archive)[MR].study_uid
    series = list_series(archive, study)
    assert len(series) == 2
    first, total = series[0].num_instances, sum(s.num_instances for s in series)
    node = {"ae_title": orthanc.aet, "host": "127.0.0.1", "port": orthanc.dicom_port}
    config = Config(nodes={"pacs": {**node, "timeout": 15}})
    gate, hold = threading.Event(), threading.Event()
    real = config_clients(config, archive)
    app = build_app(
        archive,
        config,
        graphics=HALFCELL,
        theme="reading-room",
        clients=lambda name: HeldClient(real(name), gate, hold),
    )
    async with app.run_test(size=SIZE) as pilot:
        screen = await send_from(pilot, MR, series_table=True)
        assert screen.line == f"{first} of {first} sent to pacs", screen.line
        assert screen.ok and screen.done == first
        assert orthanc_instances(orthanc, study) == first
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, SendScreen), "closed")
        status = str(pilot.app.screen.query_one("#browser-status").render())
        assert status == screen.line

        hold.set()
        screen = await send_from(pilot, MR, wait=False)
        await until(pilot, lambda: screen.done >= 3, "three files sent")
        await pilot.press("escape")  # cancels; the list stays
        assert screen.line == "cancelling the send…"
        gate.set()
        await until(pilot, lambda: screen.finished, "the cancel", WAIT)
        assert screen.line == f"3 of {total} sent to pacs (cancelled)", screen.line
        assert not screen.ok and isinstance(pilot.app.screen, SendScreen)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, SendScreen), "closed")

        hold.clear()
        screen = await send_from(pilot, MR)
        assert screen.line == f"{total} of {total} sent to pacs", screen.line
    assert orthanc_instances(orthanc, study) == total


async def test_a_node_that_refuses_is_one_line(archive: Archive, tuipacs_home: Path) -> None:
    node = {"ae_title": "GONE", "host": "127.0.0.1", "port": free_port(), "timeout": 5}
    app = build_app(archive, Config(nodes={"gone": node}), graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        screen = await send_from(pilot, 1)  # the one-image DX
        line = screen.line
        assert line.startswith("not sent to gone: connection refused by 127.0.0.1:"), line
        assert "\n" not in line and "Traceback" not in line
        assert not screen.ok and isinstance(pilot.app.screen, SendScreen)


async def test_no_configured_node_says_how_to_add_one(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        await browser_listed(pilot)
        await pilot.press("u")
        await until(pilot, lambda: isinstance(pilot.app.screen, SendScreen), "the send list")
        screen = pilot.app.screen
        assert isinstance(screen, SendScreen)
        assert screen.line.startswith("no nodes configured: add one with 'tuipacs node add")
        await pilot.press("enter", "escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, SendScreen), "closed")
