"""The client seam (tuipacs.remote) over DIMSE against an in-process ``tuipacs serve``:
echo, find at each level and root, retrieve of a study or some series into the archive
(identity refusals reported, audit line written), send, check, and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from helpers import free_port
from peers import SyntheticArchive

from tuipacs import audit
from tuipacs.config import Config
from tuipacs.dicom.nodes import LocalAE, Node, parse_node_spec
from tuipacs.remote import (
    PacsClient,
    QueryInvalid,
    RemoteError,
    RemoteNetError,
    RetrieveProgress,
    client_for,
    config_clients,
)
from tuipacs.server import ArchiveServer
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.store.query import list_series

AET = "SERVED"


@pytest.fixture(scope="module")
def served(
    test_data: SyntheticArchive, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ArchiveServer]:
    """The synthetic studies in an archive served in this process on 127.0.0.1, port 0."""
    archive = Archive.open(tmp_path_factory.mktemp("served") / "archive")
    assert import_paths(archive, test_data.files).added == len(test_data.files)
    server = ArchiveServer(archive, Config(), aet=AET, port=0, bind="127.0.0.1").start()
    try:
        yield server
    finally:
        server.stop()
        archive.close()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Archive]:
    """An empty local archive."""
    archive = Archive.open(tmp_path / "local")
    yield archive
    archive.close()


def node_of(server: ArchiveServer) -> Node:
    """The served archive as a node."""
    return Node("served", AET, "127.0.0.1", server.port, timeout=15)


def client(server: ArchiveServer, archive: Archive | None = None) -> PacsClient:
    """A DIMSE client of the served archive, retrieving into ``archive``, auditing there."""
    log = audit.AuditLog.for_archive(archive.root) if archive is not None else None
    spool = archive.root / "tmp" if archive is not None else None
    return client_for(node_of(server), LocalAE("TUIPACS", spool_dir=spool), archive, audit=log)


def test_echo(served: ArchiveServer) -> None:
    result = client(served).echo()
    assert result.ok and result.node == "served" and result.address.startswith(f"{AET}@")
    assert set(result.to_json()) == {"node", "address", "ok", "ms", "total_ms", "status"}


def test_find_at_each_level_and_root(served: ArchiveServer, test_data: SyntheticArchive) -> None:
    """Patients (patient root), studies, series and images (either root) of the served data."""
    remote = client(served)
    chest = test_data.study("CT CHEST")
    patients = remote.find("patient", "patient", {"PatientID": "TP001"})
    assert [row.get("PatientID") for row in patients] == ["TP001"]
    for root in ("study", "patient"):
        studies = remote.find("study", root, {"PatientID": "TP001"})
        assert {row.get("StudyInstanceUID") for row in studies} == {
            chest.uid,
            test_data.study("MR BRAIN").uid,
        }
    series = remote.find("series", "study", {"StudyInstanceUID": chest.uid})
    assert {row.get("SeriesInstanceUID") for row in series} == {s.uid for s in chest.series}
    axial = chest.series[0]
    images = remote.find(
        "image", "study", {"StudyInstanceUID": chest.uid, "SeriesInstanceUID": axial.uid}
    )
    assert sorted(row.get("SOPInstanceUID") for row in images) == sorted(axial.instance_uids)
    assert images[0].to_json() == dict(images[0].values)
    assert len(remote.find("study", "study", {}, limit=1)) == 1


def test_a_bad_query_fails_before_sending(served: ArchiveServer) -> None:
    with pytest.raises(QueryInvalid, match="patient root"):
        client(served).find("patient", "study")


def test_nothing_listening_is_one_line() -> None:
    remote = client_for(Node("gone", "GONE", "127.0.0.1", free_port(), timeout=5), LocalAE())
    with pytest.raises(RemoteNetError) as info:
        remote.echo()
    assert "\n" not in str(info.value) and str(info.value)


def test_retrieve_some_series_into_the_archive(
    served: ArchiveServer, test_data: SyntheticArchive, local: Archive
) -> None:
    """Only the series asked for land in the archive; progress runs to the end; the retrieve
    is audited; a second retrieve skips what is there."""
    chest = test_data.study("CT CHEST")
    coronal = chest.series[1]
    seen: list[RetrieveProgress] = []
    result = client(served, local).retrieve(chest.uid, [coronal.uid], progress=seen.append)
    assert result.ok, result
    assert (result.node, result.completed, result.series_uids) == (
        "served",
        len(coronal.instance_uids),
        [coronal.uid],
    )
    assert [s.series_uid for s in list_series(local, chest.uid)] == [coronal.uid]
    assert seen and seen[-1].completed == len(coronal.instance_uids)
    (line,) = [x for x in audit.read(local.root / audit.FILE_NAME) if x["event"] == "retrieve"]
    assert line["series_uids"] == [coronal.uid] and line["received"] == result.completed
    assert "PatientName" not in str(line) and chest.patient_id not in str(line)

    whole = client(served, local).retrieve(chest.uid)
    assert whole.ok and whole.skipped == len(coronal.instance_uids)
    assert whole.completed == chest.instance_count - len(coronal.instance_uids)


def test_refusals_by_the_identity_rules_are_reported(
    served: ArchiveServer, test_data: SyntheticArchive, local: Archive, tmp_path: Path
) -> None:
    """The local archive holds the MR series under another study: the retrieved images of
    that series are refused, listed in the result, and the result is not ok."""
    brain = test_data.study("MR BRAIN")
    series = brain.series[0]
    source = next(p for p in test_data.files if _series_of(p) == series.uid)
    ds = pydicom.dcmread(source)
    ds.StudyInstanceUID = pydicom.uid.generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    other = tmp_path / "other.dcm"
    ds.save_as(other, enforce_file_format=True)
    assert import_paths(local, [other]).added == 1

    result = client(served, local).retrieve(brain.uid)
    assert not result.ok
    assert len(result.refused) == len(series.instance_uids) and result.completed == 0
    assert all(series.uid in line for line in result.refused)
    assert result.to_json()["refused"] == result.refused and result.to_json()["ok"] is False


def test_without_an_archive_there_is_nothing_to_retrieve_into(served: ArchiveServer) -> None:
    with pytest.raises(RemoteError, match="no local archive"):
        client(served).retrieve("1.2.3")


def test_send_and_check(served: ArchiveServer, test_data: SyntheticArchive, local: Archive) -> None:
    """Files sent are answered stored (the same objects again: duplicates, still success);
    the send is audited; the node check passes every step."""
    files = test_data.files[:3]
    result = client(served, local).send(files)
    assert (result.sent, result.failed) == (3, 0)
    assert result.to_json()["sent"] == 3
    (line,) = [x for x in audit.read(local.root / audit.FILE_NAME) if x["event"] == "send"]
    assert (line["files"], line["sent"], line["node"]) == (3, 3, "served")
    steps = client(served).check()
    assert [s.ok for s in steps] == [True, True, True], [s.detail for s in steps]
    assert {tuple(s.to_json()) for s in steps} == {("step", "ok", "skipped", "detail", "seconds")}


def test_config_clients_name_nodes_and_specs(served: ArchiveServer, local: Archive) -> None:
    """The App's default factory: configured names and AE@host:port; unknown names are a
    RemoteError that says what to do."""
    node = {"ae_title": AET, "host": "127.0.0.1", "port": served.port}
    clients = config_clients(Config(nodes={"served": node}), local)
    assert clients("served").echo().ok
    spec = f"{AET}@127.0.0.1:{served.port}"
    assert clients(spec).name == parse_node_spec(spec).name
    with pytest.raises(RemoteError, match="unknown node 'nowhere'"):
        clients("nowhere")


def _series_of(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID)
