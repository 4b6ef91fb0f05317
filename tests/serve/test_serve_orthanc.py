"""Orthanc (the archive) pushes a study to ``tuipacs serve`` by C-MOVE."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import free_port, require_binary
from peers import OrthancPeer, SyntheticArchive, build_bindshim, find_orthanc
from servekit import LOOPBACK, ServerProcess, dcmtk, run, wait_indexed, write_config

pytestmark = pytest.mark.net


def test_orthanc_moves_a_study_to_us(tmp_path: Path, serve_data: SyntheticArchive) -> None:
    binary = find_orthanc() or require_binary("Orthanc")
    shim = build_bindshim(tmp_path, require_binary("cc"))
    home = tmp_path / "home"
    write_config(home, 'ae_title = "TUIPACS"\n')
    server = ServerProcess.start(home)
    orthanc = OrthancPeer(
        tmp_path / "orthanc",
        dicom_port=free_port(),
        http_port=free_port(),
        modalities={"tuipacs": ("TUIPACS", LOOPBACK, server.port)},
        shim=shim,
        binary=binary,
    )
    try:
        orthanc.start()
        chest = serve_data.study("CT CHEST")
        orthanc.load(p for p in serve_data.files if any(s.uid in p.name for s in chest.series))
        keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={chest.uid}"]
        args = [dcmtk("movescu"), "-S", "-aec", orthanc.aet, "-aem", "TUIPACS", *keys]
        result = run([*args, LOOPBACK, str(orthanc.dicom_port)])
        assert result.returncode == 0, result.stderr
        expected = {u for s in chest.series for u in s.instance_uids}
        assert wait_indexed(server.archive_root, len(expected)) == expected
        assert server.wait_log("ORTHANC@127.0.0.1"), server.log[-2000:]
    finally:
        orthanc.stop()
        server.stop()
