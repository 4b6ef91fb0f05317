"""SIGKILL of `tuipacs retrieve` mid-transfer: the index and the files still agree, and a
second retrieve completes.

A retrieve answers each C-STORE as soon as the file is in the archive's staging folder and
commits files in batches (tuipacs.remote.archive_sink). Here the process is killed at a
(seeded) random moment once the first batch is indexed, by C-GET and by C-MOVE from a
private Orthanc: afterwards no indexed row lacks its file, no file sits in place without a
row, nothing is left pending or staged, and the next retrieve fetches the rest.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port, require_binary
from peers import OrthancPeer, find_orthanc, make_ct_study, start_orthanc

from tuipacs.store.archive import Archive

#: The transport under test goes to the command too (see scripts/test.sh).
TRANSPORT = {k: v for k, v in os.environ.items() if k == "TUIPACS_TRANSPORT"}
SLICES = 400
WALL_LIMIT = 120


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Path]]:
    """A 400-slice 256x256 CT (52 MB): long enough to be killed mid-transfer."""
    return make_ct_study(tmp_path_factory.mktemp("kill-ct"), slices=SLICES, size=256)


@pytest.fixture(scope="module")
def move_port() -> int:
    """The port of our C-MOVE receiver (Orthanc knows it)."""
    return free_port()


@pytest.fixture(scope="module")
def orthanc_kill(
    tmp_path_factory: pytest.TempPathFactory,
    shim: Path,
    study: tuple[str, list[Path]],
    move_port: int,
) -> Iterator[OrthancPeer]:
    """A private Orthanc holding the study (stopped by PID)."""
    binary = find_orthanc()
    if binary is None:
        require_binary("Orthanc")
    peer = start_orthanc(
        tmp_path_factory.mktemp("orthanc-kill"),
        study[1],
        shim,
        binary,
        {"tuipacs": ("TUIPACS", "127.0.0.1", move_port)},
    )
    try:
        yield peer
    finally:
        peer.stop()


def _indexed(index: Path) -> int:
    """Rows in the index (0 while it is being created or locked)."""
    if not index.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM instance").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize(("method", "seed"), [("get", 1), ("move", 2)])
def test_sigkill_mid_retrieve_leaves_index_and_files_in_agreement(
    tmp_path: Path,
    orthanc_kill: OrthancPeer,
    study: tuple[str, list[Path]],
    move_port: int,
    method: str,
    seed: int,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'ae_title = "TUIPACS"\nport = {move_port}\n'
        f'[nodes.pacs]\nae_title = "{orthanc_kill.aet}"\nhost = "127.0.0.1"\n'
        f"port = {orthanc_kill.dicom_port}\ntimeout = 20\n",
        encoding="utf-8",
    )
    env = {"TUIPACS_HOME": str(home), "PATH": "/usr/bin:/bin", **TRANSPORT}
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    command = [
        sys.executable, "-m", "tuipacs", "retrieve", "pacs", "--study", study[0],
        "--method", method, "--json",
    ]  # fmt: skip
    index = home / "archive" / "index.sqlite"
    delay = random.Random(seed).uniform(0.0, 0.15)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + WALL_LIMIT
        while proc.poll() is None and time.monotonic() < deadline and _indexed(index) == 0:
            time.sleep(0.005)
        time.sleep(delay)
        assert proc.poll() is None, "the retrieve ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    archive = Archive.open(home / "archive")  # recovers what the dead writer left
    try:
        report = archive.verify()
        assert report.ok, report  # no row without its file, no file in place without a row
        indexed = archive.usage().instances
        assert 1 <= indexed < SLICES
        assert not archive.connection().execute("SELECT 1 FROM pending").fetchone()
        staged = [p for p in (home / "archive" / "tmp").rglob("*") if p.is_file()]
        assert [p for p in staged if p.name != ".lock"] == []
    finally:
        archive.close()

    again = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=WALL_LIMIT, check=False
    )
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["ok"] and result["skipped"] == indexed
    assert result["completed"] == SLICES - indexed
    archive = Archive.open(home / "archive")
    try:
        assert archive.usage().instances == SLICES
        assert archive.verify().ok
    finally:
        archive.close()
