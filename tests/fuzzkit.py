"""Seeded hostile DICOM files for fuzz tests and scripts/stress.py (not a test module).

:func:`make_cases` writes ``count`` files made from a few small valid images (Explicit and
Implicit VR, RLE, JPEG 2000, an RGB multi-frame), each with its own UIDs, damaged in one
of the ways a careless or hostile sender damages files: truncation, bit flips, element
lengths that lie, absurd image dimensions, broken compressed streams, junk. The same seed
gives the same files.
"""

from __future__ import annotations

import random
import struct
import warnings
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    UltrasoundMultiFrameImageStorage,
)

#: UID root of the fuzz cases (a test root; never a real patient).
ROOT = "1.2.826.0.1.3680043.10.1043"
_SIZE = 32
_DIMENSION_TAGS = {
    "Rows": [0, 1, 65535, 4096],
    "Columns": [0, 1, 65535, 4096],
    "BitsAllocated": [0, 1, 7, 12, 64, 255],
    "BitsStored": [0, 33, 255],
    "HighBit": [0, 200],
    "SamplesPerPixel": [0, 2, 3, 255],
    "PixelRepresentation": [5],
    "PlanarConfiguration": [7],
    "NumberOfFrames": ["0", "-1", "999999999", "65535"],
    "PhotometricInterpretation": ["", "YBR_FULL_422", "PALETTE COLOR", "\x1b[2J"],
}


def _uid(seed: int, number: int, kind: int) -> str:
    """A deterministic UID of the fuzz root."""
    return f"{ROOT}.{seed}.{number}.{kind}"


def _base(seed: int, number: int, kind: str) -> Dataset:
    """A small valid image of the given kind with this case's UIDs."""
    rng = np.random.default_rng(seed * 100_003 + number)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    sop_class = UltrasoundMultiFrameImageStorage if kind == "rgb" else CTImageStorage
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = _uid(seed, number, 3)
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName = f"FUZZ^{number % 11 % 7}"
    ds.PatientID = f"FUZZ{number % 11 % 7}"  # one patient per study
    ds.StudyInstanceUID = _uid(seed, number % 11, 1)
    ds.SeriesInstanceUID = _uid(seed, number, 2)
    ds.StudyDate = "20240101"
    ds.Modality = "US" if kind == "rgb" else "CT"
    ds.InstanceNumber = number
    ds.Rows = ds.Columns = _SIZE
    if kind == "rgb":
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
        ds.NumberOfFrames = 3
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelRepresentation = 0
        ds.PixelData = rng.integers(0, 256, (3, _SIZE, _SIZE, 3), dtype=np.uint8).tobytes()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        return ds
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    pixels = rng.integers(0, 4096, (_SIZE, _SIZE), dtype=np.uint16)
    ds.PixelData = pixels.tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if kind == "implicit":
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    elif kind == "rle":
        ds.compress(RLELossless, pixels)
    elif kind == "j2k":
        try:
            ds.compress(JPEG2000Lossless, pixels, encoding_plugin="pylibjpeg")
        except Exception:  # noqa: BLE001 - no encoder: an RLE case instead
            ds.compress(RLELossless, pixels)
    return ds


def _encode(ds: Dataset) -> bytes:
    """The dataset as a Part-10 file."""
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(1, len(data))]


def _flip_bits(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 24)):
        position = rng.randrange(132, len(out))
        out[position] ^= 1 << rng.randrange(8)
    return bytes(out)


def _lying_length(data: bytes, rng: random.Random) -> bytes:
    """Overwrite the length of an element (found by its tag bytes) with a lie."""
    tags = [
        b"\x10\x00\x10\x00",  # PatientName
        b"\x20\x00\x0d\x00",  # StudyInstanceUID
        b"\x20\x00\x0e\x00",  # SeriesInstanceUID
        b"\x08\x00\x18\x00",  # SOPInstanceUID
        b"\x28\x00\x10\x00",  # Rows
        b"\xe0\x7f\x10\x00",  # PixelData
        b"\x02\x00\x00\x00",  # FileMetaInformationGroupLength
    ]
    tag = rng.choice(tags)
    position = data.find(tag, 128)
    if position < 0:
        return _flip_bits(data, rng)
    out = bytearray(data)
    lie = rng.choice([0, 1, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, len(data) * 4, rng.randrange(1 << 32)])
    vr = bytes(out[position + 4 : position + 6])
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"OF"):
        struct.pack_into("<L", out, position + 8, lie)
    elif vr.isalpha() and vr.isupper():
        struct.pack_into("<H", out, position + 6, lie & 0xFFFF)
    else:
        struct.pack_into("<L", out, position + 4, lie)
    return bytes(out)


