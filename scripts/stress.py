#!/usr/bin/env python3
"""Stress tuipacs with hostile files and busy senders; print what broke.

The long version of tests/serve/test_hostile_files.py, plus load:

1. ``--cases`` seeded hostile files (tests/fuzzkit.py) through ``tuipacs import`` (one
   process), ``tuipacs render`` (every file, one process) and the Storage SCP of
   ``tuipacs serve`` (raw C-STOREs with pynetdicom): crashes (tracebacks, signals), hangs
   (timeouts), peak RSS, and whether the archive's index and files still agree;
2. ``--senders`` processes each sending ``--images`` valid images at once to one
   ``tuipacs serve`` while a C-FIND runs every 0.2 s: images sent, acknowledged, stored,
   lost (acknowledged but not in the archive) and duplicated, and the slowest C-FIND.

Usage: python scripts/stress.py [--cases 2000] [--seed 1] [--senders 8] [--images 250]
Exit status 1 if anything crashed, hung, was lost or duplicated.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "serve")]

from fuzzkit import make_cases, make_wire_cases  # noqa: E402
from hostile import (  # noqa: E402
    SendReport,
    cli_env,
    index_problems,
    indexed_uids,
    peak_rss_mb,
    render_all,
    run_measured,
    send_all,
)
from peers import make_ct_study  # noqa: E402
from servekit import ServerProcess  # noqa: E402


def _row(name: str, *values: object) -> None:
    print(f"  {name:<34}" + "".join(f"{v!s:>12}" for v in values))


def fuzz(work: Path, cases: int, seed: int) -> bool:
    """Phase 1; returns True when nothing broke."""
    started = time.monotonic()
    paths = make_cases(work / "cases", seed, cases)
    print(f"{cases} hostile files (seed {seed}) made in {time.monotonic() - started:.1f} s")
    print(f"  {'path':<34}{'crashes':>12}{'hangs':>12}{'peak MB':>12}{'index':>12}{'s':>12}")
    ok = True

    home = work / "import"
    command = [sys.executable, "-m", "tuipacs", "import", str(work / "cases")]
    done = run_measured(command, cli_env(home), timeout=max(120.0, cases * 0.2))
    problems = index_problems(home / "archive")
    crashes = done.tracebacks + int(done.crashed and not done.hung)
    _row("import", crashes, int(done.hung), f"{done.peak_rss_mb:.0f}", len(problems),
         f"{done.seconds:.1f}")  # fmt: skip
    ok &= not (crashes or done.hung or problems)

    report = render_all(paths, work / "render", timeout=max(120.0, cases * 0.2))
    crashes = len(report.crashes) + int(report.outcome.crashed and not report.outcome.hung)
    _row("render", crashes, int(report.outcome.hung), f"{report.outcome.peak_rss_mb:.0f}",
         "-", f"{report.outcome.seconds:.1f}")  # fmt: skip
    for line in report.crashes[:5]:
        print(f"    {line[:200]!r}")
    ok &= not (crashes or report.outcome.hung)

    server = ServerProcess.start(work / "scp")
    started = time.monotonic()
    try:
        sent = send_all(make_wire_cases(work / "wire", seed, cases), server.port)
        alive = server.alive()
        peak = peak_rss_mb(server.proc.pid) if server.proc and alive else 0.0
        server.signal()
    finally:
        server.stop()
    stored = set(indexed_uids(server.archive_root))
    lost = set(sent.acknowledged) - stored
    problems = index_problems(server.archive_root)
    crashes = server.log.count("Traceback") + int(not alive)
    _row("storage SCP", crashes, 0, f"{peak:.0f}", len(problems),
         f"{time.monotonic() - started:.1f}")  # fmt: skip
    print(
        f"    {len(sent.acknowledged)} acknowledged, {len(sent.refused)} refused with a status, "
        f"{sent.aborted} aborted, {sent.not_sent} not sendable, {len(lost)} lost"
    )
    return ok and not (crashes or problems or lost or sent.aborted)


def _send_process(args: tuple[list[Path], int]) -> SendReport:
    paths, port = args
    return send_all(paths, port)


def load(work: Path, senders: int, images: int) -> bool:
    """Phase 2; returns True when nothing was lost or duplicated."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE

    batches = []
    for number in range(senders):
        _, files = make_ct_study(work / f"sender-{number}", images, size=256)
        batches.append(files)
    server = ServerProcess.start(work / "load")
    slowest = 0.0
    finds = 0
    stop = threading.Event()

    def query() -> None:
        nonlocal slowest, finds
        ae = AE("STRESSQ")
        ae.add_requested_context("1.2.840.10008.5.1.4.1.2.2.1")
        ae.acse_timeout = ae.dimse_timeout = 30
        while not stop.wait(0.2):
            identifier = Dataset()
            identifier.QueryRetrieveLevel = "STUDY"
            identifier.StudyInstanceUID = ""
            started = time.monotonic()
            assoc = ae.associate("127.0.0.1", server.port, ae_title="TUIPACS")
            if assoc.is_established:
                for _ in assoc.send_c_find(identifier, "1.2.840.10008.5.1.4.1.2.2.1"):
                    pass
                assoc.release()
            slowest = max(slowest, time.monotonic() - started)
            finds += 1

    querier = threading.Thread(target=query)
    started = time.monotonic()
    try:
        querier.start()
        with multiprocessing.Pool(senders) as pool:
            reports = pool.map(_send_process, [(files, server.port) for files in batches])
        seconds = time.monotonic() - started
        stop.set()
        querier.join()
        alive = server.alive()
        server.signal()
    finally:
        stop.set()
        server.stop()
    acknowledged = set().union(*(set(r.acknowledged) for r in reports))
    stored = indexed_uids(server.archive_root)
    lost = acknowledged - set(stored)
    duplicated = len(stored) - len(set(stored))
    sent = senders * images
    print(f"{senders} senders x {images} images at once, C-FIND every 0.2 s")
    refused = sum(len(r.refused) for r in reports)
    aborted = sum(r.aborted for r in reports) + sum(r.not_sent for r in reports)
    statuses = sorted({f"0x{code:04X}" for r in reports for code in r.refused.values()})
    _row("sent / acknowledged / stored", sent, len(acknowledged), len(stored))
    _row("refused / aborted or unsent", refused, aborted, " ".join(statuses))
    _row("lost / duplicated", len(lost), duplicated)
    _row("seconds / C-FINDs / slowest (s)", f"{seconds:.1f}", finds, f"{slowest:.3f}")
    return alive and not lost and not duplicated and len(acknowledged) == sent


def main() -> int:
    """Parse arguments, run both phases, print the figures."""
    parser = argparse.ArgumentParser(prog="stress.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000, help="hostile files (2000; 0: none)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the hostile files")
    parser.add_argument("--senders", type=int, default=8, help="concurrent senders (8; 0: none)")
    parser.add_argument("--images", type=int, default=250, help="images per sender (250)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # pydicom's warnings about the damaged files
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    work = Path(tempfile.mkdtemp(prefix="tuipacs-stress-"))
    try:
        ok = fuzz(work, args.cases, args.seed) if args.cases else True
        ok &= load(work, args.senders, args.images) if args.senders else True
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
