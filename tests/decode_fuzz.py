"""Seeded fuzzing of the decode path (not a test module; tests/unit/test_decode_fuzz.py runs
it in a child process to bound its memory).

Five small valid images (uncompressed 16-bit with an overlay, RLE 16-bit, RLE 8-bit RGB,
JPEG baseline, JPEG 2000) are mutated: truncated, bit-flipped, given wrong lengths or
absurd dimensions, or their compressed streams broken. Each case goes through
``render_image`` (a full read), ``make_thumbnail`` (header first, frame by frame) and the
archive's ``read_record`` / ``fast_record``. Only our error types may come out.

    python -c "import decode_fuzz; decode_fuzz.main()" SEED CASES FOLDER
"""

from __future__ import annotations

import io
import json
import random
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hostile_pixels import header
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
)

ABSURD = {
    "Rows": [0, 1, 65535, 46341],
    "Columns": [0, 1, 65535, 46341],
    "BitsAllocated": [0, 1, 7, 12, 32, 64, 65535],
    "BitsStored": [0, 1, 15, 17, 64, 65535],
    "SamplesPerPixel": [0, 2, 3, 4, 255, 65535],
    "NumberOfFrames": ["0", "2", "1000", "2147483647", "-1", "99999999999"],
    "PixelRepresentation": [1, 2, 65535],
    "PlanarConfiguration": [1, 2],
    "PhotometricInterpretation": ["RGB", "YBR_FULL_422", "PALETTE COLOR", "MONOCHROME1", ""],
}


def _gradient(rows: int, columns: int, top: int, dtype: str) -> np.ndarray:
    values = np.arange(rows * columns, dtype=np.float64) * top / (rows * columns)
    return values.reshape(rows, columns).astype(dtype)


def native() -> Dataset:
    """32 x 32 x 16-bit uncompressed, two frames, with an overlay plane."""
    ds = header("fuzz-native", ExplicitVRLittleEndian, 32, 32, frames=2)
    ds.BitsStored, ds.HighBit = 12, 11
    ds.PixelData = np.stack([_gradient(32, 32, 4000, "<u2")] * 2).tobytes()
    ds.add_new(0x60000010, "US", 32)
    ds.add_new(0x60000011, "US", 32)
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60003000, "OW", bytes(128))
    return ds


def rle16() -> Dataset:
    """32 x 32 x 16-bit RLE Lossless."""
    ds = header("fuzz-rle16", ExplicitVRLittleEndian, 32, 32)
    arr = _gradient(32, 32, 60000, "<u2")
    ds.PixelData = arr.tobytes()
    ds.compress(RLELossless, arr)
    return ds


def rle_rgb() -> Dataset:
    """16 x 16 RGB RLE Lossless."""
    ds = header("fuzz-rle-rgb", ExplicitVRLittleEndian, 16, 16, 8)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    arr = np.dstack([_gradient(16, 16, 255, "u1")] * 3)
    ds.PixelData = arr.tobytes()
    ds.compress(RLELossless, arr)
    return ds


def jpeg() -> Dataset:
    """32 x 32 8-bit JPEG Baseline."""
    buffer = io.BytesIO()
    Image.fromarray(_gradient(32, 32, 255, "u1")).save(buffer, "JPEG")
    ds = header("fuzz-jpeg", JPEGBaseline8Bit, 32, 32, 8)
    ds.PixelData = encapsulate([buffer.getvalue()])
    return ds


def j2k() -> Dataset:
    """32 x 32 x 16-bit JPEG 2000 Lossless."""
    ds = header("fuzz-j2k", ExplicitVRLittleEndian, 32, 32)
    ds.BitsStored, ds.HighBit = 12, 11
    arr = _gradient(32, 32, 4000, "<u2")
    ds.PixelData = arr.tobytes()
    ds.compress(JPEG2000Lossless, arr)
    return ds


BASES: dict[str, Callable[[], Dataset]] = {
    "native": native,
    "rle16": rle16,
    "rle-rgb": rle_rgb,
    "jpeg": jpeg,
    "j2k": j2k,
}


def _encode(ds: Dataset) -> bytes:
    out = DicomBytesIO()
    dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


