"""Query, retrieve (with progress and cancel) and open, in the TUI, against an in-process
``tuipacs serve`` on port 0 holding the demo studies: the App is given its client factory
(tuipacs.remote), so no Orthanc is needed."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from apphelpers import HALFCELL, HANG, SIZE, settle, until, watch_of, workers_done
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, ProgressBar

from tuipacs import audit
from tuipacs.app.app import TuipacsApp, build_app
from tuipacs.app.messages import RetrieveProgressed
from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.screens.query import QueryScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.config import Config
from tuipacs.remote import (
    CheckStep,
    ClientFactory,
    EchoResult,
    Level,
    PacsClient,
    ProgressCallback,
    QueryRow,
    RetrieveProgress,
    RetrieveResult,
    Root,
    SendProgressCallback,
    SendResult,
    config_clients,
)
from tuipacs.server import ArchiveServer
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_series, list_studies

AET = "REMOTE"


@pytest.fixture(scope="module")
def remote(archive_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``tuipacs serve`` in this process on 127.0.0.1, port 0, over a copy of the demo archive
    (CT of 20 slices, DX, MR with two series, US); stopped at the end."""
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


def node_config(server: ArchiveServer) -> Config:
    """A config that knows the in-process server as node "remote" (C-GET)."""
    node = {"ae_title": AET, "host": "127.0.0.1", "port": server.port, "timeout": 15}
    return Config(nodes={"remote": node})


def study_of(server: ArchiveServer, modality: str) -> tuple[str, int]:
    """(Study Instance UID, images) of the served demo study with ``modality``."""
    archive = server.archive
    (study,) = [s for s in list_studies(archive) if modality in s.modalities.split("\\")]
    return study.study_uid, sum(s.num_instances for s in list_series(archive, study.study_uid))


class Recorder:
    """A message hook keeping every message, and waking ``apphelpers.until`` as usual."""

    def __init__(self, app: TuipacsApp) -> None:
        self.watch = watch_of(app)
        self.messages: list[Message] = []

    def __call__(self, message: Message) -> None:
        self.messages.append(message)
        self.watch(message)

    def progress(self) -> list[RetrieveProgress]:
        """The retrieve progress the remote panel was told of, in order."""
        return [m.progress for m in self.messages if isinstance(m, RetrieveProgressed)]


def browser(pilot: Pilot[Any]) -> BrowserScreen:
    """The browser screen."""
    screen = pilot.app.screen
    assert isinstance(screen, BrowserScreen)
    return screen


async def query(pilot: Pilot[Any], count: int) -> DataTable[Any]:
    """Open the query form with ``r``, ask the first node for every study, wait for
    ``count`` rows."""
    await workers_done(pilot)
    await pilot.press("r")
    await until(pilot, lambda: isinstance(pilot.app.screen, QueryScreen), "the query form")
    pilot.app.screen.query_one("#q-name", Input).focus()
    await pilot.press("enter")
    screen = browser(pilot)
    table = screen.query_one("#remote", DataTable)
    await until(pilot, lambda: table.row_count == count, f"{count} remote rows")
    return table


def errors(pilot: Pilot[Any]) -> list[str]:
    """The messages of the error notifications shown so far."""
    return [n.message for n in pilot.app._notifications if n.severity == "error"]


async def test_query_retrieve_with_progress_and_open(
    remote: ArchiveServer, local: Archive, tuipacs_home: Path
) -> None:
    """r lists the served studies; g retrieves the MR into the local archive, the bar follows
    its progress to the end, the study is listed and Enter opens it in the viewer; the
    retrieve is in the local archive's audit log."""
    mr_uid, mr_images = study_of(remote, "MR")
    cfg = node_config(remote)
    app = build_app(
        local, cfg, graphics=HALFCELL, theme="reading-room", clients=config_clients(cfg, local)
    )
    recorder = Recorder(app)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        table = await query(pilot, 4)
        screen = browser(pilot)
        assert not errors(pilot)
        uids = [row.study_uid for row in screen.remote_rows]
        assert mr_uid in uids and table.get_row_at(uids.index(mr_uid))[0] == ""

        table.move_cursor(row=uids.index(mr_uid))
        await pilot.press("g")
        await until(pilot, lambda: screen.last_summary is not None, "the retrieve to end")
        summary = screen.last_summary
        assert summary is not None and summary.ok, summary
        assert summary.completed == mr_images and summary.node == "remote"
        steps = recorder.progress()
        assert steps and steps[-1].completed == steps[-1].total == mr_images
        assert [s.completed for s in steps] == sorted(s.completed for s in steps)
        bar = screen.query_one("#retrieve-progress", ProgressBar)
        assert (bar.total, bar.progress) == (mr_images, mr_images)
        assert not bar.display
        assert f"{mr_images} received, 0 failed" in [n.message for n in app._notifications]

        await until(
            pilot, lambda: mr_uid in [r.study_uid for r in screen.shown], "the study listed"
        )
        assert table.get_row_at(uids.index(mr_uid))[0] == "✓"
        studies = screen.query_one("#studies", DataTable)
        studies.move_cursor(row=[r.study_uid for r in screen.shown].index(mr_uid))
        studies.focus()
        await pilot.press("enter")
        await settle(pilot)
        viewer = pilot.app.screen
        assert isinstance(viewer, ViewerScreen)
        assert viewer.study.study_uid == mr_uid
        assert viewer.frame is not None and viewer.message == ""
        assert len(viewer.series) == 2

    lines = [
        line for line in audit.read(local.root / audit.FILE_NAME) if line["event"] == "retrieve"
    ]
    assert [(line["node"], line["study_uid"], line["received"]) for line in lines] == [
        ("remote", mr_uid, mr_images)
    ]


