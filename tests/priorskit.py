"""Test studies for the priors (not a test module): small CT/MR studies of chosen patients,
dates and descriptions, written with :func:`identity_files.write_image`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
from identity_files import write_image
from pydicom.uid import generate_uid


@dataclass(frozen=True)
class PriorStudy:
    """One written study."""

    uid: str
    files: list[Path]


def write_study(
    folder: Path,
    *,
    patient_id: str,
    date: str,
    description: str,
    modality: str = "CT",
    body_part: str = "",
    issuer: str | None = None,
    name: str = "PRIOR^PATIENT",
    images: int = 2,
    seed: int = 0,
) -> PriorStudy:
    """Write a one-series study of ``images`` images (seeded pixels) into ``folder``."""
    study, series = generate_uid(), generate_uid()
    files = []
    for index in range(images):
        path = folder / f"{study}_{index}.dcm"
        write_image(
            path, patient_id=patient_id, study=study, series=series, seed=seed * 100 + index,
            issuer=issuer, name=name,
        )  # fmt: skip
        ds = pydicom.dcmread(path)
        ds.StudyDate = date
        ds.StudyDescription = description
        ds.Modality = modality
        ds.InstanceNumber = index + 1
        if body_part:
            ds.BodyPartExamined = body_part
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return PriorStudy(study, files)