def _pixel_start(data: bytes) -> int:
    """Offset of the Pixel Data value (after its element header)."""
    at = data.rfind(b"\xe0\x7f\x10\x00")
    return at + 12 if at >= 0 else len(data) // 2


def mutate(base: Dataset, rng: random.Random) -> tuple[str, bytes]:
    """One mutation of ``base``: (kind, file bytes)."""
    kind = rng.choice(["truncate", "flip", "length", "absurd", "stream", "rle-header"])
    if kind == "absurd":
        ds = base.copy()
        for _ in range(rng.randrange(1, 4)):
            keyword = rng.choice(sorted(ABSURD))
            setattr(ds, keyword, rng.choice(ABSURD[keyword]))
        return kind, _encode(ds)
    data = bytearray(_encode(base))
    start = _pixel_start(bytes(data))
    if kind == "truncate":
        return kind, bytes(data[: rng.randrange(1, len(data))])
    if kind == "flip":
        for _ in range(rng.randrange(1, 16)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == "length":  # a 4-byte length field: the pixel data's or another OB/OW one
        long_vr = (b"OB", b"OW")
        fields = [m + 8 for m in range(132, len(data) - 12) if data[m + 4 : m + 6] in long_vr]
        at = rng.choice(fields) if fields else start - 4
        value = rng.choice([0, 1, 7, 0xFFFFFFF0, 0x7FFFFFFF, 0xFFFFFFFF, len(data) * 64])
        struct.pack_into("<L", data, at, value)
    elif kind == "stream" and start < len(data):  # bytes, run headers among them
        for _ in range(rng.randrange(1, 24)):
            byte = rng.choice([rng.randrange(256), 0x00, 0x7F, 0x80, 0x81, 0xFF])
            data[rng.randrange(start, len(data))] = byte
    else:  # an RLE segment count or offset, or (other syntaxes) the first fragment's length
        first = data.find(b"\xfe\xff\x00\xe0", start + 8)
        if first < 0:
            return kind, bytes(data)
        at = first + 8 + rng.choice([0, 4, 8, 12]) if rng.random() < 0.8 else first + 4
        if at + 4 <= len(data):
            now = struct.unpack_from("<L", data, at)[0]
            shift = rng.randrange(1, 200)
            value = rng.choice([0, 1, 2, 3, 63, 64, 65, now + shift, max(0, now - shift)])
            struct.pack_into("<L", data, at, value if rng.random() < 0.95 else 0xFFFFFFFF)
    return kind, bytes(data)


def run_case(path: Path) -> list[str]:
    """Every path a file takes; the unexpected exceptions as 'Type: message' lines."""
    from tuipacs.imaging.errors import ImagingError
    from tuipacs.imaging.render import render_image
    from tuipacs.imaging.thumbnail import make_thumbnail
    from tuipacs.server.records import fast_record
    from tuipacs.store.records import BadDicomError, NotDicomError, read_record

    steps: list[tuple[Callable[[], object], tuple[type[BaseException], ...]]] = [
        (lambda: render_image(path), (ImagingError,)),
        (lambda: make_thumbnail(path), (ImagingError,)),
        (lambda: read_record(path), (BadDicomError, NotDicomError)),
        (lambda: fast_record(path), (BadDicomError, NotDicomError)),
    ]
    escaped = []
    for step, expected in steps:
        try:
            step()
        except expected as exc:
            if "\n" in str(exc):
                escaped.append(f"multi-line {type(exc).__name__}: {exc!r}")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # anything else, a Rust panic included, is a finding
            escaped.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    return escaped


def main() -> None:
    """Run SEED CASES FOLDER (argv) and print a JSON summary."""
    seed, cases, folder = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    bases = {name: build() for name, build in BASES.items()}
    started = time.monotonic()
    kinds: dict[str, int] = {}
    failures = []
    for case in range(cases):
        name = rng.choice(sorted(bases))
        kind, data = mutate(bases[name], rng)
        kinds[kind] = kinds.get(kind, 0) + 1
        path = folder / f"case-{case:04d}.dcm"
        path.write_bytes(data)
        for line in run_case(path):
            failures.append(f"case {case} ({name}, {kind}): {line}")
        path.unlink()
    summary = {
        "cases": cases,
        "kinds": kinds,
        "failures": failures,
        "seconds": round(time.monotonic() - started, 2),
    }
    print(json.dumps(summary))
