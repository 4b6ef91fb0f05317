"""Hostile DICOM files for the decode-limit tests (not a test module; seeded, no PHI).

Each builder writes one file and returns its path. The files are small (at most ~50 KB)
but describe images that would take gigabytes to decode, contradict their own pixel data,
or make a decoder plugin panic.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

HUGE = 65535
"""Rows and Columns of the 'huge image' files (65535 x 65535 x 16-bit = 8 GiB a frame)."""


def header(
    name: str,
    syntax: str,
    rows: int,
    columns: int,
    bits: int = 16,
    *,
    frames: int | None = None,
    study: str = "",
    series: str = "",
) -> Dataset:
    """An image header with deterministic UIDs (from ``name``) and no pixel data yet."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["hostile", name, "sop"])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = study or generate_uid(entropy_srcs=["hostile", name, "study"])
    ds.SeriesInstanceUID = series or generate_uid(entropy_srcs=["hostile", name, "series"])
    ds.PatientID = "HOSTILE"
    ds.PatientName = "Hostile^Decode"
    ds.StudyDate = "20990101"
    ds.StudyDescription = f"hostile {name}"
    ds.SeriesDescription = name
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Modality = "OT"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelRepresentation = 0
    if frames is not None:
        ds.NumberOfFrames = frames
    return ds


def rle_frame(segments: list[bytes]) -> bytes:
    """An RLE frame: the 64-byte header, then the segments."""
    offsets, pos = [], 64
    for segment in segments:
        offsets.append(pos)
        pos += len(segment)
    head = struct.pack(f"<L{len(offsets)}L", len(offsets), *offsets).ljust(64, b"\0")
    return head + b"".join(segments)


def rle_runs(values: bytes) -> bytes:
    """``values`` as RLE literal runs (a valid segment)."""
    out = bytearray()
    for pos in range(0, len(values), 128):
        chunk = values[pos : pos + 128]
        out += bytes([len(chunk) - 1]) + chunk
    if len(out) % 2:
        out.append(0x80)
    return bytes(out)


