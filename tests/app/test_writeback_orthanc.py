"""Write-back against a real Orthanc on 127.0.0.1: the demo CT is in the local archive and
in Orthanc, its node recorded as the one it came from; ``*`` and a length then ``W`` store
a KOS and a GSPS locally and send them to the node in one step, and Orthanc's REST API
shows a KO and a PR series in the study."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apphelpers import HALFCELL, SIZE, open_study, settle, until
from helpers import require_binary
from peers import OrthancPeer, build_bindshim, find_orthanc, start_orthanc

from tuipacs.app.app import build_app
from tuipacs.config import Config
from tuipacs.store.archive import Archive
from tuipacs.store.expected import record_expected
from tuipacs.store.query import list_instances, list_series, list_studies

pytestmark = pytest.mark.net

WAIT = 60.0
"""A hang bound for the send (a real peer may be slow under load), not a speed bound."""
CT = 0


def ct_files(archive: Archive) -> tuple[str, list[Path]]:
    """The demo CT study's UID and its files."""
    study = list_studies(archive)[CT].study_uid
    files = [
        row.path
        for series in list_series(archive, study)
        for row in list_instances(archive, series.series_uid)
    ]
    return study, files


@pytest.fixture
def orthanc(tmp_path: Path, archive_copy: Archive) -> Iterator[OrthancPeer]:
    """A private Orthanc holding the demo CT (stopped by PID)."""
    (tmp_path / "shim").mkdir()
    shim = build_bindshim(tmp_path / "shim", require_binary("cc"))
    binary = find_orthanc()
    if binary is None:
        require_binary("Orthanc")
    _study, files = ct_files(archive_copy)
    peer = start_orthanc(tmp_path / "orthanc", files, shim, binary)
    try:
        yield peer
    finally:
        peer.stop()


def orthanc_series(peer: OrthancPeer, study_uid: str) -> list[str]:
    """The modalities of the series Orthanc holds for ``study_uid``."""
    found = peer.rest("POST", "/tools/lookup", study_uid.encode())
    assert isinstance(found, list) and found, found
    study_id = next(item["ID"] for item in found if item["Type"] == "Study")
    series = peer.rest("GET", f"/studies/{study_id}/series")
    assert isinstance(series, list)
    return sorted(item["MainDicomTags"].get("Modality", "") for item in series)


async def test_write_back_sends_kos_and_gsps_to_the_study_node(
    orthanc: OrthancPeer, archive_copy: Archive, tuipacs_home: Path
) -> None:
    study, files = ct_files(archive_copy)
    assert orthanc_series(orthanc, study) == ["CT"]
    assert record_expected(archive_copy, study, len(files), "pacs")
    node = {"ae_title": orthanc.aet, "host": "127.0.0.1", "port": orthanc.dicom_port}
    config = Config(nodes={"pacs": {**node, "timeout": 15}})
    app = build_app(archive_copy, config, graphics=HALFCELL, theme="reading-room")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("asterisk", "M", "enter", "shift+right", "enter", "escape")
        await settle(pilot)
        await pilot.press("W")
        await until(pilot, lambda: not screen.writing_back, "the write-back", WAIT)
        assert screen.writeback_line == (
            "saved a KOS of 1 key image and 1 GSPS (1 image measured); sent 2 to pacs"
        )
    assert orthanc_series(orthanc, study) == ["CT", "KO", "PR"]


async def test_an_unreachable_node_is_one_line_and_keeps_the_objects(
    archive_copy: Archive, tuipacs_home: Path
) -> None:
    from helpers import free_port

    study, files = ct_files(archive_copy)
    assert record_expected(archive_copy, study, len(files), "gone")
    node = {"ae_title": "GONE", "host": "127.0.0.1", "port": free_port(), "timeout": 5}
    app = build_app(archive_copy, Config(nodes={"gone": node}), graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("asterisk", "W")
        await until(pilot, lambda: not screen.writing_back, "the write-back", WAIT)
        line = screen.writeback_line
        assert line.startswith("saved a KOS of 1 key image; not sent to gone: "), line
        assert "\n" not in line and "Traceback" not in line
    modalities = [s.modality for s in list_series(archive_copy, study)]
    assert "KO" in modalities
