"""The Storage SCP refuses an impossible image with a failure status, as import does.

A real ``tuipacs serve`` (subprocess, stopped by PID) receives the hostile files from DCMTK's
dcmsend and from pynetdicom; the server answers 0xC000 (cannot understand), indexes
nothing, logs one line naming the problem, and goes on serving.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_pixels import BUILDERS
from pydicom import dcmread
from serve.servekit import (
    ServerProcess,
    dcmsend,
    indexed_uids,
    pynetdicom_store,
    wait_indexed,
    write_config,
)

REFUSED = {
    "rle16-huge": "image is 65535 x 65535 x 16-bit = 8.0 GiB per frame, over the 1 GiB decode",
    "rle8-huge": "image is 65535 x 65535 x 8-bit = 4.0 GiB per frame, over the 1 GiB decode",
    "native-short": "pixel data is 1000 bytes but 512 x 512 x 16-bit needs 512.0 KiB",
    "many-frames": "2147483647 frames of 64 x 64 x 16-bit needs 16.0 TiB",
    "rle-many-frames": "Number of Frames is 2147483647 but the compressed pixel data holds only 1",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("decode-scp-home")
    write_config(home, 'ae_title = "TUIPACS"\n')
    process = ServerProcess.start(home)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile-scp")
    return {name: BUILDERS[name](folder) for name in [*REFUSED, "jpeg-huge"]}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_scp_answers_a_failure_status(
    name: str, server: ServerProcess, hostile: dict[str, Path]
) -> None:
    path = hostile[name]
    uid = str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)
    assert pynetdicom_store(server.port, path) == 0xC000
    assert uid not in indexed_uids(server.archive_root)
    refusals = [line for line in server.log.splitlines() if uid in line and "refusing" in line]
    assert len(refusals) == 1 and REFUSED[name] in refusals[0]
    assert server.alive()


def test_dcmsend_is_told_and_goes_on_with_the_next_file(
    server: ServerProcess, hostile: dict[str, Path]
) -> None:
    """DCMTK sends the refused files and a good one in one association: each refused file
    gets a failure status, the good one is stored."""
    good = hostile["jpeg-huge"]  # a possible header: stored (decoding it fails later)
    files = [hostile[name] for name in sorted(REFUSED)] + [good]
    run = dcmsend(server.port, files, "-v")
    output = run.stdout + run.stderr
    statuses = [line for line in output.splitlines() if "Received C-STORE Response" in line]
    assert len(statuses) == len(files), output
    assert all("Error: CannotUnderstand" in line for line in statuses[:-1]), output
    assert "(Success)" in statuses[-1]
    assert f"with status ERROR    : {len(REFUSED)}" in output
    uid = str(dcmread(good, stop_before_pixels=True).SOPInstanceUID)
    assert uid in wait_indexed(server.archive_root, 1)
    refused = {str(dcmread(hostile[n], stop_before_pixels=True).SOPInstanceUID) for n in REFUSED}
    assert not refused & indexed_uids(server.archive_root)
    assert server.alive()
