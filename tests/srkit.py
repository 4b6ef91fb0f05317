"""A real TID 1500 measurement report for tests: a Comprehensive 3D SR made with highdicom
(MeasurementReport of PlanarROIMeasurementsAndQualitativeEvaluations) over the small
synthetic CT series of tests/annotationkit.py, one measurement group per graphic type.
Checked by dciodvfy in tests/unit/test_annotations_sr.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
from annotationkit import write_cts
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

HU = hd.sr.CodedConcept("[hnsf'U]", "UCUM", "Hounsfield unit")
MM = codes.UCUM.Millimeter
MM2 = codes.UCUM.SquareMillimeter


@dataclass(frozen=True)
class Finding:
    """One measurement group: tracking identifier, slice, region and measurements."""

    tracking: str
    slice: int
    kind: str
    points: tuple[tuple[float, float], ...]
    """DICOM pixel coordinates (column, row; the image's top left corner is 0, 0)."""
    measurements: tuple[tuple[str, float, str], ...]
    """(concept meaning, value, UCUM code)."""
    inferred: bool = False
    """The region under the first measurement (INFERRED FROM, TID 1501: highdicom has no
    MULTIPOINT image region), not the group's image region (TID 1410)."""


_CONCEPTS = {"Area": codes.SCT.Area, "Mean": codes.SCT.Mean, "Diameter": codes.SCT.Diameter,
             "Length": codes.SCT.Length}  # fmt: skip
_UNITS = {"mm2": MM2, "[hnsf'U]": HU, "mm": MM}

FINDINGS = (
    Finding(
        "Lesion1",
        1,
        "POLYLINE",
        ((8.0, 10.0), (24.0, 10.0), (24.0, 22.0), (8.0, 22.0), (8.0, 10.0)),
        (("Area", 94.08, "mm2"), ("Mean", 35.5, "[hnsf'U]")),
    ),
    Finding("Nodule", 2, "CIRCLE", ((40.0, 40.0), (48.0, 40.0)), (("Diameter", 11.2, "mm"),)),
    Finding(
        "Cyst",
        0,
        "ELLIPSE",
        ((20.0, 40.0), (44.0, 40.0), (32.0, 34.0), (32.0, 46.0)),
        (("Area", 158.3, "mm2"),),
    ),
    Finding(
        "Calcs",
        0,
        "MULTIPOINT",
        ((10.0, 50.0), (14.0, 54.0)),
        (("Mean", 410.0, "[hnsf'U]"),),
        inferred=True,
    ),
    Finding("Tip", 2, "POINT", ((12.0, 12.0),), (("Length", 3.0, "mm"),)),
)


@dataclass
class SrKit:
    """The CT series and the report over it."""

    cts: list[Dataset]
    ct_paths: list[Path]
    sr: Dataset
    sr_path: Path


def _group(finding: Finding, ct: Dataset) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    tracking = hd.sr.TrackingIdentifier(identifier=finding.tracking, uid=generate_uid())
    data = np.asarray(finding.points, dtype=float)
    source = hd.sr.SourceImageForRegion(ct.SOPClassUID, ct.SOPInstanceUID)
    measurements = []
    for number, (name, value, unit) in enumerate(finding.measurements):
        coordinates = None
        if finding.inferred and number == 0:
            coordinates = [hd.sr.CoordinatesForMeasurement(finding.kind, data, source)]
        measurements.append(
            hd.sr.Measurement(
                name=_CONCEPTS[name],
                value=value,
                unit=_UNITS[unit],
                referenced_coordinates=coordinates,
            )
        )
    if finding.inferred:
        return hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking, measurements=measurements
        )
    region = hd.sr.ImageRegion(finding.kind, data, source)
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking, referenced_region=region, measurements=measurements
    )


def report(cts: list[Dataset], findings: tuple[Finding, ...] = FINDINGS) -> Dataset:
    """A TID 1500 Comprehensive 3D SR with one planar ROI group per finding."""
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name="Reader^A"),
    )
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[_group(f, cts[f.slice]) for f in findings],
    )
    return hd.sr.Comprehensive3DSR(
        evidence=cts,
        content=content[0],
        series_instance_uid=generate_uid(),
        series_number=400,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="tuipacs",
        is_complete=True,
    )


def make(folder: Path) -> SrKit:
    """The CT series and the report written into ``folder``."""
    cts, paths = write_cts(folder)
    sr = report(cts)
    sr_path = folder / "sr.dcm"
    sr.save_as(sr_path, enforce_file_format=True)
    return SrKit(cts, paths, sr, sr_path)
