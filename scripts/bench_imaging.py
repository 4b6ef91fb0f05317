#!/usr/bin/env python3
"""Benchmark the imaging pipeline against references measured in the same run.

1. Window/level to uint8 per frame: a 512x512 CT frame, a 2048x2048 CR and a 4096x4096
   image (reduced to the viewer's 2048x2048 display size once, then windowed). References: pydicom's
   ``apply_voi_lut`` and a plain numpy expression on the same array; ``dcmj2pnm`` wall
   time per frame next to our ``render_to_file`` for the CT and CR files.
2. Decode of a synthetic 300-slice CT stack (512x512, 16 bit), uncompressed and JPEG 2000
   lossless, through the FrameCache, next to ``pydicom.dcmread(f).pixel_array`` +
   ``apply_modality_lut`` per file; and the wait per slice when scrolling at a fixed pace,
   with and without decode-ahead.
3. The FrameCache's memory for that stack.

Usage: python scripts/bench_imaging.py [--slices 300] [--repeat 30]
Targets: <= 1 ms for 512x512 and <= 5 ms for 2048x2048 window/level.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

from tuipacs.imaging.cache import FrameCache
from tuipacs.imaging.render import render_to_file
from tuipacs.imaging.voi import Window, to_uint8
from tuipacs.view.frames import reduce_for_display

CT_WINDOW = Window(40, 400)
CR_WINDOW = Window(2048, 3000)


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` in milliseconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def ct_phantom(size: int, seed: int = 0) -> np.ndarray:
    """A CT-like slice in HU: air, body ellipse, organ, bone ring, noise (int16)."""
    y, x = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    r = np.hypot(x, y * 1.3)
    hu = np.where(r < 0.8, 40.0, -1000.0)
    hu = np.where((r > 0.7) & (r < 0.75), 900.0, hu)
    hu = np.where(np.hypot(x - 0.2, y) < 0.2, 80.0, hu)
    noise = np.random.default_rng(seed).normal(0, 12, hu.shape)
    return np.clip(hu + noise, -1024, 3071).astype(np.int16)


def cr_phantom(size: int) -> np.ndarray:
    """A radiograph-like 12-bit image (uint16)."""
    y, x = np.mgrid[0 : 1 : size * 1j, 0 : 1 : size * 1j]
    base = 3000 * np.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) * 4) + 500
    noise = np.random.default_rng(1).normal(0, 30, base.shape)
    return np.clip(base + noise, 0, 4095).astype(np.uint16)


def dataset(pixels: np.ndarray, *, ct: bool) -> Dataset:
    """A single-frame image dataset (CT with rescale -1024, or CR)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage if ct else "1.2.840.10008.5.1.4.1.1.1"
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "CT" if ct else "CR"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16 if ct else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if ct else 0
    window = CT_WINDOW if ct else CR_WINDOW
    ds.WindowCenter, ds.WindowWidth = window.center, window.width
    if ct:
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        stored = (pixels.astype(np.int32) + 1024).astype(np.int16)
    else:
        stored = pixels
    ds.PixelData = stored.tobytes()
    return ds


def row(label: str, ours: float, ref: float, ref_label: str, unit: str = "ms") -> None:
    """Print one comparison line."""
    ratio = ref / ours if ours else float("inf")
    print(f"  {label:<44} {ours:9.2f} {unit}   {ref_label:<30} {ref:9.2f} {unit}   x{ratio:5.1f}")


