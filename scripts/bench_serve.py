#!/usr/bin/env python3
"""Benchmark ``tuipacs serve`` against DCMTK ``storescp``: DCMTK ``dcmsend`` of a CT series.

Both receivers run on 127.0.0.1 with TCP_NODELAY=1 in their environment (DCMTK leaves Nagle
on otherwise). For each receiver and each run:

* one sender: ``dcmsend`` of the whole series over one association;
* N senders at once: the series split into N parts, one ``dcmsend`` each.

tuipacs answers each C-STORE only once the instance is durable (fsynced); ``storescp`` does
not fsync; ``tuipacs --no-sync`` (answer before the fsync) shows what the fsync costs.
Every tuipacs run starts a fresh server on an empty archive (startup not timed);
"indexed" is when the last instance is in the archive index. ``storescp`` is measured as
shipped (one process, associations one after another) and with ``--fork`` (a process per
association, so several senders are served at once). Orthanc (its default
``SyncStorageArea: true``, fsync before it answers) is the durable reference: a PACS that
keeps the same promise as ``tuipacs serve``.

Usage: python scripts/bench_serve.py [--slices 300] [--runs 3] [--senders 4] [--no-orthanc]
Target: tuipacs throughput >= 0.8x storescp's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from peers import OrthancPeer, PeerError, build_bindshim, find_orthanc  # noqa: E402

from tuipacs import demo  # noqa: E402

LOOPBACK = "127.0.0.1"
AET = "TUIPACS"


def find_dcmtk(name: str) -> str:
    """DCMTK's program (an ELF binary, not pynetdicom's same-named Python script)."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = Path(folder or ".") / name
        if path.is_file() and os.access(path, os.X_OK):
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    return str(path)
    sys.exit(f"bench_serve: DCMTK {name} not found (apt install dcmtk)")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until 127.0.0.1:port accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench_serve: receiver exited with {proc.returncode}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"bench_serve: nothing listens on port {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate by PID, kill if needed."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def env() -> dict[str, str]:
    """Environment with Nagle off for DCMTK."""
    out = dict(os.environ)
    out["TCP_NODELAY"] = "1"
    return out


def send(dcmsend: str, port: int, parts: Sequence[Sequence[Path]]) -> float:
    """Run one dcmsend per part at once; wall seconds until all are done.

    Data the previous runs left in the page cache is written out first (``os.sync``), so no
    receiver pays for another's writeback.
    """
    os.sync()
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [dcmsend, "-aec", AET, LOOPBACK, str(port), *map(str, part)],
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for part in parts
    ]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"bench_serve: dcmsend failed: {err.decode(errors='replace')[-300:]}")
    return time.perf_counter() - start


def split(files: Sequence[Path], count: int) -> list[list[Path]]:
    """count interleaved parts."""
    return [list(files[i::count]) for i in range(count)]


