"""Test files for the identity rules (not a test module): small CT images whose patient,
study, series and SOP Instance UIDs the test chooses, with content that differs by seed."""

from __future__ import annotations

import random
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def write_image(
    path: Path,
    *,
    patient_id: str,
    study: str,
    series: str,
    sop: str | None = None,
    seed: int = 0,
    issuer: str | None = None,
    name: str = "TEST^PATIENT",
    size: int = 16,
) -> Path:
    """Write one 16-bit CT image; the pixel values come from ``seed`` (seeded)."""
    rng = random.Random(seed)
    sop = sop or generate_uid()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.PatientName = name
    ds.PatientID = patient_id
    if issuer is not None:
        ds.IssuerOfPatientID = issuer
    ds.StudyInstanceUID = study
    ds.StudyDate = "20240102"
    ds.StudyTime = "101010"
    ds.AccessionNumber = "A1"
    ds.StudyDescription = "IDENTITY"
    ds.SeriesInstanceUID = series
    ds.SeriesNumber = 1
    ds.Modality = "CT"
    ds.InstanceNumber = seed % 1000 + 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = rng.randbytes(size * size * 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