def bench_window(repeat: int) -> None:
    """Section 1: window/level per frame."""
    print("1. window/level to uint8, per frame (median)          ours            reference")
    for label, values, ds, window in (
        ("512x512 CT (int16 HU)", ct_phantom(512), dataset(ct_phantom(512), ct=True), CT_WINDOW),
        (
            "2048x2048 CR (int16)",
            cr_phantom(2048).astype(np.int16),
            dataset(cr_phantom(2048), ct=False),
            CR_WINDOW,
        ),
    ):
        out = np.empty(values.shape, np.uint8)
        ours = median_ms(lambda v=values, w=window, o=out: to_uint8(v, w, out=o), repeat)
        ref = median_ms(lambda v=values, d=ds: apply_voi_lut(v, d), max(5, repeat // 3))
        naive = median_ms(
            lambda v=values, lo=window.low, width=window.width: np.clip(
                (v - lo) / width * 255, 0, 255
            ).astype(np.uint8),
            max(5, repeat // 3),
        )
        row(label, ours, ref, "pydicom apply_voi_lut")
        row("", ours, naive, "numpy expression")
    big = cr_phantom(4096).astype(np.float32)
    once = median_ms(lambda: reduce_for_display(big), 3)
    small = reduce_for_display(big)
    out = np.empty(small.shape, np.uint8)
    ours = median_ms(lambda: to_uint8(small, CR_WINDOW, out=out), repeat)
    full = median_ms(lambda: to_uint8(big, CR_WINDOW), 5)
    row("4096x4096: reduce to 2048x2048 (once)", once, full, "window at full size")
    row("4096x4096: window the reduced copy", ours, full, "window at full size")


def bench_dcmtk(folder: Path) -> None:
    """dcmj2pnm wall time per frame next to render_to_file."""
    if shutil.which("dcmj2pnm") is None:
        print("  (dcmj2pnm not installed: skipped)")
        return
    for label, ds in (
        ("512x512 CT", dataset(ct_phantom(512), ct=True)),
        ("2048x2048 CR", dataset(cr_phantom(2048), ct=False)),
    ):
        path = folder / f"{label.split()[0]}.dcm"
        ds.save_as(path, enforce_file_format=True)
        window = (str(ds.WindowCenter), str(ds.WindowWidth))
        dcmtk = median_ms(
            lambda p=path, w=window: subprocess.run(
                ["dcmj2pnm", "+on", "+Ww", *w, str(p), str(folder / "d.png")], check=True
            ),
            5,
        )
        center, width = float(ds.WindowCenter), float(ds.WindowWidth)
        ours = median_ms(
            lambda p=path, c=center, w=width: render_to_file(p, folder / "o.png", window=(c, w)),
            5,
        )
        row(f"render_to_file {label} (read+decode+PNG)", ours, dcmtk, "dcmj2pnm +on +Ww (process)")


def write_stack(folder: Path, slices: int, j2k: bool) -> list[Path]:
    """A synthetic CT stack, one file per slice."""
    folder.mkdir(parents=True)
    paths = []
    study, series = generate_uid(), generate_uid()
    for k in range(slices):
        ds = dataset(ct_phantom(512, seed=k), ct=True)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.InstanceNumber = k + 1
        if j2k:
            ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
        path = folder / f"{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def pydicom_decode(paths: list[Path]) -> float:
    """Seconds for dcmread + pixel_array + apply_modality_lut of every file."""
    import pydicom

    start = time.perf_counter()
    for path in paths:
        ds = pydicom.dcmread(path)
        apply_modality_lut(ds.pixel_array, ds)
    return time.perf_counter() - start


def scroll(paths: list[Path], prefetch: bool, pace_ms: float) -> tuple[list[float], FrameCache]:
    """Show every slice in order from a fresh cache, spending ``pace_ms`` per slice on
    display; returns the time (ms) each ``get`` waited for its frame."""
    cache = FrameCache(budget_bytes=512 * 1024 * 1024, workers=2)
    keys = [(p, 0) for p in paths]
    waits = []
    for i, (source, frame) in enumerate(keys):
        if prefetch:
            cache.prefetch_around(keys, i, radius=4)
        start = time.perf_counter()
        cache.get(source, frame)
        waits.append((time.perf_counter() - start) * 1000)
        time.sleep(pace_ms / 1000)
    return waits, cache


def bench_stack(folder: Path, slices: int) -> None:
    """Sections 2 and 3: stack decode and cache memory."""
    for j2k, pace in ((False, 10.0), (True, 40.0)):
        kind = "J2K lossless" if j2k else "uncompressed"
        start = time.perf_counter()
        paths = write_stack(folder / ("j2k" if j2k else "raw"), slices, j2k)
        made = time.perf_counter() - start
        size = sum(p.stat().st_size for p in paths) / 1e6
        print(f"  {kind}: {slices} slices, {size:.0f} MB on disk (written in {made:.1f} s)")
        ref = pydicom_decode(paths) * 1000 / slices
        plain, cache = scroll(paths, prefetch=False, pace_ms=pace)
        cache.close()
        ahead, cache = scroll(paths, prefetch=True, pace_ms=pace)
        label = "dcmread+pixel_array+modality"
        row(f"{kind}: decode per slice (FrameCache.get)", statistics.median(plain), ref, label)
        print(
            f"  {kind}: scrolling at {pace:.0f} ms/slice, wait per slice: "
            f"{statistics.median(plain):.2f} ms without decode-ahead, "
            f"{statistics.median(ahead):.2f} ms (p95 "
            f"{sorted(ahead)[int(0.95 * len(ahead))]:.2f}) with decode-ahead"
        )
        mib = cache.bytes_used / 2**20
        print(
            f"  {kind}: cache holds {len(cache)} frames, {mib:.1f} MiB "
            f"({cache.bytes_used // max(len(cache), 1)} bytes/frame, int16)"
        )
        cache.close()
    small = FrameCache(budget_bytes=64 * 2**20)
    for path in sorted((folder / "raw").glob("*.dcm")):
        small.get(path, 0)
    print(f"  with a 64 MiB budget: {len(small)} frames kept, {small.bytes_used / 2**20:.1f} MiB")
    small.close()


def main() -> int:
    """Run all sections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-imaging-") as tmp:
        folder = Path(tmp)
        bench_window(args.repeat)
        bench_dcmtk(folder)
        print(f"2./3. decode of a {args.slices}-slice CT stack and cache memory")
        bench_stack(folder, args.slices)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
