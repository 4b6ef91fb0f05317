"""`tuipacs send` against DCMTK storescp, a real, independent Storage SCP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from helpers import free_port, require_binary
from pydicom.data import get_testdata_file


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    binary = require_binary("storescp")
    port = free_port()
    out = tmp_path / "received"
    out.mkdir()
    env = dict(os.environ, TCP_NODELAY="1")
    proc = subprocess.Popen(
        [binary, "--aetitle", "STORESCP", "--output-directory", str(out), "+xa", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        import socket

        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port, out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", *args], capture_output=True, text=True, timeout=120
    )


def test_send_files_as_stored(
    tuipacs_home: Path, storescp: tuple[int, Path], tmp_path: Path
) -> None:
    port, out = storescp
    names = [
        "CT_small.dcm",
        "MR_small.dcm",
        "JPEG2000.dcm",
        "emri_small_RLE.dcm",
        "SC_rgb_jpeg_gdcm.dcm",
    ]
    files = [Path(get_testdata_file(n)) for n in names]
    junk = tmp_path / "junk.txt"
    junk.write_text("not dicom")
    result = run_cli("send", f"STORESCP@127.0.0.1:{port}", *map(str, files), str(junk), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["sent"] == len(files) and summary["skipped"] == 1
    received = {pydicom.dcmread(p).SOPInstanceUID: p for p in out.iterdir()}
    for original in files:
        ds = pydicom.dcmread(original)
        stored = pydicom.dcmread(received[ds.SOPInstanceUID])
        assert stored.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
        assert stored.PixelData == ds.PixelData  # bytes as sent: no transcoding


def test_send_to_nothing_is_one_clear_line(tuipacs_home: Path) -> None:
    port = free_port()
    result = run_cli("send", f"NOBODY@127.0.0.1:{port}", get_testdata_file("CT_small.dcm"))
    assert result.returncode == 1
    assert result.stderr.startswith("tuipacs: error: connection refused")
    assert len(result.stderr.strip().splitlines()) == 1


def _import_demo_like(tmp_path: Path) -> tuple[str, list[str], dict[str, str]]:
    """Import two series of one synthetic study into the archive; (study UID, series UIDs,
    SOP UID -> series UID)."""
    from pydicom.uid import generate_uid

    study = generate_uid()
    series = [generate_uid(), generate_uid()]
    folder = tmp_path / "in"
    folder.mkdir()
    sops: dict[str, str] = {}
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for s_index, series_uid in enumerate(series):
        for n in range(3):
            ds = base.copy()
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series_uid
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.SeriesNumber, ds.InstanceNumber = s_index + 1, n + 1
            ds.save_as(folder / f"{s_index}-{n}.dcm")
            sops[ds.SOPInstanceUID] = series_uid
    done = run_cli("import", str(folder))
    assert done.returncode == 0, done.stderr
    return study, series, sops


def test_send_a_study_from_the_archive(
    tuipacs_home: Path, storescp: tuple[int, Path], tmp_path: Path
) -> None:
    port, out = storescp
    study, series, sops = _import_demo_like(tmp_path)
    node = f"STORESCP@127.0.0.1:{port}"
    result = run_cli("send", node, "--study", study, "--series", series[1], "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sent"] == 3
    received = {pydicom.dcmread(p).SOPInstanceUID for p in out.iterdir()}
    assert received == {sop for sop, uid in sops.items() if uid == series[1]}
    result = run_cli("send", node, "--study", study, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sent"] == 6
    received = {pydicom.dcmread(p).SOPInstanceUID for p in out.iterdir()}
    assert received == set(sops)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--study", "1.2.3.4"], "not in the archive"),
        (["--series", "1.2.3.4"], "--series needs --study"),
        ([], "give files or folders to send, or --study"),
    ],
)
def test_send_from_the_archive_errors_are_one_line(
    tuipacs_home: Path, args: list[str], says: str
) -> None:
    result = run_cli("send", f"NOBODY@127.0.0.1:{free_port()}", *args)
    assert result.returncode != 0
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_send_a_series_not_in_the_study_is_one_line(tuipacs_home: Path, tmp_path: Path) -> None:
    study, _, _ = _import_demo_like(tmp_path)
    result = run_cli(
        "send", f"NOBODY@127.0.0.1:{free_port()}", "--study", study, "--series", "1.2.3"
    )
    assert result.returncode != 0
    assert "is not in study" in result.stderr and len(result.stderr.strip().splitlines()) == 1
