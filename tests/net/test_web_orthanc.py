"""The DICOMweb client (tuipacs.remote.dicomweb) against a real Orthanc with its DICOMweb
plugin: search at every level, retrieve a study and a series into the archive (the files
byte-equal to Orthanc's, the index right, a second retrieve skips everything), send a study
by STOW-RS, basic auth (right and wrong password), and the CLI on a DICOMweb node."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from helpers import free_port
from peers import (
    OrthancPeer,
    SyntheticArchive,
    find_orthanc,
    make_ct_study,
    require_dicomweb_plugin,
)

from tuipacs.remote import QueryInvalid, RemoteNetError, RetrieveProgress, client_for
from tuipacs.remote.dicomweb import DicomWebClient
from tuipacs.remote.web_node import WebNode
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_series

USER, PASSWORD = "reader", "s3cret-pw"


def _orthanc(workdir: Path, shim: Path, files: list[Path], **extra: object) -> OrthancPeer:
    """A private Orthanc with the DICOMweb plugin, loaded with ``files``."""
    plugin = require_dicomweb_plugin()
    peer = OrthancPeer(
        workdir, free_port(), free_port(), shim=shim, binary=find_orthanc(),
        extra=dict(extra), plugins=[plugin],
    )  # fmt: skip
    try:
        peer.start()
        peer.load(files)
    except BaseException:
        peer.stop()
        raise
    return peer


@pytest.fixture(scope="module")
def web(
    tmp_path_factory: pytest.TempPathFactory, shim: Path, test_data: SyntheticArchive
) -> Iterator[OrthancPeer]:
    """Orthanc with DICOMweb, holding the synthetic studies (stopped by PID)."""
    peer = _orthanc(tmp_path_factory.mktemp("orthanc-web"), shim, test_data.files)
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Archive]:
    """An empty local archive."""
    archive = Archive.open(tmp_path / "local")
    yield archive
    archive.close()


def node(peer: OrthancPeer, **settings: object) -> WebNode:
    """The peer as a DICOMweb node."""
    return WebNode("web", peer.dicomweb, timeout=15, **settings)  # type: ignore[arg-type]


def web_client(peer: OrthancPeer, archive: Archive | None = None) -> DicomWebClient:
    """A client of ``peer`` retrieving into ``archive``."""
    remote = client_for(node(peer), None, archive)  # type: ignore[arg-type]
    assert isinstance(remote, DicomWebClient)
    return remote


def test_echo_and_find_at_every_level(web: OrthancPeer, test_data: SyntheticArchive) -> None:
    remote = web_client(web)
    echo = remote.echo()
    assert echo.ok and echo.address == web.dicomweb and echo.status == "HTTP 200"
    chest = test_data.study("CT CHEST")
    studies = remote.find("study", keys={"PatientID": "TP001"})
    assert {r.get("StudyInstanceUID") for r in studies} == {
        s.uid for s in test_data.studies if s.patient_id == "TP001"
    }
    row = next(r for r in studies if r.get("StudyInstanceUID") == chest.uid)
    assert row.get("PatientName") == chest.patient_name
    assert row.get("StudyDescription") == "CT CHEST"
    assert row.get("NumberOfStudyRelatedInstances") == str(chest.instance_count)
    assert "ReferringPhysicianName" in row.values  # every return key, as a C-FIND row has
    assert "RetrieveURL" not in row.values
    dated = remote.find("study", keys={"StudyDate": f"{chest.date}-{chest.date}"})
    assert [r.get("StudyInstanceUID") for r in dated] == [chest.uid]
    series = remote.find("series", keys={"StudyInstanceUID": chest.uid})
    assert {r.get("SeriesInstanceUID") for r in series} == {s.uid for s in chest.series}
    assert {r.get("Modality") for r in series} == chest.modalities
    first = chest.series[0]
    images = remote.find(
        "image", keys={"StudyInstanceUID": chest.uid, "SeriesInstanceUID": first.uid}
    )
    assert sorted(r.get("SOPInstanceUID") for r in images) == sorted(first.instance_uids)
    assert len(remote.find("study", limit=1)) == 1
    with pytest.raises(QueryInvalid, match="no patient-level search"):
        remote.find("patient", "patient", {"PatientID": "TP001"})
    with pytest.raises(QueryInvalid, match="unknown DICOM keyword"):
        remote.find("study", keys={"NoSuchKeyword": "x"})


def _orthanc_bytes(peer: OrthancPeer, sop_uid: str) -> bytes:
    """The file Orthanc holds for an instance (REST API)."""
    found = peer.rest("POST", "/tools/lookup", sop_uid.encode())
    assert isinstance(found, list) and found
    with urllib.request.urlopen(f"{peer.url}/instances/{found[0]['ID']}/file") as response:
        data: bytes = response.read()
    return data


def test_retrieve_study_byte_equal_then_resume(
    web: OrthancPeer, test_data: SyntheticArchive, local: Archive
) -> None:
    chest = test_data.study("CT CHEST")
    seen: list[RetrieveProgress] = []
    remote = web_client(web, local)
    result = remote.retrieve(chest.uid, progress=seen.append)
    assert result.ok, result.errors
    assert (result.total, result.completed, result.skipped) == (chest.instance_count,) * 2 + (0,)
    assert result.method == "wado-rs" and result.bytes > 0
    assert seen and seen[-1].completed == chest.instance_count
    for series in chest.series:
        for uid in series.instance_uids:
            path = local.instance_path(uid)
            assert path is not None, uid
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert digest == hashlib.sha256(_orthanc_bytes(web, uid)).hexdigest()
    indexed = {s.series_uid: s.num_instances for s in list_series(local, chest.uid)}
    assert indexed == {s.uid: len(s.instance_uids) for s in chest.series}
    again = remote.retrieve(chest.uid)
    assert again.ok and again.completed == 0 and again.skipped == chest.instance_count
    assert again.total == chest.instance_count


def test_retrieve_series_then_the_rest_of_a_partial_series(
    web: OrthancPeer, test_data: SyntheticArchive, local: Archive
) -> None:
    """One series only; then, with one instance of another series deleted from the local
    archive's index, the study: only the missing instances come (instance by instance)."""
    chest = test_data.study("CT CHEST")
    big = max(chest.series, key=lambda s: len(s.instance_uids))
    remote = web_client(web, local)
    result = remote.retrieve(chest.uid, [big.uid])
    assert result.ok and result.completed == len(big.instance_uids) == result.total
    assert {s.series_uid for s in list_series(local, chest.uid)} == {big.uid}
    rest = remote.retrieve(chest.uid)
    assert rest.ok and rest.skipped == len(big.instance_uids)
    assert rest.completed == chest.instance_count - len(big.instance_uids)
    assert all(local.has_instance(u) for s in chest.series for u in s.instance_uids)


