"""Synthetic DICOM images for the imaging tests (pydicom only, no PHI).

Not a test module: tests/unit/test_imaging*.py and tests/ref/ import it as
``ref.samples``. Every builder returns a dataset with file meta information, ready
for ``write(ds, path)``; pixel values are deterministic (seeded).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)

ROWS, COLS = 48, 64


def base_dataset(
    pixels: np.ndarray,
    *,
    bits_stored: int | None = None,
    signed: bool = False,
    photometric: str = "MONOCHROME2",
    sop_class: str = SecondaryCaptureImageStorage,
    modality: str = "OT",
) -> Dataset:
    """A minimal image dataset holding ``pixels`` (frames, rows, cols[, samples])."""
    arr = np.asarray(pixels)
    samples = 1 if photometric.startswith("MONO") or photometric == "PALETTE COLOR" else 3
    frames = arr.shape[0] if arr.ndim == (3 if samples == 1 else 4) else 1
    rows, cols = (arr.shape[-3], arr.shape[-2]) if samples == 3 else arr.shape[-2:]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = "SYNTH"
    ds.Modality = modality
    ds.Rows, ds.Columns = int(rows), int(cols)
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples == 3:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    bits = arr.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits_stored or bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    little = arr.astype(arr.dtype.newbyteorder("<"))
    ds.PixelData = little.tobytes()
    ds["PixelData"].VR = "OW" if bits > 8 else "OB"
    return ds


def ramp(rows: int = ROWS, cols: int = COLS, lo: int = 0, hi: int = 4095) -> np.ndarray:
    """A diagonal ramp with noise covering lo..hi (int64)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:rows, 0:cols]
    base = lo + (hi - lo) * (x + y) / (rows + cols - 2)
    noise = rng.integers(-3, 4, size=(rows, cols))
    return np.clip(np.round(base) + noise, lo, hi).astype(np.int64)


def signed16() -> Dataset:
    """CT-like signed 16-bit data with rescale -1024 and a brain window."""
    ds = base_dataset(
        ramp(lo=-2000, hi=3000).astype(np.int16),
        signed=True,
        sop_class=CTImageStorage,
        modality="CT",
    )
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = [40, 400], [80, 1500]
    ds.WindowCenterWidthExplanation = ["BRAIN", "LUNG"]
    ds.PixelSpacing = [0.5, 0.5]
    return ds


def bits12_in16_signed() -> Dataset:
    """Signed 12-bit data in 16-bit words (sign-extended), no rescale."""
    values = ramp(lo=-2048, hi=2047).astype(np.int16)
    return base_dataset(values, bits_stored=12, signed=True)


def bits12_garbage() -> Dataset:
    """Unsigned 12 in 16 bits with junk in the 4 unused bits (must be masked)."""
    values = ramp(lo=0, hi=4095).astype(np.uint16)
    junk = (np.arange(values.size, dtype=np.uint16).reshape(values.shape) % 16) << 12
    return base_dataset(values | junk, bits_stored=12)


def mono1_inverse() -> Dataset:
    """MONOCHROME1 with Presentation LUT Shape INVERSE and a stored window."""
    ds = base_dataset(
        ramp(lo=0, hi=1023).astype(np.uint16),
        bits_stored=10,
        photometric="MONOCHROME1",
        modality="CR",
    )
    ds.PresentationLUTShape = "INVERSE"
    ds.WindowCenter, ds.WindowWidth = 500, 900
    ds.ImagerPixelSpacing = [0.2, 0.1]
    return ds


def mono1() -> Dataset:
    """MONOCHROME1 without a Presentation LUT Shape."""
    ds = base_dataset(
        ramp(lo=0, hi=1023).astype(np.uint16),
        bits_stored=10,
        photometric="MONOCHROME1",
        modality="CR",
    )
    ds.WindowCenter, ds.WindowWidth = 511, 1000
    return ds


def mono2_inverse() -> Dataset:
    """MONOCHROME2 with Presentation LUT Shape INVERSE."""
    ds = base_dataset(ramp(lo=0, hi=4095).astype(np.uint16), bits_stored=12)
    ds.PresentationLUTShape = "INVERSE"
    ds.WindowCenter, ds.WindowWidth = 2000, 3000
    return ds


def rescaled() -> Dataset:
    """Non-integer rescale slope and intercept."""
    ds = base_dataset(ramp(lo=0, hi=4095).astype(np.uint16), bits_stored=12, modality="PT")
    ds.RescaleSlope, ds.RescaleIntercept = "0.7345", "-100.25"
    ds.WindowCenter, ds.WindowWidth = 1300, 2500
    return ds


def linear_exact() -> Dataset:
    """VOI LUT Function LINEAR_EXACT."""
    ds = base_dataset(ramp(lo=0, hi=255).astype(np.uint16), bits_stored=8)
    ds.WindowCenter, ds.WindowWidth = 128, 100
    ds.VOILUTFunction = "LINEAR_EXACT"
    return ds


def sigmoid() -> Dataset:
    """VOI LUT Function SIGMOID."""
    ds = base_dataset(ramp(lo=0, hi=4095).astype(np.uint16), bits_stored=12)
    ds.WindowCenter, ds.WindowWidth = 2000, 1500
    ds.VOILUTFunction = "SIGMOID"
    return ds


