"""``tuipacs serve`` (a subprocess) with DCMTK clients: echo, store, find, get, move."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from peers import stop_process, wait_for_port
from pydicom import dcmread
from pydicom.dataset import Dataset
from servekit import AET, LOOPBACK, Loaded, dcmtk, instance_path, run, tool_env

pytestmark = pytest.mark.net


def findscu(port: int, root: str, level: str, keys: dict[str, str], out: Path) -> list[Dataset]:
    """findscu -X; the responses, in order."""
    out.mkdir(parents=True, exist_ok=True)
    args = [dcmtk("findscu"), "-P" if root == "patient" else "-S", "-X", "-od", str(out)]
    args += ["-aec", AET, "-k", f"QueryRetrieveLevel={level}"]
    for key, value in keys.items():
        args += ["-k", f"{key}={value}"]
    result = run([*args, LOOPBACK, str(port)])
    assert result.returncode == 0, result.stderr
    return [dcmread(p) for p in sorted(out.glob("rsp*.dcm"))]


def test_echo(loaded: Loaded) -> None:
    result = run([dcmtk("echoscu"), "-aec", AET, LOOPBACK, str(loaded.port)])
    assert result.returncode == 0, result.stderr


def test_compressed_stored_as_sent(loaded: Loaded) -> None:
    for original in loaded.compressed:
        sent = dcmread(original)
        kept = dcmread(instance_path(loaded.root, sent.SOPInstanceUID))
        assert kept.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID
        assert kept.PixelData == sent.PixelData, original.name
        assert kept.SOPInstanceUID == sent.SOPInstanceUID


def test_find_patient_root_levels(loaded: Loaded, tmp_path: Path) -> None:
    chest = loaded.data.study("CT CHEST")
    patients = findscu(
        loaded.port,
        "patient",
        "PATIENT",
        {"PatientName": "doe*", "PatientID": "", "NumberOfPatientRelatedStudies": ""},
        tmp_path / "p",
    )
    assert [(p.PatientID, p.NumberOfPatientRelatedStudies) for p in patients] == [("TP001", 2)]
    studies = findscu(
        loaded.port,
        "patient",
        "STUDY",
        {"PatientID": "TP001", "StudyInstanceUID": "", "StudyDescription": ""},
        tmp_path / "st",
    )
    assert sorted(s.StudyDescription for s in studies) == ["CT CHEST", "MR BRAIN"]
    series = findscu(
        loaded.port,
        "patient",
        "SERIES",
        {"PatientID": "TP001", "StudyInstanceUID": chest.uid, "SeriesInstanceUID": ""},
        tmp_path / "se",
    )
    assert {s.SeriesInstanceUID for s in series} == {s.uid for s in chest.series}
    first = chest.series[0]
    images = findscu(
        loaded.port,
        "patient",
        "IMAGE",
        {"PatientID": "TP001", "SeriesInstanceUID": first.uid, "SOPInstanceUID": ""},
        tmp_path / "im",
    )
    assert {i.SOPInstanceUID for i in images} == set(first.instance_uids)


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({}, {"CT CHEST", "MR BRAIN", "CT ABDOMEN"}),
        ({"StudyDate": "20200101-20211231"}, {"CT CHEST", "MR BRAIN"}),
        ({"StudyDate": "-20191231"}, {"CT ABDOMEN"}),
        ({"StudyDate": "20210620"}, {"MR BRAIN"}),
        ({"StudyTime": "1000-1015"}, {"CT CHEST", "MR BRAIN", "CT ABDOMEN"}),
        ({"StudyTime": "1100-"}, set()),
        ({"ModalitiesInStudy": "MR"}, {"MR BRAIN"}),
        ({"ModalitiesInStudy": "OT\\MR"}, {"MR BRAIN", "CT ABDOMEN"}),
        ({"AccessionNumber": "ACC00?"}, {"CT CHEST", "MR BRAIN", "CT ABDOMEN"}),
        ({"StudyDescription": "CT*"}, {"CT CHEST", "CT ABDOMEN"}),
        ({"StudyDescription": "ct*"}, set()),
        ({"PatientName": "DOE^JOHN"}, {"CT CHEST", "MR BRAIN"}),
        ({"PatientID": "TP00*"}, {"CT CHEST", "MR BRAIN", "CT ABDOMEN"}),
    ],
)
def test_find_study_root_matching(
    loaded: Loaded, tmp_path: Path, keys: dict[str, str], expected: set[str]
) -> None:
    query = {"StudyInstanceUID": "", "StudyDescription": "", **keys}
    found = findscu(loaded.port, "study", "STUDY", query, tmp_path)
    got = {str(s.StudyDescription) for s in found}
    assert got & {"CT CHEST", "MR BRAIN", "CT ABDOMEN"} == expected


def test_find_non_ascii_name_answered_in_utf8(loaded: Loaded, tmp_path: Path) -> None:
    found = findscu(
        loaded.port,
        "study",
        "STUDY",
        {"PatientName": "m?ller*", "StudyInstanceUID": "", "NumberOfStudyRelatedInstances": ""},
        tmp_path,
    )
    assert len(found) == 1
    assert found[0].SpecificCharacterSet == "ISO_IR 192"
    assert str(found[0].PatientName) == "MÜLLER^HANS"
    assert found[0].NumberOfStudyRelatedInstances == 7


def test_find_series_and_image_levels(loaded: Loaded, tmp_path: Path) -> None:
    abdomen = loaded.data.study("CT ABDOMEN")
    series = findscu(
        loaded.port,
        "study",
        "SERIES",
        {
            "StudyInstanceUID": abdomen.uid,
            "Modality": "OT",
            "SeriesInstanceUID": "",
            "NumberOfSeriesRelatedInstances": "",
        },
        tmp_path / "se",
    )
    assert [(s.Modality, s.NumberOfSeriesRelatedInstances) for s in series] == [("OT", 1)]
    wanted = abdomen.series[0].instance_uids[:2]
    images = findscu(
        loaded.port,
        "study",
        "IMAGE",
        {"SOPInstanceUID": "\\".join(wanted), "InstanceNumber": "", "ImagePositionPatient": ""},
        tmp_path / "im",
    )
    assert sorted(i.SOPInstanceUID for i in images) == sorted(wanted)
    assert all(len(i.ImagePositionPatient) == 3 for i in images)  # read from the file


def test_find_patient_level_needs_patient_root(loaded: Loaded, tmp_path: Path) -> None:
    args = [dcmtk("findscu"), "-v", "-S", "-aec", AET, "-k", "QueryRetrieveLevel=PATIENT"]
    result = run([*args, "-k", "PatientID=", LOOPBACK, str(loaded.port)])
    assert "datasetdoesnotmatchsopclass" in (result.stdout + result.stderr).lower()


def _get(loaded: Loaded, out: Path, keys: dict[str, str], *extra: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    args = [dcmtk("getscu"), "-v", "-S", "-aec", AET, "-od", str(out), *extra]
    for key, value in keys.items():
        args += ["-k", f"{key}={value}"]
    result = run([*args, LOOPBACK, str(loaded.port)])
    assert result.returncode == 0, result.stderr
    return sorted(out.iterdir())


def test_get_study(loaded: Loaded, tmp_path: Path) -> None:
    chest = loaded.data.study("CT CHEST")
    files = _get(loaded, tmp_path, {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": chest.uid})
    got = {dcmread(p).SOPInstanceUID for p in files}
    assert got == {u for s in chest.series for u in s.instance_uids}


def test_get_compressed_as_stored_or_decompressed(loaded: Loaded, tmp_path: Path) -> None:
    jpeg = dcmread(loaded.compressed[0])  # JPEG baseline
    keys = {
        "QueryRetrieveLevel": "IMAGE",
        "StudyInstanceUID": jpeg.StudyInstanceUID,
        "SeriesInstanceUID": jpeg.SeriesInstanceUID,
        "SOPInstanceUID": jpeg.SOPInstanceUID,
    }
    plain = _get(loaded, tmp_path / "plain", keys)
    assert len(plain) == 1
    received = dcmread(plain[0])
    assert not received.file_meta.TransferSyntaxUID.is_compressed  # getscu wants uncompressed
    assert np.array_equal(received.pixel_array, jpeg.pixel_array)
    as_stored = _get(loaded, tmp_path / "jpeg", keys, "+xy")
    received = dcmread(as_stored[0])
    assert received.file_meta.TransferSyntaxUID == jpeg.file_meta.TransferSyntaxUID
    assert received.PixelData == jpeg.PixelData


def test_get_without_unique_key_fails(loaded: Loaded, tmp_path: Path) -> None:
    args = [
        dcmtk("getscu"),
        "-S",
        "-aec",
        AET,
        "-od",
        str(tmp_path),
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "PatientID=TP001",
        LOOPBACK,
        str(loaded.port),
    ]
    result = run(args)
    assert "datasetdoesnotmatchsopclass" in (result.stdout + result.stderr).lower()
    assert not list(tmp_path.iterdir())


def test_move_to_storescp_and_unknown_destination(loaded: Loaded, tmp_path: Path) -> None:
    brain = loaded.data.study("MR BRAIN")
    out = tmp_path / "received"
    out.mkdir()
    scp = subprocess.Popen(
        [dcmtk("storescp"), "-aet", "STORESCP", "-od", str(out), str(loaded.move_port)],
        env=tool_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(loaded.move_port, scp)
        keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={brain.uid}"]
        args = [dcmtk("movescu"), "-S", "-aec", AET, *keys]
        result = run([*args, "-aem", "STORESCP", LOOPBACK, str(loaded.port)])
        assert result.returncode == 0, result.stderr
        got = {dcmread(p).SOPInstanceUID for p in out.iterdir()}
        assert got == set(brain.series[0].instance_uids)
        unknown = run([*args, "-aem", "NOWHERE", LOOPBACK, str(loaded.port)])
        text = (unknown.stdout + unknown.stderr).lower()
        assert "movedestinationunknown" in text or "0xa801" in text
    finally:
        stop_process(scp)
