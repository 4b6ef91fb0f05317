"""C-ECHO and C-FIND against real archives (Orthanc and dcmqrscp)."""

from __future__ import annotations

import pytest
from peers import RemoteArchive as Archive
from peers import SyntheticArchive

from tuipacs.dicom.errors import AssociationRejected, NodeUnreachable, QueryError
from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.scu import echo, find

pytestmark = pytest.mark.net


def test_echo(archive: Archive, local_ae: LocalAE) -> None:
    result = echo(archive.node, local_ae)
    assert result.ok, result.status
    assert result.ms >= 0 and result.total_ms >= result.ms
    assert "success" in result.status


def test_find_studies_by_patient_wildcard(
    archive: Archive, local_ae: LocalAE, test_data: SyntheticArchive
) -> None:
    rows = find(archive.node, local_ae, "study", keys={"PatientName": "DOE*"})
    chest = test_data.study("CT CHEST")
    assert sorted(r["StudyDescription"] for r in rows) == ["CT CHEST", "MR BRAIN"]
    row = next(r for r in rows if r["StudyInstanceUID"] == chest.uid)
    assert row["PatientID"] == "TP001"
    assert row["StudyDate"] == "20200315"
    assert row["AccessionNumber"] == "ACC001"
    if archive.kind == "orthanc":  # dcmqrscp does not compute these
        assert row["NumberOfStudyRelatedInstances"] == str(chest.instance_count)
        assert row["ModalitiesInStudy"] == "CT"


def test_find_date_range_and_decoded_charset(archive: Archive, local_ae: LocalAE) -> None:
    rows = find(archive.node, local_ae, "study", keys={"StudyDate": "20190101-20201231"})
    assert sorted(r["StudyDescription"] for r in rows) == ["CT ABDOMEN", "CT CHEST"]
    abdomen = next(r for r in rows if r["StudyDescription"] == "CT ABDOMEN")
    assert abdomen["PatientName"] == "MÜLLER^HANS"


def test_find_patient_root_levels(
    archive: Archive, local_ae: LocalAE, test_data: SyntheticArchive
) -> None:
    patients = find(archive.node, local_ae, "patient", root="patient", keys={"PatientID": "TP*"})
    assert sorted(p["PatientID"] for p in patients) == ["TP001", "TP002"]
    studies = find(archive.node, local_ae, "study", root="patient", keys={"PatientID": "TP001"})
    assert len(studies) == 2
    assert {s["StudyInstanceUID"] for s in studies} == {
        test_data.study("CT CHEST").uid,
        test_data.study("MR BRAIN").uid,
    }


def test_find_series_and_images(
    archive: Archive, local_ae: LocalAE, test_data: SyntheticArchive
) -> None:
    chest = test_data.study("CT CHEST")
    series = find(archive.node, local_ae, "series", keys={"StudyInstanceUID": chest.uid})
    assert sorted((s["SeriesNumber"], s["Modality"]) for s in series) == [("1", "CT"), ("2", "CT")]
    assert {s["SeriesInstanceUID"] for s in series} == {s.uid for s in chest.series}
    first = chest.series[0]
    images = find(
        archive.node,
        local_ae,
        "image",
        keys={"StudyInstanceUID": chest.uid, "SeriesInstanceUID": first.uid},
    )
    assert sorted(i["SOPInstanceUID"] for i in images) == sorted(first.instance_uids)
    assert sorted(int(i["InstanceNumber"]) for i in images) == list(range(1, 9))


def test_find_limit_cancels(archive: Archive, local_ae: LocalAE) -> None:
    rows = find(archive.node, local_ae, "study", keys={"PatientID": "*"}, limit=1)
    assert len(rows) == 1


def test_bad_queries_are_rejected_before_sending(local_ae: LocalAE) -> None:
    node = Node("nowhere", "X", "127.0.0.1", 9)
    with pytest.raises(QueryError, match="patient root"):
        find(node, local_ae, "patient")
    with pytest.raises(QueryError, match="unknown DICOM keyword"):
        find(node, local_ae, "study", keys={"PatientNme": "X"})
    with pytest.raises(QueryError, match="query level"):
        find(node, local_ae, "frame")  # type: ignore[arg-type]


def test_connection_refused(local_ae: LocalAE) -> None:
    from helpers import free_port

    node = Node("closed", "NOBODY", "127.0.0.1", free_port(), timeout=5)
    with pytest.raises(NodeUnreachable, match="connection refused.*check the node's host"):
        echo(node, local_ae)


def test_wrong_called_ae_is_rejected(dcmqrscp: object, local_ae: LocalAE) -> None:
    port = dcmqrscp.port  # type: ignore[attr-defined]
    # dcmqrscp forks per association: slow under load, and the message is what counts
    node = Node("badae", "NOT-THE-AE", "127.0.0.1", port, timeout=30)
    with pytest.raises(AssociationRejected, match="called AE title 'NOT-THE-AE'") as info:
        echo(node, local_ae)
    assert "\n" not in str(info.value)
