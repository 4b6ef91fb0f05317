"""Orthanc as the DICOMweb client of ``tuipacs serve --http``: its DicomWeb.Servers entry
names the server with a user and password; through Orthanc's REST API it searches
(``/dicom-web/servers/tuipacs/qido``), retrieves a study from tuipacs into Orthanc
(``/retrieve``: the files byte-equal to the archive's) and pushes a study back (``/stow``)."""

from __future__ import annotations

import hashlib
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port
from peers import (
    OrthancPeer,
    SyntheticArchive,
    find_orthanc,
    make_ct_study,
    require_dicomweb_plugin,
)
from webkit import PASSWORD, USER, WebServe

from tuipacs.store.archive import Archive

pytestmark = pytest.mark.net


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory, shim: Path, web: WebServe
            ) -> Iterator[OrthancPeer]:  # fmt: skip
    """An empty Orthanc whose DICOMweb client knows tuipacs (stopped by PID)."""
    plugin = require_dicomweb_plugin()
    dicomweb = {
        "Enable": True,
        "Root": "/dicom-web/",
        "Servers": {"tuipacs": [web.url + "/", USER, PASSWORD]},
    }
    peer = OrthancPeer(
        tmp_path_factory.mktemp("orthanc-client"), free_port(), free_port(), shim=shim,
        binary=find_orthanc(), extra={"DicomWeb": dicomweb}, plugins=[plugin],
    )  # fmt: skip
    try:
        peer.start()
        yield peer
    finally:
        peer.stop()


def _post(peer: OrthancPeer, path: str, body: object) -> object:
    import json

    return peer.rest("POST", path, json.dumps(body).encode())


def _value(row: dict[str, dict[str, object]], tag: str) -> object:
    """A value of Orthanc's answer (its own JSON: the value itself, or DICOM JSON: a list)."""
    element = row.get(tag) or row.get(f"{tag[:4]},{tag[4:]}".lower()) or {}
    value = element.get("Value")
    return value[0] if isinstance(value, list) else value


def _file(peer: OrthancPeer, sop_uid: str) -> bytes:
    found = peer.rest("POST", "/tools/lookup", sop_uid.encode())
    assert isinstance(found, list) and found, sop_uid
    with urllib.request.urlopen(f"{peer.url}/instances/{found[0]['ID']}/file") as response:
        data: bytes = response.read()
    return data


def test_orthanc_queries_and_retrieves_a_study(
    orthanc: OrthancPeer, web: WebServe, web_data: SyntheticArchive
) -> None:
    chest = web_data.study("CT CHEST")
    rows = _post(orthanc, "/dicom-web/servers/tuipacs/qido",
                 {"Uri": "/studies", "Arguments": {"PatientID": "TP001"}})  # fmt: skip
    assert isinstance(rows, list)
    assert {_value(r, "0020000D") for r in rows} == {
        s.uid for s in web_data.studies if s.patient_id == "TP001"
    }
    series = _post(orthanc, "/dicom-web/servers/tuipacs/qido",
                   {"Uri": f"/studies/{chest.uid}/series"})  # fmt: skip
    assert isinstance(series, list) and len(series) == len(chest.series)
    _post(orthanc, "/dicom-web/servers/tuipacs/retrieve", {"Resources": [{"Study": chest.uid}]})
    archive = Archive(web.archive_root)
    try:
        for item in chest.series:
            for uid in item.instance_uids:
                path = archive.instance_path(uid)
                assert path is not None
                got = hashlib.sha256(_file(orthanc, uid)).digest()
                assert got == hashlib.sha256(path.read_bytes()).digest(), uid
    finally:
        archive.close()


def test_orthanc_pushes_a_study_back(orthanc: OrthancPeer, web: WebServe, tmp_path: Path) -> None:
    study_uid, files = make_ct_study(tmp_path / "push", slices=3, size=32)
    orthanc.load(files)
    found = orthanc.rest("POST", "/tools/lookup", study_uid.encode())
    assert isinstance(found, list) and found
    _post(orthanc, "/dicom-web/servers/tuipacs/stow", {"Resources": [found[0]["ID"]]})
    archive = Archive(web.archive_root)
    try:
        deadline = time.monotonic() + 20  # the inbox indexes within about a second
        rows: list[object] = []
        while time.monotonic() < deadline:
            rows = archive.execute(
                "SELECT i.sop_uid FROM instance i JOIN series se ON i.series_fk = se.id "
                "JOIN study st ON se.study_fk = st.id WHERE st.study_uid = ?", [study_uid]
            )  # fmt: skip
            if len(rows) == 3:
                break
            time.sleep(0.1)
        assert len(rows) == 3
    finally:
        archive.close()
