"""Priors against a real Orthanc on 127.0.0.1: opening a local study lists the prior found
only on the node (by Patient ID through the client seam), not the study of the same Patient
ID with another issuer nor another patient's; Enter fetches it with progress and it is then
in the archive, listed as both here and on the node, and Enter opens it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apphelpers import HALFCELL, SIZE, open_study, until, watch_of
from helpers import require_binary
from peers import OrthancPeer, build_bindshim, find_orthanc, start_orthanc
from priorskit import PriorStudy, write_study
from textual.message import Message

from tuipacs.app.app import build_app
from tuipacs.app.messages import RetrieveFinished, RetrieveProgressed
from tuipacs.app.screens.priors import PriorsScreen
from tuipacs.config import Config
from tuipacs.remote import config_clients
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.store.query import get_study

pytestmark = pytest.mark.net

WAIT = 30.0
"""A hang bound for a real peer under load, not a speed bound."""


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PriorStudy]:
    """P1's current CT chest and its MR brain prior; P1 with issuer OTHER: a CT chest; P2: a
    CT chest. Each P1 study carries the issuer HOSP so that the node answers one."""
    folder = tmp_path_factory.mktemp("priors-data")
    return {
        "current": write_study(folder, patient_id="P1", issuer="HOSP", date="20240315",
                               description="CT CHEST", body_part="CHEST", seed=1),
        "prior": write_study(folder, patient_id="P1", issuer="HOSP", date="20230110",
                             description="CT THORAX", body_part="CHEST", seed=2, images=3),
        "issuer": write_study(folder, patient_id="P1", issuer="OTHER", date="20240314",
                              description="CT CHEST", seed=3),
        "other": write_study(folder, patient_id="P2", date="20240310", description="CT CHEST",
                             name="OTHER^PATIENT", seed=4),
    }  # fmt: skip


@pytest.fixture(scope="module")
def orthanc(
    tmp_path_factory: pytest.TempPathFactory, studies: dict[str, PriorStudy]
) -> Iterator[OrthancPeer]:
    """A private Orthanc on 127.0.0.1 holding every study (stopped by PID)."""
    shim = build_bindshim(tmp_path_factory.mktemp("priors-shim"), require_binary("cc"))
    binary = find_orthanc()
    if binary is None:
        require_binary("Orthanc")
    files = [path for study in studies.values() for path in study.files]
    peer = start_orthanc(tmp_path_factory.mktemp("priors-orthanc"), files, shim, binary)
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def local(tmp_path: Path, studies: dict[str, PriorStudy]) -> Iterator[Archive]:
    """A local archive holding only the current study."""
    archive = Archive.open(tmp_path / "archive")
    assert import_paths(archive, studies["current"].files).added == 2
    yield archive
    archive.close()


def node_config(peer: OrthancPeer) -> Config:
    """The peer as node "pacs" (C-GET)."""
    node = {"ae_title": peer.aet, "host": "127.0.0.1", "port": peer.dicom_port, "timeout": 15}
    return Config(nodes={"pacs": node})


async def test_opening_a_study_lists_the_prior_on_the_node_and_fetches_it(
    orthanc: OrthancPeer, studies: dict[str, PriorStudy], local: Archive, tuipacs_home: Path
) -> None:
    prior = studies["prior"]
    assert get_study(local, prior.uid) is None
    # the node does answer the study of issuer OTHER to a query by Patient ID, with its
    # issuer (else leaving it out would prove nothing)
    client = config_clients(node_config(orthanc), local)("pacs")
    keys = {"PatientID": "P1", "IssuerOfPatientID": "", "StudyInstanceUID": ""}
    answers = {r.get("StudyInstanceUID"): r for r in client.find(keys=keys)}
    assert answers[studies["issuer"].uid].get("IssuerOfPatientID") == "OTHER"
    seen: list[Message] = []
    app = build_app(local, node_config(orthanc), graphics=HALFCELL, theme="reading-room")

    def hook(message: Message) -> None:
        seen.append(message)
        watch(message)

    watch = watch_of(app)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        viewer = await open_study(pilot, row=0)
        finder = viewer.priors
        await until(pilot, lambda: finder.node_line != "asking pacs…", "the node", WAIT)
        assert finder.node_line == "1 on pacs", finder.node_line
        # the node holds four studies: the current one is left out, the same Patient ID with
        # the issuer OTHER is another patient, P2 is another patient
        assert [p.candidate.study_uid for p in finder.priors] == [prior.uid]
        await pilot.press("P")
        await until(pilot, lambda: isinstance(pilot.app.screen, PriorsScreen), "the priors")
        screen = pilot.app.screen
        assert isinstance(screen, PriorsScreen)
        row = [str(cell) for cell in screen.table.get_row_at(0)]
        assert row == ["2023-01-10", "CT", "CT THORAX", "3", "node", "CT CHEST, 1 y 2 m earlier"]

        await pilot.press("enter")  # on the node only: fetch it
        await until(pilot, lambda: finder.last_result is not None, "the fetch to end", WAIT)
        result = finder.last_result
        assert result is not None and result.ok, result
        assert (result.node, result.study_uid, result.completed) == ("pacs", prior.uid, 3)
        assert any(isinstance(m, RetrieveProgressed) for m in seen)  # progress was shown
        assert any(isinstance(m, RetrieveFinished) for m in seen)
        study = get_study(local, prior.uid)
        assert study is not None and study.num_instances == 3
        await until(pilot, lambda: str(screen.table.get_row_at(0)[4]) == "both", "here and there")

        await pilot.press("enter")  # here now: Enter shows it beside the study

        def beside() -> bool:
            panes = viewer.panes
            return len(panes) == 2 and panes[1].study.study_uid == prior.uid

        await until(pilot, lambda: pilot.app.screen is viewer and beside(), "the prior beside")