def storescp_run(work: Path, files: Sequence[Path], senders: int, fork: bool) -> float:
    """dcmsend to a fresh storescp; wall seconds."""
    out = work / "storescp-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    port = free_port()
    args = [find_dcmtk("storescp"), *(["--fork"] if fork else []), "-od", str(out), str(port)]
    proc = subprocess.Popen(
        args,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port(port, proc)
        wall = send(find_dcmtk("dcmsend"), port, split(files, senders))
        got = len(list(out.iterdir()))
        if got != len(files):
            sys.exit(f"bench_serve: storescp stored {got} of {len(files)} files")
    finally:
        stop(proc)
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # children forked for associations
        except (ProcessLookupError, PermissionError):
            pass
    return wall


def _indexed(index: Path) -> int:
    try:
        with sqlite3.connect(index, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM instance").fetchone()[0])
    except sqlite3.Error:
        return 0


def tuipacs_run(
    work: Path, files: Sequence[Path], senders: int, extra: Sequence[str] = ()
) -> tuple[float, float]:
    """dcmsend to a fresh ``tuipacs serve``; (wall until acknowledged, until indexed)."""
    home = work / "tuipacs-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    port = free_port()
    server_env = env() | {"TUIPACS_HOME": str(home)}
    log = (work / "serve.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuipacs", "serve", "--port", str(port), "--bind", LOOPBACK, *extra],
        env=server_env,
        stdout=log,
        stderr=log,
    )
    log.close()
    try:
        wait_port(port, proc)
        os.sync()  # as send() does, before the clock starts
        start = time.perf_counter()
        wall = send(find_dcmtk("dcmsend"), port, split(files, senders))
        index = home / "archive" / "index.sqlite"
        # dcmsend exits 0 even when a C-STORE failed: a short wait, then a clear failure
        while (got := _indexed(index)) < len(files) and time.perf_counter() - start < wall + 30:
            time.sleep(0.01)
        indexed = time.perf_counter() - start
    finally:
        stop(proc)
    if proc.returncode != 0:
        sys.exit(f"bench_serve: tuipacs serve exited with {proc.returncode} (see {log.name})")
    if got != len(files):
        sys.exit(f"bench_serve: tuipacs indexed {got} of {len(files)} files (see {log.name})")
    return wall, indexed


def orthanc_run(work: Path, files: Sequence[Path], senders: int, shim: Path) -> float:
    """dcmsend to a fresh Orthanc (fsync before each answer, its default); wall seconds."""
    folder = work / "orthanc"
    shutil.rmtree(folder, ignore_errors=True)
    peer = OrthancPeer(
        folder,
        dicom_port=free_port(),
        http_port=free_port(),
        aet=AET,
        shim=shim,
        extra={"SyncStorageArea": True, "ConcurrentJobs": 2},
    )
    try:
        peer.start()
        wall = send(find_dcmtk("dcmsend"), peer.dicom_port, split(files, senders))
        stats = peer.rest("GET", "/statistics")
        got = int(stats["CountInstances"]) if isinstance(stats, dict) else -1
    except PeerError as exc:
        sys.exit(f"bench_serve: {exc}")
    finally:
        peer.stop()
    if got != len(files):
        sys.exit(f"bench_serve: Orthanc stored {got} of {len(files)} files (see {folder})")
    return wall


RECEIVERS = ("storescp", "storescp --fork", "Orthanc", "tuipacs serve", "tuipacs --no-sync")


def one_round(
    work: Path, files: Sequence[Path], senders: int, shim: Path | None
) -> dict[str, tuple[float, float]]:
    """Each receiver once: name -> (wall until acknowledged, until indexed)."""
    out: dict[str, tuple[float, float]] = {}
    for name in RECEIVERS:
        if name == "tuipacs serve":
            out[name] = tuipacs_run(work, files, senders)
        elif name == "tuipacs --no-sync":
            out[name] = tuipacs_run(work, files, senders, ["--no-sync"])
        elif name == "Orthanc":
            if shim is not None:
                wall = orthanc_run(work, files, senders, shim)
                out[name] = (wall, wall)
        else:
            wall = storescp_run(work, files, senders, fork=name.endswith("--fork"))
            out[name] = (wall, wall)
    return out


def flush_floor(work: Path, files: Sequence[Path]) -> float:
    """Seconds this disk needs to make the series durable, one file at a time, at best.

    Each file's bytes are written over space that is already allocated and written (no
    file or directory metadata changes) and fdatasynced: the least any receiver must wait
    per image before it may answer "stored". Added to storescp's wall time (which does not
    wait), it bounds the throughput of a receiver that answers only after the data is on disk.
    """
    data = [path.read_bytes() for path in files]
    slot = work / "flush-floor"
    largest = max(len(blob) for blob in data)
    fd = os.open(slot, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, bytes(largest))
        os.fsync(fd)
        start = time.perf_counter()
        for blob in data:
            os.pwrite(fd, blob, 0)
            os.fdatasync(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)
        slot.unlink()


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--no-orthanc", action="store_true", help="leave Orthanc out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        shim = None
        if not args.no_orthanc:
            if find_orthanc() is None:
                sys.exit("bench_serve: Orthanc not found (apt install orthanc, or --no-orthanc)")
            try:
                shim = build_bindshim(work)  # Orthanc binds 127.0.0.1 only
            except PeerError as exc:
                sys.exit(f"bench_serve: {exc} (or --no-orthanc)")
        print(f"generating a {args.slices}-slice CT with tuipacs.demo ...", flush=True)
        paths = demo.generate(work / "demo", ct_slices=args.slices)
        files = sorted(p for p in paths if p.parent.parent.name.startswith("ct-"))
        size = sum(p.stat().st_size for p in files)
        print(f"{len(files)} files, {size / 1e6:.1f} MB; median of {args.runs} interleaved runs")
        print("(dcmsend wall time until the last C-STORE is answered; tuipacs and Orthanc")
        print(" answer after fsync, storescp and tuipacs --no-sync before)")
        for senders in sorted({1, args.senders}):
            rounds = [one_round(work, files, senders, shim) for _ in range(args.runs)]
            names = [n for n in RECEIVERS if n in rounds[0]]
            walls = {n: statistics.median(r[n][0] for r in rounds) for n in names}
            indexed = statistics.median(r["tuipacs serve"][1] for r in rounds)
            print(f"\n{senders} sender(s) at once")
            header = "throughput vs storescp, --fork" + (", Orthanc" if "Orthanc" in walls else "")
            print(f"  {'receiver':<18} {'wall s':>7} {'MB/s':>6}   {header}")
            for name in names:
                wall = walls[name]
                line = f"  {name:<18} {wall:7.2f} {size / 1e6 / wall:6.0f}"
                if name.startswith("tuipacs"):
                    plain, fork = walls["storescp"] / wall, walls["storescp --fork"] / wall
                    line += f"   {plain:.2f}x, {fork:.2f}x"
                    if "Orthanc" in walls:
                        line += f", {walls['Orthanc'] / wall:.2f}x"
                print(line)
            print(f"  (tuipacs serve: every instance in the index after {indexed:.2f} s)")
            if senders == 1:
                floor = statistics.median(flush_floor(work, files) for _ in range(args.runs))
                best = walls["storescp"] / (walls["storescp"] + floor)
                print(
                    f"  (this disk makes the {len(files)} files durable one by one in"
                    f" {floor:.2f} s at best; waiting for that before each answer caps a"
                    f" receiver at {best:.2f}x storescp)"
                )


if __name__ == "__main__":
    main()
