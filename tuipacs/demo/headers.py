"""Fixed patients, studies and the header modules every demo instance shares.

Nothing here reads the clock or a random source: UIDs are ``2.25.<UUIDv5>`` derived from a
name (the same name always gives the same UID), dates and times are constants.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian
from pydicom.valuerep import format_number_as_ds

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "demo.tuipacs.invalid")
IMPLEMENTATION_VERSION = "TUIPACS_DEMO_1"
SOFTWARE_VERSION = "tuipacs demo 1"


def uid(*parts: object) -> UID:
    """A fixed UID for a name: ``2.25.`` and the integer of a name-based (v5) UUID."""
    name = "/".join(str(part) for part in parts)
    return UID(f"2.25.{uuid.uuid5(_NAMESPACE, name).int}")


def ds(value: float) -> str:
    """A decimal string (DS) of at most 16 characters."""
    return format_number_as_ds(float(value))


def ds_list(values: Sequence[float]) -> list[str]:
    """Several decimal strings."""
    return [ds(value) for value in values]


@dataclass(frozen=True)
class Patient:
    """Patient module values and the character set their names need."""

    name: str
    patient_id: str
    birth_date: str
    sex: str
    charset: str
    size_m: float
    weight_kg: float


@dataclass(frozen=True)
class Study:
    """General Study and equipment values of one demo study."""

    key: str
    patient: Patient
    date: str
    time: str
    accession: str
    study_id: str
    description: str
    referring: str
    institution: str
    age: str


MUELLER = Patient("Müller^Jürgen", "TP-100231", "19660412", "M", "ISO_IR 100", 1.78, 82)
YAMADA = Patient(
    "Yamada^Tarou=山田^太郎=やまだ^たろう", "TP-200417", "19780923", "M", "ISO_IR 192", 1.71, 68
)
NUNEZ = Patient("Núñez García^Zoë", "TP-300582", "19910107", "F", "ISO_IR 192", 1.64, 57)

CT_STUDY = Study(
    "ct-thorax-abdomen",
    MUELLER,
    "20240315",
    "104217",
    "ACC2403150042",
    "CT4581",
    "CT Thorax/Abdomen mit KM",
    "Schröder^Anna^^Dr. med.",
    "Klinikum Süd (Demo)",
    "057Y",
)
CT_PRIOR_STUDY = Study(
    "ct-thorax-abdomen-prior",
    MUELLER,
    "20230315",
    "093108",
    "ACC2303150027",
    "CT3907",
    "CT Thorax/Abdomen mit KM",
    "Schröder^Anna^^Dr. med.",
    "Klinikum Süd (Demo)",
    "056Y",
)
"""The same examination a year before :data:`CT_STUDY` (``demo --prior``)."""
DX_STUDY = Study(
    "dx-chest",
    MUELLER,
    "20240314",
    "080533",
    "ACC2403140017",
    "DX1203",
    "Röntgen Thorax p.a.",
    "Schröder^Anna^^Dr. med.",
    "Klinikum Süd (Demo)",
    "057Y",
)
MR_STUDY = Study(
    "mr-head",
    YAMADA,
    "20231102",
    "142000",
    "ACC2311020008",
    "MR0774",
    "頭部MRI Head",
    "Sato^Kenji=佐藤^健二",
    "Demo Clinic Kyoto 京都",
    "045Y",
)
US_STUDY = Study(
    "us-echo",
    NUNEZ,
    "20240122",
    "091245",
    "ACC2401220031",
    "US0315",
    "Ecocardiografía transtorácica",
    "Ortega^Lucía^^Dra.",
    "Hospital San José (Demo)",
    "033Y",
)


@dataclass(frozen=True)
class Equipment:
    """General Equipment module values."""

    model: str
    station: str
    serial: str


@dataclass(frozen=True)
class SeriesInfo:
    """What distinguishes one series: its study, number, modality and description."""

    study: Study
    study_uid: UID
    number: int
    modality: str
    description: str
    sop_class: UID
    equipment: Equipment
    body_part: str


def series_uid(series: SeriesInfo, *extra: object) -> UID:
    """The fixed Series Instance UID of a series."""
    return uid(series.study_uid, "series", series.number, *extra)


def base_dataset(series: SeriesInfo, uid_key: str) -> Dataset:
    """Patient, study, series, equipment and SOP common modules for one series."""
    ds_ = Dataset()
    study, patient = series.study, series.study.patient
    ds_.SpecificCharacterSet = patient.charset
    ds_.ImageType = ["ORIGINAL", "PRIMARY"]
    ds_.InstanceCreationDate, ds_.InstanceCreationTime = study.date, study.time
    ds_.SOPClassUID = series.sop_class
    ds_.StudyDate = ds_.SeriesDate = ds_.ContentDate = ds_.AcquisitionDate = study.date
    ds_.StudyTime = ds_.SeriesTime = ds_.ContentTime = ds_.AcquisitionTime = study.time
    ds_.AccessionNumber = study.accession
    ds_.Modality = series.modality
    ds_.Manufacturer = "tuipacs"
    ds_.InstitutionName = study.institution
    ds_.ReferringPhysicianName = study.referring
    ds_.StationName = series.equipment.station
    ds_.StudyDescription = study.description
    ds_.SeriesDescription = series.description
    ds_.ManufacturerModelName = series.equipment.model
    ds_.PatientName = patient.name
    ds_.PatientID = patient.patient_id
    ds_.PatientBirthDate = patient.birth_date
    ds_.PatientSex = patient.sex
    ds_.PatientAge = study.age
    ds_.PatientSize = ds(patient.size_m)
    ds_.PatientWeight = ds(patient.weight_kg)
    ds_.BodyPartExamined = series.body_part
    ds_.DeviceSerialNumber = series.equipment.serial
    ds_.SoftwareVersions = SOFTWARE_VERSION
    ds_.StudyInstanceUID = series.study_uid
    ds_.SeriesInstanceUID = series_uid(series, uid_key)
    ds_.StudyID = study.study_id
    ds_.SeriesNumber = series.number
    ds_.AcquisitionNumber = 1
    ds_.ImageComments = "Synthetic phantom generated by tuipacs (not a patient)"
    return ds_


def file_meta(sop_class: UID) -> FileMetaDataset:
    """Part-10 file meta for Explicit VR Little Endian (instance UID set per file)."""
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = sop_class
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = uid("implementation", IMPLEMENTATION_VERSION)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    return meta


def set_instance(dataset: Dataset, instance_uid: UID, number: int) -> None:
    """Give ``dataset`` (and its file meta) a SOP Instance UID and an Instance Number."""
    dataset.SOPInstanceUID = instance_uid
    dataset.file_meta.MediaStorageSOPInstanceUID = instance_uid
    dataset.InstanceNumber = number
