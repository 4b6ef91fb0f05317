"""C-FIND matching and C-GET/C-MOVE selection over the archive index (tuipacs.server.qr)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from tuipacs.dicom.scp_types import IdentifierError, check_level
from tuipacs.server import qr
from tuipacs.store.archive import Archive

ROOT = "1.2.826.0.1.3680043.8.498.4242."
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
SC = "1.2.840.10008.5.1.4.1.1.7"

# study key -> (patient id, name, charset, date, time, accession, description)
STUDIES = {
    "S1": ("P1", "DOE^JOHN", None, "20200315", "101500", "A1", "CT CHEST"),
    "S2": ("P1", "DOE^JOHN", None, "20210620", "143000", "A2", "MR BRAIN"),
    "S3": ("P2", "MÜLLER^HANS", "ISO_IR 100", "20190101", "080000", "B7", "CT ABDOMEN"),
}
# series key -> (study, modality, number, images, SOP class)
SERIES = {
    "SE1": ("S1", "CT", 1, 3, CT),
    "SE2": ("S1", "CT", 2, 2, CT),
    "SE3": ("S2", "MR", 1, 2, MR),
    "SE4": ("S3", "CT", 1, 2, CT),
    "SE5": ("S3", "OT", 10, 1, SC),
}


def uid(key: str) -> str:
    """The UID of a study/series/instance key."""
    return ROOT + "".join(str(ord(c)) for c in key)


def _instance(series: str, number: int) -> Dataset:
    study, modality, series_number, _, sop_class = SERIES[series]
    pid, name, charset, date, time, accession, description = STUDIES[study]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = uid(f"{series}.{number}")
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid(f"{series}.{number}")
    ds.PatientName, ds.PatientID = name, pid
    ds.PatientBirthDate, ds.PatientSex = "19700101", "O"
    ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = uid(study), date, time
    ds.AccessionNumber, ds.StudyDescription = accession, description
    ds.ReferringPhysicianName = "SMITH^ANNA"
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = uid(series), series_number, modality
    ds.InstanceNumber = number
    ds.ImageComments = f"image {number} of {series}"
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.zeros((4, 4), np.uint16).tobytes()
    return ds


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    """An archive holding the studies above."""
    folder = tmp_path_factory.mktemp("qr-files")
    paths = []
    for series, (_, _, _, count, _) in SERIES.items():
        for number in range(1, count + 1):
            path = folder / f"{series}-{number}.dcm"
            _instance(series, number).save_as(path, enforce_file_format=True)
            paths.append((path, None))
    opened = Archive.open(tmp_path_factory.mktemp("qr-archive"))
    opened.add_files(paths)
    try:
        yield opened
    finally:
        opened.close()


def query(level: str, **keys: object) -> Dataset:
    """An identifier with these keys (empty string: return key)."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for key, value in keys.items():
        setattr(ds, key, value)
    return ds


def studies(archive: Archive, **keys: object) -> set[str]:
    """Keys (S1..S3) of the studies a STUDY level C-FIND matches."""
    found = qr.find(archive, "STUDY", query("STUDY", **{"StudyInstanceUID": "", **keys}))
    by_uid = {uid(k): k for k in STUDIES}
    return {by_uid[str(ds.StudyInstanceUID)] for ds in found}


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({}, {"S1", "S2", "S3"}),
        ({"PatientName": "doe^john"}, {"S1", "S2"}),
        ({"PatientName": "DOE^JOHN^"}, {"S1", "S2"}),
        ({"PatientName": "DOE"}, set()),
        ({"PatientName": "DOE*"}, {"S1", "S2"}),
        ({"PatientName": "*hans"}, {"S3"}),
        ({"PatientName": "m?ller*"}, {"S3"}),
        ({"PatientName": "MÜLLER^HANS"}, {"S3"}),
        ({"PatientName": "*"}, {"S1", "S2", "S3"}),
        ({"PatientID": "P1"}, {"S1", "S2"}),
        ({"PatientID": "p1"}, set()),
        ({"StudyDescription": "CT*"}, {"S1", "S3"}),
        ({"StudyDescription": "ct*"}, set()),
        ({"StudyDescription": "CT ABDOMEN"}, {"S3"}),
        ({"AccessionNumber": "A?"}, {"S1", "S2"}),
        ({"AccessionNumber": "A1\\B7"}, {"S1", "S3"}),
        ({"StudyDate": "20200315"}, {"S1"}),
        ({"StudyDate": "20200101-20211231"}, {"S1", "S2"}),
        ({"StudyDate": "20200316-"}, {"S2"}),
        ({"StudyDate": "-20200315"}, {"S1", "S3"}),
        ({"StudyDate": "2020.03.15"}, {"S1"}),
        ({"StudyTime": "1000-1100"}, {"S1"}),
        ({"StudyTime": "-1015"}, {"S1", "S3"}),
        ({"StudyTime": "14:30-"}, {"S2"}),
        ({"StudyInstanceUID": f"{uid('S1')}\\{uid('S3')}"}, {"S1", "S3"}),
        ({"ModalitiesInStudy": "MR"}, {"S2"}),
        ({"ModalitiesInStudy": "OT\\MR"}, {"S2", "S3"}),
        ({"ReferringPhysicianName": "smith*"}, {"S1", "S2", "S3"}),
        ({"PatientBirthDate": "19700101-"}, {"S1", "S2", "S3"}),
        ({"ImageComments": "nothing like this"}, {"S1", "S2", "S3"}),  # not matchable: ignored
    ],
)
def test_study_matching(archive: Archive, keys: dict[str, object], expected: set[str]) -> None:
    assert studies(archive, **keys) == expected


