"""Benchmark: retrieve a 300-slice 512x512 CT from a private Orthanc on 127.0.0.1.

Prints, from one run, the median wall time of: DCMTK getscu (the reference), DCMTK
movescu -> storescp (the C-MOVE reference; storescp runs for the whole session), a
plain pynetdicom C-GET (default settings), and tuipacs' retrieve by C-GET and by
C-MOVE (a first retrieve, and one that lists instances first as when part of the
study is stored), with MB/s, the ratio to getscu and tuipacs' time to the first image.

    python scripts/bench_retrieve.py [--slices 300] [--runs 5]

Needs Orthanc, DCMTK (getscu, movescu, storescp, dcmsend) and a C compiler (for the
loopback shim).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from peers import (  # noqa: E402
    OrthancPeer,
    build_bindshim,
    find_dcmtk,
    find_orthanc,
    make_ct_study,
    peer_env,
    stop_process,
    wait_for_port,
)
from pydicom import dcmread  # noqa: E402

from tuipacs.dicom.nodes import LocalAE, Node  # noqa: E402
from tuipacs.dicom.retrieve import retrieve  # noqa: E402
from tuipacs.dicom.storage import ReceivedInstance  # noqa: E402


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ct_files(out: Path, slices: int) -> tuple[str, list[Path]]:
    """The benchmark CT: tuipacs.demo's CT if it is 512x512, else our own generator."""
    try:
        from tuipacs import demo

        files = demo.generate(out / "demo", ct_slices=slices)
        by_study: dict[str, list[Path]] = {}
        for path in files:
            ds = dcmread(path, stop_before_pixels=True)
            if ds.Modality == "CT" and int(ds.Rows) == 512:
                by_study.setdefault(str(ds.StudyInstanceUID), []).append(path)
        best = max(by_study.items(), key=lambda kv: len(kv[1]), default=None)
        if best is not None and len(best[1]) >= slices:
            return best[0], best[1]
    except Exception as exc:  # noqa: BLE001 - fall back on our generator
        print(f"(tuipacs.demo not used: {exc})")
    return make_ct_study(out / "ct", slices)


STORESCP_AET = "STORESCP"
Client = tuple[str, Callable[[], object], list[float] | None]


@contextmanager
def storescp_move(
    peer: OrthancPeer, study_uid: str, count: int, scp_port: int, shim: Path, work: Path
) -> Iterator[Client | None]:
    """DCMTK movescu -> storescp as a client (storescp runs meanwhile); None if missing."""
    movescu, storescp = find_dcmtk("movescu"), find_dcmtk("storescp")
    if movescu is None or storescp is None:
        print("(DCMTK movescu/storescp not found: no C-MOVE reference)")
        yield None
        return
    out = work / "storescp"
    out.mkdir()
    scp = subprocess.Popen(
        [storescp, "-aet", STORESCP_AET, "-od", str(out), str(scp_port)], env=peer_env(shim)
    )
    args = [movescu, "-S", "-aec", peer.aet, "-aem", STORESCP_AET]
    args += ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}"]
    args += ["127.0.0.1", str(peer.dicom_port)]

    def move() -> None:
        for path in out.iterdir():
            path.unlink()
        subprocess.run(args, env=peer_env(None), check=True)
        got = sum(1 for _ in out.iterdir())
        assert got == count, f"storescp received {got} of {count} files"

    try:
        wait_for_port(scp_port, scp)
        yield ("DCMTK movescu -> storescp", move, None)
    finally:
        stop_process(scp)