def write(ds: Dataset, folder: Path, name: str) -> Path:
    """Save ``ds`` as ``folder/name.dcm``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def rle_huge(folder: Path, bits: int = 16, name: str = "", **uids: str) -> Path:
    """RLE Lossless, Rows = Columns = 65535, about 49 KB: each segment is 12,000 runs of
    128 zeros (the frame would be 8 GiB at 16 bits, 4 GiB at 8)."""
    name = name or f"rle{bits}-huge"
    ds = header(name, RLELossless, HUGE, HUGE, bits, **uids)
    segment = b"\x81\x00" * (24000 // (bits // 8))
    ds.PixelData = encapsulate([rle_frame([segment] * (bits // 8))])
    return write(ds, folder, name)


def native_short(folder: Path) -> Path:
    """Explicit VR Little Endian 512 x 512 x 16-bit with 1000 bytes of pixel data."""
    ds = header("native-short", ExplicitVRLittleEndian, 512, 512)
    ds.PixelData = bytes(1000)
    return write(ds, folder, "native-short")


def many_frames(folder: Path) -> Path:
    """64 x 64 x 16-bit, one frame of pixel data, Number of Frames 2**31 - 1."""
    ds = header("many-frames", ExplicitVRLittleEndian, 64, 64, frames=2**31 - 1)
    ds.PixelData = bytes(64 * 64 * 2)
    return write(ds, folder, "many-frames")


def rle_many_frames(folder: Path) -> Path:
    """RLE, one small compressed frame, Number of Frames 2**31 - 1."""
    ds = header("rle-many-frames", RLELossless, 16, 16, frames=2**31 - 1)
    ds.PixelData = encapsulate([rle_frame([rle_runs(bytes(256))] * 2)])
    return write(ds, folder, "rle-many-frames")


def jpeg_huge(folder: Path) -> Path:
    """JPEG Baseline 64 x 64 whose own frame header says 65535 x 65535."""
    arr = np.random.default_rng(7).integers(0, 255, (64, 64), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, HUGE, HUGE)
    ds = header("jpeg-huge", JPEGBaseline8Bit, 64, 64, 8)
    ds.PixelData = encapsulate([bytes(data)])
    return write(ds, folder, "jpeg-huge")


def rust_panics(frame: bytes, pixels: int, bits: int) -> bool:
    """True when pylibjpeg-rle's decode_frame panics on ``frame`` (a BaseException that is
    not an Exception)."""
    from rle.rle import decode_frame

    try:
        decode_frame(frame, pixels, bits, "<")
    except Exception:
        return False
    except BaseException:  # pyo3_runtime.PanicException
        return True
    return False


def fuzz_rle_panic(seed: int = 12, attempts: int = 300) -> tuple[bytes, int]:
    """A 16 x 16 x 16-bit RLE frame, its segment headers and offsets fuzzed with
    ``Random(seed)`` until pylibjpeg-rle panics on it; (frame, case number)."""
    rng = random.Random(seed)
    values = bytes(range(256))
    good = rle_frame([rle_runs(values), rle_runs(values[::-1])])
    for case in range(attempts):
        data = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            kind = rng.randrange(3)
            if kind == 0:  # a segment offset
                slot = rng.randrange(1, 3)
                struct.pack_into("<L", data, 4 * slot, rng.randrange(len(data) + 8))
            elif kind == 1:  # a run header inside a segment
                data[rng.randrange(64, len(data))] = rng.choice([0x81, 0x7F, 0xFF, 0x00])
            else:  # the segment count
                struct.pack_into("<L", data, 0, rng.randrange(4))
        if rust_panics(bytes(data), 256, 16):
            return bytes(data), case
    raise AssertionError(f"no panic in {attempts} fuzz cases with seed {seed}")


def rle_panic(folder: Path, name: str = "rle-panic", **uids: str) -> Path:
    """A 16 x 16 x 16-bit RLE file whose frame makes pylibjpeg-rle panic (seeded fuzz)."""
    frame, _ = fuzz_rle_panic()
    ds = header(name, RLELossless, 16, 16, **uids)
    ds.PixelData = encapsulate([frame])
    return write(ds, folder, name)


def deflate_bomb(folder: Path, inflated: int = 24 << 20) -> Path:
    """Deflated Explicit VR Little Endian, about 25 KB on disk, whose dataset inflates to
    ``inflated`` bytes (a private OB value of zeros after a small image)."""
    ds = header("deflate-bomb", ExplicitVRLittleEndian, 16, 16)
    ds.PixelData = bytes(512)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    creator = struct.pack("<HH2sH", 0x7FE1, 0x0010, b"LO", 8) + b"HOSTILE "
    tail = struct.pack("<HH2sHL", 0x7FE1, 0x1010, b"OB", 0, inflated)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [deflater.compress(body.getvalue() + creator + tail)]
    zeros = bytes(1 << 20)
    for _ in range(inflated >> 20):
        parts.append(deflater.compress(zeros))
    parts.append(deflater.flush())
    meta = DicomBytesIO()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "deflate-bomb.dcm"
    path.write_bytes(bytes(128) + b"DICM" + meta.getvalue() + b"".join(parts))
    return path


def item_bomb(folder: Path, items: int = 150_000) -> Path:
    """A small image after a sequence of ``items`` empty items (8 bytes each on disk,
    about 700 bytes each once pydicom has read them)."""
    ds = header("item-bomb", ExplicitVRLittleEndian, 16, 16)
    ds.PixelData = bytes(512)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    sequence = struct.pack("<HH2sHL", 0x0004, 0x1220, b"SQ", 0, 0xFFFFFFFF)
    sequence += struct.pack("<HHL", 0xFFFE, 0xE000, 0) * items
    sequence += struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    meta = DicomBytesIO()
    write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "item-bomb.dcm"
    path.write_bytes(bytes(128) + b"DICM" + meta.getvalue() + sequence + body.getvalue())
    return path


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "rle16-huge": lambda folder: rle_huge(folder, 16),
    "rle8-huge": lambda folder: rle_huge(folder, 8),
    "native-short": native_short,
    "many-frames": many_frames,
    "rle-many-frames": rle_many_frames,
    "jpeg-huge": jpeg_huge,
    "rle-panic": rle_panic,
    "deflate-bomb": deflate_bomb,
}
"""Every hostile file, by name."""


AS_LIMIT = 4 << 30
"""Address space a measured child may take: a safety net so that a regression fails the
test instead of exhausting the machine (the bound the tests assert is on RSS)."""


@dataclass
class Measured:
    """A finished child process: exit status, output and peak resident memory."""

    returncode: int
    stdout: str
    stderr: str
    max_rss: int
    """Peak resident set size in bytes (from the child's own rusage)."""

    @property
    def stderr_lines(self) -> list[str]:
        """Non-empty lines of stderr."""
        return [line for line in self.stderr.splitlines() if line.strip()]


_LAUNCH = (
    "import os, resource, signal, subprocess, sys\n"
    "limit = int(sys.argv[2])\n"
    "def cap():\n"
    "    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "child = subprocess.Popen(sys.argv[3:], preexec_fn=cap)\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "with open(sys.argv[1], 'w') as report:\n"
    "    report.write(str(usage.ru_maxrss))\n"
    "if os.WIFSIGNALED(status):\n"
    "    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)\n"
    "    os.kill(os.getpid(), os.WTERMSIG(status))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)
"""Runs the measured command from a small process: Linux keeps the high-water RSS of the
memory a process replaces on exec, and a child forked from a big test process (pytest after
many tests) would report that as its own peak."""


def run_measured(args: list[str], env: dict[str, str], timeout: float = 120.0) -> Measured:
    """Run ``args`` to the end and measure its peak RSS with wait4 (that child's rusage
    only, unlike RUSAGE_CHILDREN, which is the largest child so far), forked from a small
    launcher (see :data:`_LAUNCH`); killed with its launcher after ``timeout`` s."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as place,
    ):
        report = Path(place) / "rss"
        launcher = [sys.executable, "-c", _LAUNCH, str(report), str(AS_LIMIT), *args]
        proc = subprocess.Popen(launcher, env=env, stdout=out, stderr=err, start_new_session=True)
        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
        out.seek(0)
        err.seek(0)
        rss_kib = int(report.read_text() or 0) if report.exists() else 0
        return Measured(
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            rss_kib * 1024,
        )