def test_retrieve_cancelled_keeps_whole_files_only(
    web: OrthancPeer, test_data: SyntheticArchive, local: Archive
) -> None:
    chest = test_data.study("CT CHEST")
    cancel = threading.Event()
    cancel.set()
    result = web_client(web, local).retrieve(chest.uid, cancel=cancel)
    assert result.cancelled and not result.ok and result.completed == 0
    assert not any(local.has_instance(u) for s in chest.series for u in s.instance_uids)


def test_send_study_by_stow(web: OrthancPeer, tmp_path: Path) -> None:
    study_uid, files = make_ct_study(tmp_path / "new", slices=4, size=32)
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom")
    done: list[tuple[int, int]] = []
    result = web_client(web).send([*files, junk], progress=lambda a, b: done.append((a, b)))
    assert (result.sent, result.failed, result.skipped) == (4, 0, 1)
    assert done[-1] == (4, 4)
    assert result.bytes == sum(f.stat().st_size for f in files)
    studies = web.rest("GET", "/studies?expand")
    assert isinstance(studies, list)
    held = [s for s in studies if s["MainDicomTags"]["StudyInstanceUID"] == study_uid]
    assert len(held) == 1 and len(held[0]["Series"]) == 1
    instances = web.rest("GET", f"/studies/{held[0]['ID']}/instances")
    assert isinstance(instances, list) and len(instances) == 4
    sops = {str(pydicom.dcmread(f).SOPInstanceUID) for f in files}
    assert {i["MainDicomTags"]["SOPInstanceUID"] for i in instances} == sops


