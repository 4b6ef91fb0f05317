"""Bad input, concurrent senders and shutdown of ``tuipacs serve`` (a subprocess)."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import SyntheticArchive, make_ct_study
from pydicom import dcmread
from servekit import (
    AET,
    LOOPBACK,
    ServerProcess,
    dcmtk,
    echo_ok,
    indexed_uids,
    pynetdicom_store,
    store_then_abort,
    tool_env,
    wait_indexed,
    write_config,
)

from tuipacs.store.archive import Archive

pytestmark = pytest.mark.net


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the bad-input tests."""
    home = tmp_path_factory.mktemp("robust-home")
    write_config(home, 'ae_title = "TUIPACS"\n')
    process = ServerProcess.start(home)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Six 256x256 CT slices (128 KB each: several PDUs)."""
    return make_ct_study(tmp_path_factory.mktemp("ct"), slices=6, size=256)[1]


def _leftovers(root: Path) -> list[Path]:
    """Files in the spool and inbox folders (lock files excepted)."""
    return [
        p
        for folder in (root / "tmp", root / "inbox")
        for p in folder.rglob("*")
        if p.is_file() and p.name != ".lock"
    ]


def test_garbage_bytes_do_not_stop_the_server(server: ServerProcess) -> None:
    payloads = [
        b"\x00" * 10,
        random.Random(7).randbytes(5000),
        b"GET / HTTP/1.0\r\n\r\n",
        b"\x01\x00\x00\x00\x00\x40" + b"x" * 64,  # an A-ASSOCIATE-RQ full of junk
        b"\x04\x00\x00\x00\x10\x00",  # a P-DATA before any association, then silence
    ]
    for payload in payloads:
        with socket.create_connection((LOOPBACK, server.port), timeout=5) as sock:
            sock.sendall(payload)
            sock.settimeout(0.5)
            try:
                sock.recv(1024)
            except OSError:
                pass
    assert server.alive()
    assert echo_ok(server.port)


def test_abort_mid_store_keeps_nothing(server: ServerProcess, ct: list[Path]) -> None:
    uid = dcmread(ct[0], stop_before_pixels=True).SOPInstanceUID
    store_then_abort(server.port, ct[0], pdus=3)
    time.sleep(0.5)
    assert uid not in indexed_uids(server.archive_root)
    assert _leftovers(server.archive_root) == []
    assert server.alive()
    assert pynetdicom_store(server.port, ct[0]) == 0x0000
    assert uid in wait_indexed(server.archive_root, 1)


def test_unparseable_datasets_are_refused(
    server: ServerProcess, ct: list[Path], tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.dcm"
    data = ct[1].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.dcm"
    meta_end = data.index(b"\x08\x00", 200)  # the dataset starts at group 0008
    garbage.write_bytes(data[:meta_end] + random.Random(3).randbytes(3000))
    before = indexed_uids(server.archive_root)
    for bad in (truncated, garbage):
        assert pynetdicom_store(server.port, bad) == 0xC000, bad.name
    time.sleep(0.3)
    assert indexed_uids(server.archive_root) == before
    assert _leftovers(server.archive_root) == []
    assert server.alive()


def _verify(root: Path, expected: set[str]) -> None:
    """The archive after shutdown: consistent, exactly the expected instances."""
    archive = Archive.open(root)
    try:
        report = archive.verify()
        assert report.ok, report
        assert archive.usage().instances == len(expected)
        assert indexed_uids(root) == expected
    finally:
        archive.close()
    assert _leftovers(root) == []
    assert not list((root / "tmp").glob("scp-*"))


def test_concurrent_senders_then_sigterm(
    tmp_path: Path, serve_data: SyntheticArchive, compressed_files: list[Path]
) -> None:
    server = ServerProcess.start(tmp_path / "home")
    try:
        files = [*serve_data.files, *compressed_files]
        shuffled = random.Random(1).sample(files, len(files))
        orders = [files, files[::-1], shuffled, files[5:] + files[:5]]
        senders = [
            subprocess.Popen(
                [dcmtk("dcmsend"), "-aec", AET, LOOPBACK, str(server.port), *map(str, order)],
                env=tool_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for order in orders
        ]
        for sender in senders:
            _, err = sender.communicate(timeout=60)
            assert sender.returncode == 0, err
        assert server.signal(signal.SIGINT) == 0  # Ctrl-C ends it as cleanly as SIGTERM
    finally:
        server.stop()
    expected = {dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in files}
    _verify(server.archive_root, expected)
    assert server.wait_log("shutting down"), server.log[-2000:]
    assert "MÜLLER" not in server.log and "TP00" not in server.log  # no names or IDs


def test_sigterm_while_receiving(tmp_path: Path) -> None:
    files = make_ct_study(tmp_path / "data", slices=40, size=256)[1]
    server = ServerProcess.start(tmp_path / "home")
    try:
        sender = subprocess.Popen(
            [dcmtk("dcmsend"), "-aec", AET, LOOPBACK, str(server.port), *map(str, files)],
            env=tool_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_indexed(server.archive_root, 1)
        assert server.signal(signal.SIGTERM) == 0
        sender.wait(timeout=60)
    finally:
        server.stop()
    stored = indexed_uids(server.archive_root)
    sent = {dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in files}
    assert stored and stored <= sent
    if sender.returncode == 0:  # every instance was acknowledged, so every one is kept
        assert stored == sent
    _verify(server.archive_root, stored)
    archive = Archive.open(server.archive_root)
    try:
        for uid in stored:
            path = archive.instance_path(uid)
            assert path is not None
            assert len(dcmread(path).PixelData) == 256 * 256 * 2
    finally:
        archive.close()


def test_sigkill_then_restart_loses_nothing_acknowledged(tmp_path: Path) -> None:
    files = make_ct_study(tmp_path / "data", slices=60, size=256)[1]
    home = tmp_path / "home"
    server = ServerProcess.start(home)
    sender = subprocess.Popen(
        [dcmtk("dcmsend"), "-v", "-aec", AET, LOOPBACK, str(server.port), *map(str, files)],
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        # wait until some instances are acknowledged but not yet indexed (in the inbox)
        while len(list((home / "archive" / "inbox").rglob("*.dcm"))) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        server.signal(signal.SIGKILL)
        output, _ = sender.communicate(timeout=60)
    finally:
        server.stop()
    acknowledged = output.count("Received C-STORE Response (Success)")
    restarted = ServerProcess.start(home)  # adopts the dead server's inbox, recovers its spool
    try:
        stored = wait_indexed(restarted.archive_root, acknowledged)
        assert len(stored) >= acknowledged > 0
        assert restarted.wait_log("received before the last shutdown"), restarted.log[-2000:]
    finally:
        restarted.stop()
    sent = {dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in files}
    assert stored <= sent
    _verify(restarted.archive_root, stored)
