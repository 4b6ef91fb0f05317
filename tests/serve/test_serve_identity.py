"""Identity rules through ``tuipacs serve`` with real DCMTK peers: a series or study reused
by another patient is refused (0xC001) and quarantined, a different object with an archived
SOP Instance UID gets a warning (0xB001), and nothing is mixed for getscu or eviction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from identity_files import write_image
from pydicom import dcmread
from servekit import (
    AET,
    LOOPBACK,
    ServerProcess,
    dcmsend,
    dcmtk,
    index_rows,
    instance_path,
    run,
    wait_indexed,
    write_config,
)

from tuipacs.store.archive import Archive
from tuipacs.store.identity import same_dataset

pytestmark = pytest.mark.net

S1, S2 = "1.2.826.0.1.3680043.8.498.111", "1.2.826.0.1.3680043.8.498.112"
X, Y, Z = (f"1.2.826.0.1.3680043.8.498.21{n}" for n in (1, 2, 3))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for this module."""
    home = tmp_path_factory.mktemp("identity-home")
    write_config(home, 'ae_title = "TUIPACS"\n')
    process = ServerProcess.start(home)
    try:
        yield process
    finally:
        process.stop()


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m tuipacs`` on the server's TUIPACS_HOME."""
    env = dict(os.environ, TUIPACS_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def statuses(result: subprocess.CompletedProcess[str]) -> list[int]:
    """The C-STORE response statuses dcmsend -d reported, in order."""
    return [
        int(line.split(":")[2].strip(), 16)
        for line in (result.stdout + result.stderr).splitlines()
        if "DIMSE Status" in line
    ]


def _wait_sop(root: Path, sop: str, timeout: float = 20.0) -> bool:
    """Wait until the index holds ``sop`` (indexing follows the answer by up to a second)."""
    deadline = time.monotonic() + timeout
    while not index_rows(root, "SELECT 1 FROM instance WHERE sop_uid = ?", (sop,)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _quarantine(home: Path) -> list[dict[str, object]]:
    result = cli(home, "quarantine", "--json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_series_of_another_patient_is_refused_and_nothing_is_mixed(
    server: ServerProcess, tmp_path: Path
) -> None:
    s1 = [
        write_image(tmp_path / "s1" / f"{n}.dcm", patient_id="P1", study=S1, series=X, seed=n)
        for n in range(2)
    ]
    own = write_image(tmp_path / "s2" / "own.dcm", patient_id="P2", study=S2, series=Y, seed=5)
    reuse = write_image(tmp_path / "s2" / "reuse.dcm", patient_id="P2", study=S2, series=X, seed=6)
    assert dcmsend(server.port, s1).returncode == 0
    assert len(wait_indexed(server.archive_root, 2)) == 2
    result = dcmsend(server.port, [own, reuse], "-d")
    assert statuses(result) == [0x0000, 0xC001], result.stdout
    assert len(wait_indexed(server.archive_root, 3)) == 3

    entries = _quarantine(server.home)
    assert [(e["kind"], e["sop_uid"], e["other_uid"]) for e in entries] == [
        ("series", dcmread(reuse).SOPInstanceUID, S1)
    ]
    assert str(entries[0]["source"]).startswith("C-STORE from DCMSEND")
    assert server.wait_log(f"series {X} already belongs to study {S1}"), server.log[-2000:]
    assert "P2" not in server.log and "TEST^PATIENT" not in server.log

    for study, expected in ((S1, 2), (S2, 1)):
        listed = json.loads(cli(server.home, "ls", "--study", study, "--json").stdout)
        assert sum(s["num_instances"] for s in listed) == expected

    out = tmp_path / "got"
    out.mkdir()
    got = run(
        [dcmtk("getscu"), "-S", "-aec", AET, "-od", str(out), "-k", "QueryRetrieveLevel=STUDY"]
        + ["-k", f"StudyInstanceUID={S1}", LOOPBACK, str(server.port)]
    )
    assert got.returncode == 0, got.stderr
    received = [dcmread(p) for p in out.iterdir()]
    assert sorted(d.SOPInstanceUID for d in received) == sorted(
        dcmread(p).SOPInstanceUID for p in s1
    )
    assert {d.PatientID for d in received} == {"P1"}

    kept = [instance_path(server.archive_root, dcmread(p).SOPInstanceUID) for p in s1]
    archive = Archive.open(server.archive_root)  # another process, as `cache --evict` is
    try:
        assert archive.delete_study(S2) > 0
        assert all(p.exists() for p in kept)
        assert archive.verify().ok
    finally:
        archive.close()


def test_study_of_another_patient_is_refused(server: ServerProcess, tmp_path: Path) -> None:
    first = write_image(tmp_path / "1.dcm", patient_id="P7", study=S1 + ".7", series=Z, seed=1)
    other = write_image(tmp_path / "2.dcm", patient_id="P8", study=S1 + ".7", series=Z + ".8")
    result = dcmsend(server.port, [first, other], "-d")
    assert statuses(result) == [0x0000, 0xC001], result.stdout
    assert server.wait_log(f"study {S1}.7 already belongs to another patient"), server.log[-2000:]
    assert "P8" not in server.log
    rows = index_rows(
        server.archive_root,
        "SELECT count(*) FROM quarantine WHERE kind = 'study' AND study_uid = ?",
        (S1 + ".7",),
    )
    assert rows == [(1,)]


def test_different_object_with_an_archived_sop_uid_gets_a_warning(
    server: ServerProcess, tmp_path: Path
) -> None:
    sop = "1.2.826.0.1.3680043.8.498.601"
    first = write_image(
        tmp_path / "a.dcm", patient_id="P9", study=S2 + ".9", series=Z + ".9", sop=sop, seed=1
    )
    other = write_image(
        tmp_path / "b.dcm", patient_id="P9", study=S2 + ".9", series=Z + ".9", sop=sop, seed=2
    )
    assert statuses(dcmsend(server.port, [first], "-d")) == [0x0000]
    result = dcmsend(server.port, [other], "-d")
    assert statuses(result) == [0xB001], result.stdout
    assert "with status WARNING  : 1" in result.stdout + result.stderr
    assert server.wait_log(f"a different object with SOP Instance UID {sop} is already archived"), (
        server.log[-2000:]
    )
    # the same object again is a plain success, not a warning, and nothing more is kept
    assert statuses(dcmsend(server.port, [first], "-d")) == [0x0000]
    assert statuses(dcmsend(server.port, [other], "-d")) == [0xB001]
    assert _wait_sop(server.archive_root, sop)
    rows = index_rows(
        server.archive_root, "SELECT kind, times FROM quarantine WHERE sop_uid = ?", (sop,)
    )
    assert rows == [("instance", 2)]
    assert same_dataset(instance_path(server.archive_root, sop), first)  # the first is kept


def test_retrieve_refuses_a_series_of_another_local_study(
    server: ServerProcess, tmp_path: Path
) -> None:
    """C-GET from a remote (here another tuipacs serve) into a local archive whose index
    says the series belongs elsewhere: the sink refuses, the CLI reports, nothing mixes."""
    s3, s4 = S1 + ".3", S1 + ".4"
    w1, w2 = Z + ".31", Z + ".32"
    remote = [
        write_image(tmp_path / "r" / "1.dcm", patient_id="Q2", study=s3, series=w1, seed=31),
        write_image(tmp_path / "r" / "2.dcm", patient_id="Q2", study=s3, series=w1, seed=32),
        write_image(tmp_path / "r" / "3.dcm", patient_id="Q2", study=s3, series=w2, seed=33),
    ]
    assert dcmsend(server.port, remote).returncode == 0
    for path in remote:
        assert _wait_sop(server.archive_root, dcmread(path).SOPInstanceUID)
    home = tmp_path / "local"
    write_config(
        home,
        'ae_title = "LOCALWS"\n'
        f'[nodes.remote]\nae_title = "{AET}"\nhost = "{LOOPBACK}"\nport = {server.port}\n',
    )
    local = write_image(tmp_path / "l" / "1.dcm", patient_id="Q1", study=s4, series=w2, seed=41)
    assert cli(home, "import", str(local)).returncode == 0

    result = cli(home, "retrieve", "remote", "--study", s3)
    assert result.returncode == 1
    assert f"refused: series {w2} already belongs to study {s4}" in result.stderr
    assert "Q2" not in result.stderr + result.stdout
    entries = _quarantine(home)
    assert [(e["kind"], e["sop_uid"], e["source"]) for e in entries] == [
        ("series", dcmread(remote[2]).SOPInstanceUID, "retrieve from remote")
    ]
    for study, expected in ((s3, 2), (s4, 1)):
        listed = json.loads(cli(home, "ls", "--study", study, "--json").stdout)
        assert sum(s["num_instances"] for s in listed) == expected


def test_the_same_object_again_is_not_logged_as_stored(tmp_path: Path) -> None:
    """A duplicate is answered 0x0000 but the log says it was already archived (it said
    "stored", though nothing new was kept)."""
    home = tmp_path / "home"
    home.mkdir()
    write_config(home, 'ae_title = "TUIPACS"\n')
    image = write_image(tmp_path / "d.dcm", patient_id="P10", study=S2 + ".10", series=Z + ".10")
    process = ServerProcess.start(home)
    try:
        assert statuses(dcmsend(process.port, [image], "-d")) == [0x0000]
        assert process.wait_log(": 1 stored, 0 already archived, 0 failed"), process.log[-2000:]
        assert statuses(dcmsend(process.port, [image], "-d")) == [0x0000]
        assert process.wait_log(": 0 stored, 1 already archived, 0 failed"), process.log[-2000:]
        assert len(wait_indexed(process.archive_root, 1)) == 1
    finally:
        process.stop()