def test_study_response_keys(archive: Archive) -> None:
    identifier = query(
        "STUDY",
        PatientName="",
        StudyDate="",
        ModalitiesInStudy="",
        NumberOfStudyRelatedSeries="",
        NumberOfStudyRelatedInstances="",
        SOPClassesInStudy="",
        ReferencedStudySequence=Sequence([]),
        OperatorsName="",
        AccessionNumber="B7",
    )
    (match,) = qr.find(archive, "STUDY", identifier)
    assert match.QueryRetrieveLevel == "STUDY"
    assert match.StudyInstanceUID == uid("S3")  # the unique key is always returned
    assert match.SpecificCharacterSet == "ISO_IR 192"
    assert str(match.PatientName) == "MÜLLER^HANS"
    assert list(match.ModalitiesInStudy) == ["CT", "OT"]
    assert (match.NumberOfStudyRelatedSeries, match.NumberOfStudyRelatedInstances) == (2, 3)
    assert set(match.SOPClassesInStudy) == {CT, SC}
    assert match.ReferencedStudySequence == []
    assert "OperatorsName" in match and not match.OperatorsName
    assert "PatientID" not in match and "StudyDescription" not in match
    ascii_only = next(iter(qr.find(archive, "STUDY", query("STUDY", AccessionNumber="A1"))))
    assert "SpecificCharacterSet" not in ascii_only


def test_patient_level(archive: Archive) -> None:
    identifier = query(
        "PATIENT",
        PatientID="",
        PatientName="DOE*",
        NumberOfPatientRelatedStudies="",
        NumberOfPatientRelatedSeries="",
        NumberOfPatientRelatedInstances="",
    )
    (match,) = qr.find(archive, "PATIENT", identifier)
    assert match.PatientID == "P1"
    assert match.NumberOfPatientRelatedStudies == 2
    assert match.NumberOfPatientRelatedSeries == 3
    assert match.NumberOfPatientRelatedInstances == 7


def test_series_level(archive: Archive) -> None:
    found = qr.find(
        archive,
        "SERIES",
        query(
            "SERIES",
            StudyInstanceUID=uid("S3"),
            SeriesNumber="10",
            Modality="",
            SeriesInstanceUID="",
            NumberOfSeriesRelatedInstances="",
        ),
    )
    assert [(m.SeriesInstanceUID, m.Modality, m.NumberOfSeriesRelatedInstances) for m in found] == [
        (uid("SE5"), "OT", 1)
    ]
    ct = qr.find(archive, "SERIES", query("SERIES", Modality="CT", PatientID="P1"))
    assert sorted(m.SeriesInstanceUID for m in ct) == sorted([uid("SE1"), uid("SE2")])


def test_image_level_reads_missing_keys_from_the_file(archive: Archive) -> None:
    found = list(
        qr.find(
            archive,
            "IMAGE",
            query(
                "IMAGE",
                SeriesInstanceUID=uid("SE1"),
                InstanceNumber="2",
                ImageComments="",
                Rows="",
                SOPClassUID="",
            ),
        )
    )
    assert len(found) == 1
    match = found[0]
    assert match.SOPInstanceUID == uid("SE1.2")
    assert match.ImageComments == "image 2 of SE1"
    assert (match.Rows, match.SOPClassUID) == (4, CT)


def test_levels_checked() -> None:
    with pytest.raises(IdentifierError):
        check_level(Dataset(), "study")
    with pytest.raises(IdentifierError):
        check_level(query("PATIENT"), "study")
    with pytest.raises(IdentifierError):
        check_level(query("FRAME"), "patient")
    assert check_level(query("series"), "study") == "SERIES"


def test_instances_for_retrieve(archive: Archive) -> None:
    study = qr.instances_for(archive, "study", query("STUDY", StudyInstanceUID=uid("S1")))
    assert {i.sop_instance_uid for i in study} == {uid(f"SE1.{n}") for n in (1, 2, 3)} | {
        uid(f"SE2.{n}") for n in (1, 2)
    }
    assert all(i.path.is_file() and i.transfer_syntax_uid == ExplicitVRLittleEndian for i in study)
    patient = qr.instances_for(archive, "patient", query("PATIENT", PatientID="P2"))
    assert len(patient) == 3
    series = qr.instances_for(
        archive, "study", query("SERIES", SeriesInstanceUID=f"{uid('SE3')}\\{uid('SE5')}")
    )
    assert len(series) == 3
    narrowed = qr.instances_for(
        archive,
        "study",
        query(
            "SERIES", StudyInstanceUID=uid("S2"), SeriesInstanceUID=f"{uid('SE3')}\\{uid('SE5')}"
        ),
    )
    assert len(narrowed) == 2
    image = qr.instances_for(archive, "study", query("IMAGE", SOPInstanceUID=uid("SE5.1")))
    assert [(i.sop_class_uid, Path(i.path).exists()) for i in image] == [(SC, True)]


@pytest.mark.parametrize(
    "identifier",
    [
        query("STUDY", PatientID="P1"),
        query("STUDY", StudyInstanceUID=""),
        query("STUDY", StudyInstanceUID="1.2.*"),
        query("PATIENT", PatientID="P1"),
    ],
)
def test_instances_for_refuses_bad_identifiers(archive: Archive, identifier: Dataset) -> None:
    with pytest.raises(IdentifierError):
        qr.instances_for(archive, "study", identifier)