@pytest.fixture(scope="module")
def locked(
    tmp_path_factory: pytest.TempPathFactory, shim: Path, test_data: SyntheticArchive
) -> Iterator[OrthancPeer]:
    """Orthanc with DICOMweb behind basic auth."""
    peer = _orthanc(
        tmp_path_factory.mktemp("orthanc-auth"), shim, test_data.files[:3],
        AuthenticationEnabled=True, RegisteredUsers={USER: PASSWORD},
    )  # fmt: skip
    try:
        yield peer
    finally:
        peer.stop()


def test_basic_auth(locked: OrthancPeer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUIPACS_TEST_PW", PASSWORD)
    good = node(locked, auth="basic", user=USER, password_env="TUIPACS_TEST_PW")
    assert client_for(good, None).echo().ok  # type: ignore[arg-type]
    assert client_for(good, None).find("study")  # type: ignore[arg-type]
    for bad in (
        node(locked, auth="basic", user=USER, password="wrong"),
        node(locked),  # no auth at all
    ):
        with pytest.raises(RemoteNetError) as caught:
            client_for(bad, None).echo()  # type: ignore[arg-type]
        message = str(caught.value)
        assert "401" in message and "\n" not in message
        assert bad.auth_line() in message and "wrong" not in message
    monkeypatch.delenv("TUIPACS_TEST_PW")
    with pytest.raises(RemoteNetError, match="TUIPACS_TEST_PW .* is not set"):
        client_for(good, None).echo()  # type: ignore[arg-type]


def run_cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m tuipacs ARGS`` with its own home (a hang fails on the timeout)."""
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", *args], capture_output=True, text=True, timeout=120,
        env={"TUIPACS_HOME": str(home), "PATH": "/usr/bin:/bin", **env},
    )  # fmt: skip


def test_cli_on_a_dicomweb_node(
    web: OrthancPeer, locked: OrthancPeer, test_data: SyntheticArchive, tmp_path: Path
) -> None:
    """node add URL / list / check, echo, find --json, retrieve --json, send, and a wrong
    password: one line, exit code 1."""
    home = tmp_path / "home"
    home.mkdir()
    added = run_cli(home, "node", "add", "web", web.dicomweb + "/")
    assert added.returncode == 0, added.stderr
    listed = json.loads(run_cli(home, "node", "list", "--json").stdout)
    assert listed == [{"name": "web", "url": web.dicomweb}]
    table = run_cli(home, "node", "list").stdout
    assert web.dicomweb in table and "wado-rs" in table
    check = run_cli(home, "node", "check", "web", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert [s["step"] for s in json.loads(check.stdout)] == ["echo", "find", "retrieve (wado-rs)"]
    assert run_cli(home, "echo", "web").returncode == 0
    chest = test_data.study("CT CHEST")
    found = run_cli(home, "find", "web", "-k", "PatientID=TP001", "--json")
    assert found.returncode == 0, found.stderr
    rows = json.loads(found.stdout)
    assert chest.uid in {r["dicom"]["StudyInstanceUID"] for r in rows}
    got = run_cli(home, "retrieve", "web", "--study", chest.uid, "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["completed"] == chest.instance_count
    again = json.loads(run_cli(home, "retrieve", "web", "--study", chest.uid, "--json").stdout)
    assert again["skipped"] == chest.instance_count and again["completed"] == 0
    study_uid, files = make_ct_study(tmp_path / "send", slices=2, size=16)
    sent = run_cli(home, "send", "web", *map(str, files), "--json")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["sent"] == 2
    method = run_cli(home, "retrieve", "web", "--study", chest.uid, "--method", "get")
    assert method.returncode == 1 and "DICOMweb" in method.stderr
    added = run_cli(
        home, "node", "add", "locked", locked.dicomweb, "--auth", "basic", "--user", USER,
        "--password-env", "PW",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert run_cli(home, "echo", "locked", PW=PASSWORD).returncode == 0
    wrong = run_cli(home, "echo", "locked", PW="nope")
    assert wrong.returncode == 1 and "401" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1 and "Traceback" not in wrong.stderr
    assert "nope" not in wrong.stderr