def _junk(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(128, len(data))
    size = rng.randint(1, 256)
    return data[:start] + rng.randbytes(size) + data[start + size :]


def _absurd(ds: Dataset, rng: random.Random) -> Dataset:
    """Set one to three image attributes to values no real file has."""
    for keyword in rng.sample(sorted(_DIMENSION_TAGS), rng.randint(1, 3)):
        setattr(ds, keyword, rng.choice(_DIMENSION_TAGS[keyword]))
    return ds


def _broken_stream(ds: Dataset, rng: random.Random) -> Dataset:
    """Damage the compressed frame: RLE header counts/offsets, or bytes of the codestream."""
    if not ds.file_meta.TransferSyntaxUID.is_compressed:
        return _absurd(ds, rng)
    from pydicom.encaps import generate_fragmented_frames

    frames = [b"".join(f) for f in generate_fragmented_frames(ds.PixelData)]
    frame = bytearray(frames[0])
    if ds.file_meta.TransferSyntaxUID == RLELossless and len(frame) >= 64:
        field = rng.randrange(16)
        struct.pack_into("<L", frame, field * 4, rng.choice([0, 15, 99, 0xFFFFFFFF, 64, 1]))
    else:
        for _ in range(rng.randint(1, 40)):
            frame[rng.randrange(len(frame))] = rng.randrange(256)
        if rng.random() < 0.5:
            frame = frame[: rng.randrange(1, len(frame))]
    if len(frame) % 2:
        frame += b"\x00"
    ds.PixelData = encapsulate([bytes(frame)])
    return ds


_BYTE_MUTATIONS: list[Callable[[bytes, random.Random], bytes]] = [
    _truncate,
    _flip_bits,
    _lying_length,
    _junk,
]
_DATASET_MUTATIONS: list[Callable[[Dataset, random.Random], Dataset]] = [_absurd, _broken_stream]
KINDS = ("explicit", "implicit", "rle", "j2k", "rgb")


def make_case(seed: int, number: int) -> bytes:
    """The bytes of fuzz case `number` of `seed`."""
    rng = random.Random(seed * 1_000_003 + number)
    ds = _base(seed, number, KINDS[number % len(KINDS)])
    if rng.random() < 0.45:
        ds = rng.choice(_DATASET_MUTATIONS)(ds, rng)
        data = _encode(ds)
    else:
        data = rng.choice(_BYTE_MUTATIONS)(_encode(ds), rng)
    return data


def _meta(ds: Dataset) -> bytes:
    """Preamble and File Meta Information of `ds` as a Part-10 file has them."""
    from pydicom.filewriter import write_file_meta_info

    out = BytesIO()
    out.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(out, ds.file_meta, enforce_standard=True)  # type: ignore[arg-type]
    return out.getvalue()


def make_wire_case(seed: int, number: int) -> bytes:
    """Case `number` for a Storage SCP: valid file meta, then a damaged dataset.

    A sender reads the meta (SOP class, instance, transfer syntax) to build its C-STORE
    request; damage there would stop the case before it reaches the wire.
    """
    rng = random.Random(seed * 1_000_033 + number)
    ds = _base(seed, number, KINDS[number % len(KINDS)])
    if rng.random() < 0.45:
        ds = rng.choice(_DATASET_MUTATIONS)(ds, rng)
    whole = _encode(ds)
    meta = _meta(ds)
    body = whole[len(meta) :] if whole.startswith(meta) else whole[132:]
    if len(body) > 2 and rng.random() >= 0.45:
        body = rng.choice(_BYTE_MUTATIONS)(b"\x00" * 132 + body, rng)[132:]
    return meta + body


def make_wire_cases(folder: Path, seed: int, count: int) -> list[Path]:
    """Write `count` Storage SCP cases (see make_wire_case) into `folder`."""
    return _write(folder, seed, count, make_wire_case)


def make_cases(folder: Path, seed: int, count: int) -> list[Path]:
    """Write `count` fuzz cases into `folder` (case-NNNNN.dcm) and return their paths."""
    return _write(folder, seed, count, make_case)


def _write(folder: Path, seed: int, count: int, make: Callable[[int, int], bytes]) -> list[Path]:
    """Write cases 0..count-1 of `make` into `folder` as case-NNNNN.dcm."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the values set on purpose
        for number in range(count):
            path = folder / f"case-{number:05d}.dcm"
            path.write_bytes(make(seed, number))
            paths.append(path)
    return paths
