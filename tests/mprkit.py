"""Synthetic slice stacks for the volume and reformat tests, and an independent oracle.

:func:`make_stack` writes pydicom datasets of a stack whose geometry the test chooses (slice
order, reversed rows or columns, slice direction); :func:`patient_value` finds the value at
a patient point by searching the datasets themselves (IPP, IOP, Pixel Spacing), without the
code under test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass
class StackSpec:
    """How to lay out a synthetic stack."""

    slices: int = 6
    rows: int = 5
    columns: int = 7
    pixel_spacing: tuple[float, float] = (0.8, 0.6)
    step: float = 2.0
    orientation: tuple[float, ...] = AXIAL
    origin: tuple[float, float, float] = (-10.0, -20.0, 30.0)
    slope: float = 1.0
    intercept: float = -1024.0
    seed: int = 1
    steps_along: tuple[float, float, float] | None = None
    """The direction slices step in (default: the normal); another one is a gantry tilt."""
    order: str = "forward"
    """'forward', 'reverse' (instance 1 at the far end) or 'shuffle' (seeded)."""


def _ds(value: Sequence[float]) -> list[str]:
    return [f"{v:.6f}" for v in value]


def make_stack(spec: StackSpec | None = None, **changes: object) -> list[Dataset]:
    """The datasets of a stack: slice ``k`` at ``origin + k * step * normal``, stored values
    seeded random 12-bit, in the order ``spec.order`` asks for."""
    spec = spec or StackSpec()
    for key, value in changes.items():
        setattr(spec, key, value)
    rng = np.random.default_rng(spec.seed)
    row_dir = np.array(spec.orientation[:3])
    col_dir = np.array(spec.orientation[3:])
    normal = np.cross(row_dir, col_dir)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    out = []
    for k in range(spec.slices):
        stored = rng.integers(0, 4096, (spec.rows, spec.columns), dtype=np.uint16)
        along = normal if spec.steps_along is None else np.array(spec.steps_along)
        position = np.array(spec.origin) + k * spec.step * along
        out.append(_slice(spec, stored, position, (study, series, frame), k + 1))
    if spec.order == "reverse":
        out.reverse()
        for number, ds in enumerate(out, start=1):
            ds.InstanceNumber = number
    elif spec.order == "shuffle":
        perm = np.random.default_rng(spec.seed + 99).permutation(len(out))
        out = [out[int(i)] for i in perm]
    return out


def _slice(
    spec: StackSpec,
    stored: np.ndarray,
    position: np.ndarray,
    uids: tuple[str, str, str],
    number: int,
) -> Dataset:
    study, series, frame = uids
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    sop = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.FrameOfReferenceUID = frame
    ds.Modality = "CT"
    ds.PatientName, ds.PatientID = "MPR^TEST", "MPR1"
    ds.InstanceNumber = number
    ds.Rows, ds.Columns = spec.rows, spec.columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.ImagePositionPatient = _ds(position)
    ds.ImageOrientationPatient = _ds(spec.orientation)
    ds.PixelSpacing = _ds(spec.pixel_spacing)
    ds.RescaleSlope, ds.RescaleIntercept = f"{spec.slope:g}", f"{spec.intercept:g}"
    ds.WindowCenter, ds.WindowWidth = "40", "400"
    ds.PixelData = stored.astype("<u2").tobytes()
    return ds


def stored_of(ds: Dataset) -> np.ndarray:
    """The stored values of a synthetic slice (read back from its bytes)."""
    return np.frombuffer(ds.PixelData, "<u2").reshape(int(ds.Rows), int(ds.Columns))


def patient_value(datasets: Sequence[Dataset], point: Sequence[float], tol: float = 1e-3) -> float:
    """The modality value of the voxel centred at patient ``point`` (mm), found by testing
    every slice's plane and pixel grid. AssertionError when no voxel is centred there."""
    p = np.array(point, dtype=np.float64)
    for ds in datasets:
        iop = [float(v) for v in ds.ImageOrientationPatient]
        row_dir, col_dir = np.array(iop[:3]), np.array(iop[3:])
        normal = np.cross(row_dir, col_dir)
        d = p - np.array([float(v) for v in ds.ImagePositionPatient])
        if abs(float(d @ normal)) > tol:
            continue
        dr, dc = (float(v) for v in ds.PixelSpacing)
        i, j = float(d @ col_dir) / dr, float(d @ row_dir) / dc
        ri, rj = round(i), round(j)
        assert abs(i - ri) < tol and abs(j - rj) < tol, (i, j)
        assert 0 <= ri < int(ds.Rows) and 0 <= rj < int(ds.Columns), (ri, rj)
        return float(stored_of(ds)[ri, rj]) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    raise AssertionError(f"no slice through {point}")


def voxel_centres(datasets: Sequence[Dataset]) -> np.ndarray:
    """Every voxel centre of the stack, (N, 3) patient mm."""
    points = []
    for ds in datasets:
        iop = [float(v) for v in ds.ImageOrientationPatient]
        row_dir, col_dir = np.array(iop[:3]), np.array(iop[3:])
        dr, dc = (float(v) for v in ds.PixelSpacing)
        ipp = np.array([float(v) for v in ds.ImagePositionPatient])
        for i in range(int(ds.Rows)):
            for j in range(int(ds.Columns)):
                points.append(ipp + i * dr * col_dir + j * dc * row_dir)
    return np.array(points)


def set_value(datasets: Sequence[Dataset], point: Sequence[float], stored: int) -> None:
    """Give the voxel centred at patient ``point`` the stored value ``stored``."""
    p = np.array(point, dtype=np.float64)
    for ds in datasets:
        iop = [float(v) for v in ds.ImageOrientationPatient]
        row_dir, col_dir = np.array(iop[:3]), np.array(iop[3:])
        d = p - np.array([float(v) for v in ds.ImagePositionPatient])
        if abs(float(d @ np.cross(row_dir, col_dir))) > 1e-3:
            continue
        dr, dc = (float(v) for v in ds.PixelSpacing)
        pixels = stored_of(ds).copy()
        pixels[round(float(d @ col_dir) / dr), round(float(d @ row_dir) / dc)] = stored
        ds.PixelData = pixels.astype("<u2").tobytes()
        return
    raise AssertionError(f"no slice through {point}")


def unique(values: np.ndarray) -> list[float]:
    """Distinct coordinates (to 1e-4 mm), ascending."""
    return sorted({round(float(v), 4) for v in values})


def expected_plane(
    datasets: Sequence[Dataset], plane: str, at: float
) -> tuple[np.ndarray, list[float], list[float]]:
    """The plane through patient ``x`` (sagittal) or ``y`` (coronal) = ``at``, superior at the
    top, anterior (sagittal) or the patient's right (coronal) on the left."""
    centres = voxel_centres(datasets)
    across, horizontal = (0, 1) if plane == "sagittal" else (1, 0)
    tops = unique(centres[:, 2])[::-1]  # superior (largest z) first
    lefts = unique(centres[:, horizontal])  # anterior (smallest y) / right (smallest x) first
    image = np.empty((len(tops), len(lefts)))
    for r, z in enumerate(tops):
        for c, h in enumerate(lefts):
            point = [0.0, 0.0, z]
            point[across], point[horizontal] = at, h
            image[r, c] = patient_value(datasets, point)
    return image, tops, lefts