class Hold:
    """Where the retrieves of a test stop: after their first image, until ``release``."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()


class HeldRetrieve:
    """A client that holds its retrieve after the first image until the test lets it go:
    the real client underneath, on the real server, paused at a known point so that the
    cancel lands mid-transfer whatever the machine's speed."""

    def __init__(self, inner: PacsClient, hold: Hold) -> None:
        self.inner = inner
        self.hold = hold

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def address(self) -> str:
        return self.inner.address

    def echo(self) -> EchoResult:
        return self.inner.echo()

    def find(
        self,
        level: Level = "study",
        root: Root = "study",
        keys: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> list[QueryRow]:
        return self.inner.find(level, root, keys, limit)

    def retrieve(
        self,
        study_uid: str,
        series_uids: Sequence[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> RetrieveResult:
        def held(state: RetrieveProgress) -> None:
            if progress is not None:
                progress(state)
            if state.completed and not self.hold.held.is_set():
                self.hold.held.set()
                self.hold.release.wait(HANG)

        return self.inner.retrieve(study_uid, series_uids, progress=held, cancel=cancel)

    def send(
        self,
        paths: Sequence[Path],
        *,
        progress: SendProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> SendResult:
        return self.inner.send(paths, progress=progress, cancel=cancel)

    def check(self) -> list[CheckStep]:
        return self.inner.check()


def holding(clients: ClientFactory, hold: Hold) -> ClientFactory:
    """A factory of HeldRetrieve clients over ``clients``."""

    def factory(node: str) -> PacsClient:
        return HeldRetrieve(clients(node), hold)

    return factory


async def test_cancel_a_running_retrieve(
    remote: ArchiveServer, local: Archive, tuipacs_home: Path
) -> None:
    """x while the CT is arriving cancels it: the result says cancelled, fewer images than
    the study landed, the bar goes away and a later g fetches the rest."""
    ct_uid, ct_images = study_of(remote, "CT")
    cfg = node_config(remote)
    hold = Hold()
    factory = holding(config_clients(cfg, local), hold)
    app = build_app(local, cfg, graphics=HALFCELL, theme="reading-room", clients=factory)
    async with app.run_test(size=SIZE) as pilot:
        table = await query(pilot, 4)
        screen = browser(pilot)
        uids = [row.study_uid for row in screen.remote_rows]
        table.move_cursor(row=uids.index(ct_uid))
        try:
            await pilot.press("g")
            await until(pilot, lambda: screen.remote.done >= 1, "the first image")
            assert hold.held.is_set()
            bar = screen.query_one("#retrieve-progress", ProgressBar)
            assert bar.display and bar.total == ct_images
            await pilot.press("x")
            assert screen.cancel_event is not None and screen.cancel_event.is_set()
        finally:
            hold.release.set()
        await until(pilot, lambda: screen.last_summary is not None, "the retrieve to end")
        summary = screen.last_summary
        assert summary is not None and summary.study_uid == ct_uid
        assert summary.cancelled and not summary.ok
        assert 1 <= summary.completed < ct_images
        assert not screen.query_one("#retrieve-progress").display
        assert screen.cancel_event is None
        assert any(n.message.endswith("(cancelled)") for n in app._notifications)
        stored = sum(s.num_instances for s in list_series(local, ct_uid))
        assert stored == summary.completed

        await pilot.press("g")  # again, to the end: what is here is skipped
        await until(pilot, lambda: screen.last_summary is not summary, "the second retrieve")
        again = screen.last_summary
        assert again is not None and again.ok, again
        assert again.completed + again.skipped == ct_images
        assert sum(s.num_instances for s in list_series(local, ct_uid)) == ct_images
