"""A synthetic two-series study with patient data everywhere, for the export tests (a module
of its own: ``conftest`` names several modules in one run)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

ROOT = "1.2.826.0.1.3680043.8.498.7717"
STUDY = f"{ROOT}.1"
FRAME_OF_REFERENCE = f"{ROOT}.2"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"

#: Every value here must be gone from an anonymized export.
PHI = {
    "PatientName": "SECRETNAME^ALICE",
    "PatientID": "PID998877",
    "PatientBirthDate": "19610213",
    "InstitutionName": "SECRET HOSPITAL",
    "ReferringPhysicianName": "DRWHO^JOHN",
    "AccessionNumber": "ACC55443",
    "OtherPatientIDs": "OTHERID123",
    "StudyID": "STUDYID7",
    "StudyDescription": "SECRETDESC",
    "PatientAddress": "12 SECRET STREET",
}
PRIVATE_VALUE = "PRIVATESECRET"
DATES = {"StudyDate": "20240115", "SeriesDate": "20240115", "ContentDate": "20240116"}


@dataclass(frozen=True)
class Study:
    """The study's files as made (before import) and its UIDs."""

    folder: Path
    sop_uids: list[str]
    series_uids: list[str]


def make_instance(
    series: int, number: int, *, frames: int = 1, name: str = PHI["PatientName"]
) -> Dataset:
    """One CT image of the study (16 x 16, ``frames`` frames), patient data filled in."""
    sop = f"{ROOT}.4.{series}.{number}"
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.file_meta.SourceApplicationEntityTitle = "SECRETSTATION"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = f"{ROOT}.3.{series}"
    ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
    for keyword, value in PHI.items():
        setattr(ds, keyword, value)
    ds.PatientName = name
    for keyword, value in DATES.items():
        setattr(ds, keyword, value)
    ds.StudyTime = "101010"
    ds.AcquisitionDateTime = "20240115101112.5"
    ds.Modality = "CT"
    ds.SeriesNumber = series
    ds.InstanceNumber = number
    ds.BurnedInAnnotation = "NO"
    ds.private_block(0x0009, "ACME 1.0", create=True).add_new(0x10, "LO", PRIVATE_VALUE)
    if number > 1:  # a reference to the first image of the series
        ref = Dataset()
        ref.ReferencedSOPClassUID = CTImageStorage
        ref.ReferencedSOPInstanceUID = f"{ROOT}.4.{series}.1"
        ds.ReferencedImageSequence = [ref]
    ds.Rows = ds.Columns = 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.ImagePositionPatient = [0, 0, number]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    ds.WindowCenter, ds.WindowWidth = 600, 1200
    pixels = np.arange(256 * frames, dtype=np.uint16).reshape(frames, 16, 16) * number * 3
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.tobytes()
    return ds


def make_report() -> Dataset:
    """A Basic Text SR of series 2: an object that is not an image."""
    ds = make_instance(2, 9)
    for keyword in (
        "Rows",
        "Columns",
        "BitsAllocated",
        "BitsStored",
        "HighBit",
        "PixelRepresentation",
        "SamplesPerPixel",
        "PhotometricInterpretation",
        "PixelData",
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "PixelSpacing",
        "WindowCenter",
        "WindowWidth",
    ):
        delattr(ds, keyword)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    ds.Modality = "SR"
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.ContentTime = "101500"
    ds.ValueType = "CONTAINER"
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator = "18748-4", "LN"
    concept.CodeMeaning = "Diagnostic Imaging Report"
    ds.ConceptNameCodeSequence = [concept]
    return ds