def _bitmap(rows: int, cols: int) -> np.ndarray:
    """A rectangle outline and a diagonal: an overlay test pattern."""
    mask = np.zeros((rows, cols), dtype=bool)
    mask[4, 4:-4] = mask[-5, 4:-4] = True
    mask[4:-4, 4] = mask[4:-4, -5] = True
    idx = np.arange(min(rows, cols))
    mask[idx, idx] = True
    return mask


def _pack(mask: np.ndarray) -> bytes:
    """Overlay Data bytes (little endian bit order, even length)."""
    data = np.packbits(mask.reshape(-1).astype(np.uint8), bitorder="little").tobytes()
    return data + b"\0" if len(data) % 2 else data


def overlay_6000() -> Dataset:
    """A graphic overlay in Overlay Data (6000) and an ROI overlay (6002) with an origin."""
    ds = base_dataset(ramp(lo=0, hi=4095).astype(np.uint16), bits_stored=12)
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    mask = _bitmap(ROWS, COLS)
    ds.add_new(0x60000010, "US", ROWS)
    ds.add_new(0x60000011, "US", COLS)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60003000, "OW", _pack(mask))
    roi = np.zeros((16, 20), dtype=bool)
    roi[3:12, 4:15] = True
    ds.add_new(0x60020010, "US", 16)
    ds.add_new(0x60020011, "US", 20)
    ds.add_new(0x60020040, "CS", "R")
    ds.add_new(0x60020050, "SS", [20, 30])
    ds.add_new(0x60020100, "US", 1)
    ds.add_new(0x60020102, "US", 0)
    ds.add_new(0x60023000, "OW", _pack(roi))
    return ds


def overlay_embedded() -> Dataset:
    """An overlay stored in bit 15 of 12-in-16-bit pixel data (retired encoding)."""
    values = ramp(lo=0, hi=4095).astype(np.uint16)
    mask = _bitmap(ROWS, COLS)
    ds = base_dataset(values | (mask.astype(np.uint16) << 15), bits_stored=12)
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.add_new(0x60000010, "US", ROWS)
    ds.add_new(0x60000011, "US", COLS)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 16)
    ds.add_new(0x60000102, "US", 15)
    return ds


def enhanced_ct() -> Dataset:
    """Enhanced CT, 3 frames: rescale and window only in functional groups, per frame."""
    frames = np.stack([ramp(lo=0, hi=3000) + 100 * k for k in range(3)]).astype(np.uint16)
    ds = base_dataset(frames, sop_class=EnhancedCTImageStorage, modality="CT")
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [0.7, 0.7]
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for k in range(3):
        item = Dataset()
        pvt = Dataset()
        pvt.RescaleSlope, pvt.RescaleIntercept = 1 + k, -1024 - 10 * k
        pvt.RescaleType = "HU"
        item.PixelValueTransformationSequence = Sequence([pvt])
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = 40 + 100 * k, 400 + 200 * k
        voi.WindowCenterWidthExplanation = f"FRAME{k + 1}"
        item.FrameVOILUTSequence = Sequence([voi])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    return ds


def palette16() -> Dataset:
    """PALETTE COLOR with 16-bit table entries."""
    indices = (ramp(lo=0, hi=255)).astype(np.uint8)
    ds = base_dataset(indices, photometric="PALETTE COLOR")
    ramp16 = np.arange(256, dtype=np.uint16) * 257
    for color, table in (("Red", ramp16), ("Green", ramp16[::-1].copy()), ("Blue", ramp16 // 2)):
        ds.add_new(f"{color}PaletteColorLookupTableDescriptor", "US", [256, 0, 16])
        ds.add_new(f"{color}PaletteColorLookupTableData", "OW", table.astype("<u2").tobytes())
    return ds


def ybr_full() -> Dataset:
    """Uncompressed YBR_FULL colour."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(ROWS, COLS, 3), dtype=np.uint8)
    return base_dataset(pixels, photometric="YBR_FULL")


SAMPLES: dict[str, Callable[[], Dataset]] = {
    "signed16": signed16,
    "bits12_in16_signed": bits12_in16_signed,
    "bits12_garbage": bits12_garbage,
    "mono1": mono1,
    "mono1_inverse": mono1_inverse,
    "mono2_inverse": mono2_inverse,
    "rescaled": rescaled,
    "linear_exact": linear_exact,
    "sigmoid": sigmoid,
    "overlay_6000": overlay_6000,
    "overlay_embedded": overlay_embedded,
    "enhanced_ct": enhanced_ct,
    "palette16": palette16,
    "ybr_full": ybr_full,
}


def write(ds: Dataset, path: Path) -> Path:
    """Save ``ds`` as a DICOM file with preamble and meta header."""
    ds.save_as(path, enforce_file_format=True)
    return path


def write_all(folder: Path) -> dict[str, Path]:
    """Write every sample into ``folder``; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    return {name: write(build(), folder / f"{name}.dcm") for name, build in SAMPLES.items()}
