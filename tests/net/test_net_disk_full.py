"""Retrieve into a full disk: ends with one clear line and a non-zero exit, never hangs.

Finding 7: a write error while receiving aborted the association and the retrieve then
waited forever for the next DIMSE message (3 of 3 runs hung). Here ``tuipacs retrieve``
runs with its archive on a 6 MB tmpfs (peers.tmpfs_prefix) and asks a private Orthanc
for a 12 MB study, by C-GET and by C-MOVE.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port, require_binary
from peers import OrthancPeer, find_orthanc, make_ct_study, start_orthanc, tmpfs_prefix

#: The transport under test goes to the command too (see scripts/test.sh).
TRANSPORT = {k: v for k, v in os.environ.items() if k == "TUIPACS_TRANSPORT"}

#: The node's timeout (seconds): every wait of the retrieve ends within it.
NODE_TIMEOUT = 10
#: The retrieve must be over well within this (it used to hang forever).
WALL_LIMIT = 60


@pytest.fixture(scope="module")
def big_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Path]]:
    """A 24-slice 512x512 CT (12 MB)."""
    return make_ct_study(tmp_path_factory.mktemp("big-ct"), slices=24)


@pytest.fixture(scope="module")
def move_port() -> int:
    """The port of our C-MOVE receiver (Orthanc knows it)."""
    return free_port()


@pytest.fixture(scope="module")
def orthanc_big(
    tmp_path_factory: pytest.TempPathFactory,
    shim: Path,
    big_study: tuple[str, list[Path]],
    move_port: int,
) -> Iterator[OrthancPeer]:
    """A private Orthanc holding the big study (stopped by PID)."""
    binary = find_orthanc()
    if binary is None:
        require_binary("Orthanc")
    peer = start_orthanc(
        tmp_path_factory.mktemp("orthanc-big"),
        big_study[1],
        shim,
        binary,
        {"tuipacs": ("TUIPACS", "127.0.0.1", move_port)},
    )
    try:
        yield peer
    finally:
        peer.stop()


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_into_a_full_disk_ends_with_one_line(
    tmp_path: Path,
    orthanc_big: OrthancPeer,
    big_study: tuple[str, list[Path]],
    move_port: int,
    method: str,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'ae_title = "TUIPACS"\nport = {move_port}\n'
        f'[nodes.pacs]\nae_title = "{orthanc_big.aet}"\nhost = "127.0.0.1"\n'
        f"port = {orthanc_big.dicom_port}\ntimeout = {NODE_TIMEOUT}\n",
        encoding="utf-8",
    )
    command = [
        *tmpfs_prefix(home / "archive", 6),
        sys.executable,
        "-m",
        "tuipacs",
        "retrieve",
        "pacs",
        "--study",
        big_study[0],
        "--method",
        method,
    ]
    env = {"TUIPACS_HOME": str(home), "PATH": "/usr/bin:/bin", **TRANSPORT}
    start = time.monotonic()
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=WALL_LIMIT, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the retrieve into a full disk did not end within {WALL_LIMIT} s")
    seconds = time.monotonic() - start
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "tuipacs: error: the archive's disk is full ("
    ), lines
    assert "free space there, then retrieve again" in lines[0]
    assert seconds < 2 * NODE_TIMEOUT + 10, f"took {seconds:.1f} s"