def timed(clients: Sequence[Client], runs: int) -> list[list[float]]:
    """Wall seconds of each client's runs, interleaved (one round = every client once)

    so that load from elsewhere on the machine hits every client alike. Each client
    runs once untimed first (warm-up).
    """
    times: list[list[float]] = [[] for _ in clients]
    for _, fn, firsts in clients:
        fn()
        if firsts is not None:
            firsts.clear()
    for _ in range(runs):
        for index, (_, fn, _) in enumerate(clients):
            start = time.perf_counter()
            fn()
            times[index].append(time.perf_counter() - start)
    return times


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    orthanc, getscu = find_orthanc(), find_dcmtk("getscu")
    if orthanc is None or getscu is None or shutil.which("cc") is None:
        sys.exit("needs Orthanc, DCMTK getscu and cc")
    work = Path(tempfile.mkdtemp(prefix="tuipacs-bench-"))
    try:
        shim = build_bindshim(work)
        study_uid, files = ct_files(work, args.slices)
        size = sum(p.stat().st_size for p in files)
        local = LocalAE("BENCH", port=free_port(), spool_dir=work / "spool")
        scp_port = free_port()
        peer = OrthancPeer(
            work / "orthanc",
            free_port(),
            free_port(),
            modalities={
                "bench": ("BENCH", "127.0.0.1", local.port),
                "storescp": (STORESCP_AET, "127.0.0.1", scp_port),
            },
            shim=shim,
            binary=orthanc,
        ).start()
        try:
            peer.load(files)
            with storescp_move(peer, study_uid, len(files), scp_port, shim, work) as move:
                clients = make_clients(peer, getscu, study_uid, len(files), local, work)
                if move is not None:
                    clients.insert(1, move)
                times = timed(clients, args.runs)
            rows = [
                (label, wall, statistics.median(firsts) if firsts else None)
                for (label, _, firsts), wall in zip(clients, times, strict=True)
            ]
        finally:
            peer.stop()
        report(rows, size, len(files))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def make_clients(
    peer: OrthancPeer,
    getscu: str,
    study_uid: str,
    count: int,
    local: LocalAE,
    work: Path,
) -> list[Client]:
    """The clients to time: (label, run once, first-image seconds list or None)."""
    out = work / "out"

    def fresh() -> Path:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        return out

    def dcmtk() -> None:
        args = [getscu, "-S", "-aec", peer.aet, "-od", str(fresh())]
        args += ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}"]
        subprocess.run([*args, "127.0.0.1", str(peer.dicom_port)], env=peer_env(None), check=True)

    clients: list[Client] = [
        ("DCMTK getscu (TCP_NODELAY=1)", dcmtk, None),
        ("pynetdicom C-GET, defaults", lambda: plain_get(peer, study_uid, fresh()), None),
    ]
    # "nothing local": whole series at once; "listed": IMAGE-level listing first (the
    # path taken when the archive holds part of the study), split over `parallel`.
    for method, listed in (("get", False), ("move", False), ("get", True), ("move", True)):
        node = Node("bench", peer.aet, "127.0.0.1", peer.dicom_port, method=method)  # type: ignore[arg-type]
        firsts: list[float] = []

        def ours(node: Node = node, firsts: list[float] = firsts, listed: bool = listed) -> None:
            folder = fresh()

            def sink(path: Path, inst: ReceivedInstance) -> None:
                path.rename(folder / inst.sop_instance_uid)

            have = (lambda uid: False) if listed else None
            summary = retrieve(node, local, study_uid, sink, have=have)
            assert summary.ok and summary.completed == count, summary.errors
            firsts.append(summary.first_image_seconds or 0.0)

        how = f"listed, {node.parallel} assoc." if listed else "nothing local"
        clients.append((f"tuipacs C-{method.upper()} ({how})", ours, firsts))
    return clients


def plain_get(peer: OrthancPeer, study_uid: str, out: Path) -> None:
    """A plain pynetdicom C-GET with default settings, saving each dataset."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, build_role, evt
    from pynetdicom import _config as cfg
    from pynetdicom.sop_class import CTImageStorage, StudyRootQueryRetrieveInformationModelGet

    chunked, cfg.STORE_RECV_CHUNKED_DATASET = cfg.STORE_RECV_CHUNKED_DATASET, False

    def handle(event: evt.Event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        ds.save_as(out / str(ds.SOPInstanceUID), enforce_file_format=True)
        return 0

    try:
        ae = AE("PLAIN")
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
        ae.add_requested_context(CTImageStorage)
        role = build_role(CTImageStorage, scp_role=True)
        assoc = ae.associate(
            "127.0.0.1",
            peer.dicom_port,
            ae_title=peer.aet,
            ext_neg=[role],
            evt_handlers=[(evt.EVT_C_STORE, handle)],
        )
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = study_uid
        for _ in assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet):
            pass
        assoc.release()
    finally:
        cfg.STORE_RECV_CHUNKED_DATASET = chunked


def report(rows: list[tuple[str, list[float], float | None]], size: int, count: int) -> None:
    """Print the table: medians, MB/s, ratio to getscu, first image."""
    reference = statistics.median(rows[0][1])
    print(
        f"\n{count} images, {size / 1e6:.1f} MB, Orthanc on 127.0.0.1, median of "
        f"{len(rows[0][1])} interleaved runs"
    )
    print(f"{'client':<40} {'wall s':>7} {'MB/s':>7} {'x getscu':>9} {'1st img s':>10}")
    for label, times, first in rows:
        wall = statistics.median(times)
        first_text = f"{first:.3f}" if first is not None else "-"
        print(
            f"{label:<40} {wall:7.3f} {size / 1e6 / wall:7.0f} {wall / reference:9.2f} "
            f"{first_text:>10}"
        )


if __name__ == "__main__":
    main()
