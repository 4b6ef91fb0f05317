#!/usr/bin/env python3
"""Benchmark the local archive: import throughput and listing latency.

1. Import of 10,000 small DICOM files (headers only) through the batched path (one flush,
   one placement sweep and one transaction per batch), copying and with --link, in process
   and as the whole `tuipacs import` command, next to a plain pydicom header-read loop and
   `cp -r` of the same files measured in the same run.
2. `ls` filter latency on a synthetic index of 100,000 studies / 1,000,000 instances.

Usage: python scripts/bench_store.py [--files 10000] [--studies 100000]
Targets: >= 3,000 files/s import (copying); < 20 ms per filter.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.store.query import StudyFilter, list_studies

ROOT = "1.2.826.0.1.3680043.8.498."


def write_files(folder: Path, count: int) -> None:
    """Write ``count`` small CT files (64x64, 16 bit) over 100 studies."""
    base = Dataset()
    base.SpecificCharacterSet = "ISO_IR 100"
    base.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    base.Modality = "CT"
    base.Rows = base.Columns = 64
    base.BitsAllocated = base.BitsStored = 16
    base.HighBit = 15
    base.SamplesPerPixel = 1
    base.PixelRepresentation = 0
    base.PhotometricInterpretation = "MONOCHROME2"
    base.PixelData = bytes(64 * 64 * 2)
    folder.mkdir(parents=True)
    for n in range(count):
        ds = base.copy()
        study = n % 100
        ds.PatientName = f"BENCH^PATIENT{study}"
        ds.PatientID = f"B{study}"
        ds.StudyInstanceUID = f"{ROOT}1.{study}"
        ds.SeriesInstanceUID = f"{ROOT}2.{study}"
        ds.SOPInstanceUID = f"{ROOT}3.{n}"
        ds.StudyDate = "20240101"
        ds.InstanceNumber = n
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(folder / f"{n:06d}.dcm", enforce_file_format=True)


def bench_import(work: Path, count: int) -> None:
    src = work / "src"
    print(f"writing {count} files ...", flush=True)
    write_files(src, count)
    files = sorted(src.iterdir())

    start = time.perf_counter()
    for path in files:
        pydicom.dcmread(path, stop_before_pixels=True)
    ref_read = time.perf_counter() - start

    start = time.perf_counter()
    subprocess.run(["cp", "-r", str(src), str(work / "cp")], check=True)
    ref_cp = time.perf_counter() - start

    from tuipacs.server.records import fast_record  # what `tuipacs import` reads with

    results = {}
    for mode in ("copy", "link"):
        archive = Archive.open(work / f"archive-{mode}")
        summary = import_paths(archive, [src], link=mode == "link", reader=fast_record)
        assert summary.added == count, summary.to_json()
        results[mode] = summary.seconds
        archive.close()
    home = work / "home"
    home.mkdir()
    env = {**os.environ, "TUIPACS_HOME": str(home)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tuipacs", "import", str(src), "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    results["command"] = time.perf_counter() - start
    assert json.loads(done.stdout)["added"] == count, done.stdout[:500]

    print(f"\nimport of {count} files (64x64 CT, {files[0].stat().st_size} bytes each)")
    print(f"  {'what':<42}{'seconds':>9}{'files/s':>10}{'ratio':>8}")
    rows = [
        ("reference: pydicom header read loop", ref_read),
        ("reference: cp -r (no parsing)", ref_cp),
        ("import_paths (copy, batched flush, index)", results["copy"]),
        ("import_paths --link (index only)", results["link"]),
        ("`tuipacs import` whole process (copy)", results["command"]),
    ]
    for label, seconds in rows:
        print(f"  {label:<42}{seconds:9.2f}{count / seconds:10.0f}{seconds / ref_read:8.2f}")
    print("  target: >= 3,000 files/s copying; ratio is to the pydicom header read loop")


def fill_index(archive: Archive, studies: int, per_study: int) -> None:
    """Synthetic rows straight into the index (no files)."""
    rng = random.Random(7)
    surnames = ["SMITH", "MÜLLER", "GARCIA", "NGUYEN", "ROSSI", "KOWALSKI", "DUBOIS", "TANAKA"]
    mods = ["CT", "MR", "CR", "US", "DX", "PT"]
    conn = archive._conn()
    conn.execute("BEGIN")
    patients = studies // 2
    conn.executemany(
        "INSERT INTO patient(id, patient_id, patient_name, name_search) VALUES (?, ?, ?, ?)",
        (
            (p, f"PID{p}", n, n.lower())
            for p in range(1, patients + 1)
            for n in [f"{rng.choice(surnames)}^NAME{p}"]
        ),
    )
    names = dict(conn.execute("SELECT id, name_search FROM patient"))
    study_rows = []
    for s in range(1, studies + 1):
        p = rng.randint(1, patients)
        date = f"{rng.randint(2005, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        study_rows.append(
            (
                s,
                p,
                f"{ROOT}9.{s}",
                date,
                f"ACC{s}",
                rng.choice(mods),
                1,
                per_study,
                f"PID{p}",
                names[p],
            )
        )
    conn.executemany(
        "INSERT INTO study(id, patient_fk, study_uid, study_date, accession, modalities, "
        "num_series, num_instances, patient_id, name_search) VALUES (?,?,?,?,?,?,?,?,?,?)",
        study_rows,
    )
    conn.executemany(
        "INSERT INTO series(id, study_fk, series_uid, modality, num_instances) VALUES (?,?,?,?,?)",
        ((s, s, f"{ROOT}8.{s}", "CT", per_study) for s in range(1, studies + 1)),
    )
    conn.executemany(
        "INSERT INTO instance(series_fk, sop_uid, path, received) VALUES (?, ?, ?, 0)",
        (
            (s, f"{ROOT}7.{s}.{i}", f"files/x/{s}/{i}.dcm")
            for s in range(1, studies + 1)
            for i in range(per_study)
        ),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")


def bench_ls(work: Path, studies: int) -> None:
    archive = Archive.open(work / "big")
    start = time.perf_counter()
    fill_index(archive, studies, 10)
    print(
        f"\nindex of {studies} studies / {studies * 10} instances built in "
        f"{time.perf_counter() - start:.1f} s"
    )
    filters = {
        "name smith*": StudyFilter(patient_name="smith*"),
        "name *name4242* (substring)": StudyFilter(patient_name="name4242"),
        "patient ID": StudyFilter(patient_id="PID777"),
        "date range 1 month": StudyFilter(date="20200101-20200131"),
        "modality MR, 2024": StudyFilter(modality="MR", date="20240101-20241231"),
        "accession": StudyFilter(accession="ACC31337"),
        "name + date": StudyFilter(patient_name="müller*", date="20100101-20101231"),
    }
    print(f"  {'filter (limit 500 rows, like the browser)':<44}{'rows':>6}{'median ms':>11}")
    for label, flt in filters.items():
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            rows = list_studies(archive, flt, limit=500)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"  {label:<44}{len(rows):>6}{statistics.median(times):>11.2f}")
    t0 = time.perf_counter()
    archive.execute("SELECT count(*) FROM study")
    print(
        f"  reference: SELECT count(*) FROM study     {'':>6}"
        f"{(time.perf_counter() - t0) * 1000:>11.2f}"
    )
    print("  target: < 20 ms per filter")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--import-only", action="store_true", help="skip the ls benchmark")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tuipacs-bench-") as tmp:
        work = Path(tmp)
        bench_import(work, args.files)
        if not args.import_only:
            bench_ls(work, args.studies)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
