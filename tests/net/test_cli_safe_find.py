"""Issue 12, finding 3: values a real remote archive (a private Orthanc on 127.0.0.1)
returns to ``tuipacs find`` reach the terminal without their escape sequences, C1
controls, newlines or bidi overrides; ``find --json`` keeps them exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port, require_binary
from hostile_text import HostileStudy, unsafe_characters, write_hostile_study
from peers import OrthancPeer, find_orthanc

from tuipacs.safe_text import PLACEHOLDER

pytestmark = pytest.mark.net


@pytest.fixture(scope="module")
def hostile_study(tmp_path_factory: pytest.TempPathFactory) -> HostileStudy:
    """The hostile study (every text field carries the payload)."""
    return write_hostile_study(tmp_path_factory.mktemp("hostile-find"))


@pytest.fixture(scope="module")
def hostile_orthanc(
    tmp_path_factory: pytest.TempPathFactory, shim: Path, hostile_study: HostileStudy
) -> Iterator[OrthancPeer]:
    """A private Orthanc holding only the hostile study, answering in UTF-8 (so that the
    bidi characters come back too; stopped by PID)."""
    binary = find_orthanc()
    if binary is None:
        require_binary("Orthanc")
    peer = OrthancPeer(
        tmp_path_factory.mktemp("hostile-orthanc"),
        dicom_port=free_port(),
        http_port=free_port(),
        shim=shim,
        binary=binary,
        extra={"DefaultEncoding": "Utf8"},
    )
    try:
        peer.start()
        peer.load(hostile_study.files)
        yield peer
    finally:
        peer.stop()


def find(home: Path, peer: OrthancPeer, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``python -m tuipacs find ORTHANC@127.0.0.1:PORT ARGS`` with its output as bytes."""
    env = {**os.environ, "TUIPACS_HOME": str(home)}
    env.pop("TUIPACS_DEBUG", None)
    node = f"{peer.aet}@127.0.0.1:{peer.dicom_port}"
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", "find", node, *args],
        capture_output=True,
        env=env,
        timeout=120,
    )


def test_find_prints_no_control_from_the_peer(
    tuipacs_home: Path, hostile_orthanc: OrthancPeer, hostile_study: HostileStudy
) -> None:
    # the peer does answer with the raw values (else this test would prove nothing)
    answer = find(tuipacs_home, hostile_orthanc, "--json")
    assert answer.returncode == 0, answer.stderr.decode(errors="replace")
    rows = [r["dicom"] for r in json.loads(answer.stdout)]
    assert [r["StudyInstanceUID"] for r in rows] == [hostile_study.study_uid]
    assert rows[0]["StudyDescription"] == hostile_study.values["StudyDescription"]
    assert rows[0]["PatientID"] == hostile_study.values["PatientID"]
    assert str(rows[0]["PatientName"]) == hostile_study.values["PatientName"]
    # --json: the values exact, and no raw control, C1 or bidi character in the document
    assert b"\x1b" not in answer.stdout
    assert [c for c in unsafe_characters(answer.stdout.decode()) if c != "\n"] == []

    queries = [
        ("--level", "study"),
        ("--level", "series", "-k", f"StudyInstanceUID={hostile_study.study_uid}"),
        ("--level", "patient", "--root", "patient"),
    ]
    for args in queries:
        result = find(tuipacs_home, hostile_orthanc, *args)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        output = result.stdout + result.stderr
        assert b"\x1b" not in output
        text = output.decode("utf-8")
        assert [c for c in unsafe_characters(text) if c != "\n"] == []
        lines = result.stdout.decode().splitlines()
        assert len(lines) == 2, lines  # the header and the one match: no forged line
        assert PLACEHOLDER in lines[1]
