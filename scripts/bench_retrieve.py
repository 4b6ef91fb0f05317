"""Benchmark: retrieve a 300-slice 512x512 CT from a private Orthanc on 127.0.0.1.

First the user's path (scripts/retrieve_user_path.py), for the CT and for a 3,000-instance
study of 64x64 images: DCMTK getscu and movescu -> storescp beside the whole `tuipacs
retrieve` process into a fresh archive and the in-process retrieve of a running TUI, with
ratios and the first image. Then (unless --user-path-only) the detailed CT tables:

Prints, from one run, the median wall time of: DCMTK getscu (the reference), DCMTK
movescu -> storescp (the C-MOVE reference; storescp runs for the whole session), a
plain pynetdicom C-GET (default settings), and tuipacs' retrieve by C-GET and by
C-MOVE (a first retrieve, and one that lists instances first as when part of the
study is stored), with MB/s, the ratio to getscu and tuipacs' time to the first image.

Then each transport (TUIPACS_TRANSPORT=stock: pynetdicom's own DUL, DIMSE layer and
sending with the same tuning and safety bounds; fast: tuipacs' fast transport) side by
side on the user's path: the transfer itself in an already running process (retrieve()
into a folder, and into the archive as `tuipacs retrieve` stores it; the archive is
created before the clock starts; with nothing local, and listed first as when part of
the study is stored), the whole `tuipacs retrieve` command (a new process and archive
each run), and the other way round: DCMTK getscu from `tuipacs serve` holding the study
(the server's C-GET sending).

    python scripts/bench_retrieve.py [--slices 300] [--runs 5] [--small 3000]
                                     [--user-path-only]

Needs Orthanc, DCMTK (getscu, movescu, storescp, dcmsend) and a C compiler (for the
loopback shim).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
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
from tuipacs.dicom.transport import MODES, VARIABLE  # noqa: E402
from tuipacs.remote.archive_sink import ArchiveSink  # noqa: E402
from tuipacs.store.archive import Archive  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import retrieve_user_path as user_path  # noqa: E402


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
#: (label, run once: returns the seconds to count or None for the whole call, first-image
#: seconds list or None)
Client = tuple[str, Callable[[], float | None], list[float] | None]


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
    """Seconds of each client's runs, interleaved (one round = every client once)

    so that load from elsewhere on the machine hits every client alike. Each client
    runs once untimed first (warm-up). A client that returns seconds is counted by them
    (its set-up excluded), else by the wall time of the call.
    """
    times: list[list[float]] = [[] for _ in clients]
    for _, fn, firsts in clients:
        fn()
        if firsts is not None:
            firsts.clear()
    for _ in range(runs):
        for index, (_, fn, _) in enumerate(clients):
            start = time.perf_counter()
            counted = fn()
            wall = time.perf_counter() - start
            times[index].append(wall if counted is None else counted)
    return times


@contextmanager
def transport(mode: str) -> Iterator[None]:
    """Run with TUIPACS_TRANSPORT=mode (read by each new association)."""
    before = os.environ.get(VARIABLE)
    os.environ[VARIABLE] = mode
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(VARIABLE, None)
        else:
            os.environ[VARIABLE] = before


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--small", type=int, default=3000, help="instances of the 64x64 study (0: none)"
    )
    parser.add_argument(
        "--user-path-only", action="store_true", help="only the user-path tables (faster)"
    )
    args = parser.parse_args()
    orthanc, getscu = find_orthanc(), find_dcmtk("getscu")
    if orthanc is None or getscu is None or shutil.which("cc") is None:
        sys.exit("needs Orthanc, DCMTK getscu and cc")
    work = Path(tempfile.mkdtemp(prefix="tuipacs-bench-"))
    try:
        shim = build_bindshim(work)
        study_uid, files = ct_files(work, args.slices)
        studies = [(f"{len(files)}-slice 512x512 CT", study_uid, files)]
        if args.small:
            small_uid, small = make_ct_study(work / "small", args.small, size=64)
            studies.append((f"{len(small)}-instance 64x64 study", small_uid, small))
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
            for _, _, study_files in studies:
                peer.load(study_files)
            tables = []
            for n, (title, uid, study_files) in enumerate(studies):
                place = work / f"user-{n}"
                place.mkdir()
                count = len(study_files)
                with storescp_move(peer, uid, count, scp_port, shim, place) as move:
                    mover = move[1] if move is not None else None
                    cases = user_path.cases(peer, getscu, mover, uid, count, local, place)  # type: ignore[arg-type]
                    tables.append((title, cases, user_path.timed(cases, args.runs)))
            if not args.user_path_only:
                rows, n_clients = other_tables(peer, getscu, study_uid, files, local, work, shim,
                                               scp_port, args.runs)  # fmt: skip
        finally:
            peer.stop()
        for title, cases, times in tables:
            user_path.report(f"The user's path: {title}, Orthanc on 127.0.0.1", cases, times)
        if not args.user_path_only:
            report(rows[:n_clients], size, len(files))
            report_transports(rows[n_clients:], size, len(files), args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def other_tables(
    peer: OrthancPeer,
    getscu: str,
    study_uid: str,
    files: list[Path],
    local: LocalAE,
    work: Path,
    shim: Path,
    scp_port: int,
    runs: int,
) -> tuple[list[tuple[str, list[float], float | None]], int]:
    """The clients of the CT's detailed tables, timed: (rows, how many are clients)."""
    with storescp_move(peer, study_uid, len(files), scp_port, shim, work) as move:
        clients = make_clients(peer, getscu, study_uid, len(files), local, work)
        if move is not None:
            clients.insert(1, move)
        paths = transport_clients(peer, study_uid, len(files), local, work)
        with serving(files, study_uid, work) as served:
            paths += served
            times = timed([*clients, *paths], runs)
    rows = [
        (label, wall, statistics.median(firsts) if firsts else None)
        for (label, _, firsts), wall in zip([*clients, *paths], times, strict=True)
    ]
    return rows, len(clients)


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


def transport_clients(
    peer: OrthancPeer, study_uid: str, count: int, local: LocalAE, work: Path
) -> list[Client]:
    """The user's path on each transport: (label "path [transport]", run once, firsts)."""
    clients: list[Client] = []
    cases = (("get", "folder", False), ("get", "folder", True), ("get", "archive", False))
    for mode in MODES:
        for method, into, listed in (*cases, ("move", "archive", False)):
            node = Node("bench", peer.aet, "127.0.0.1", peer.dicom_port, method=method)  # type: ignore[arg-type]
            run = partial(
                _in_process, node, local, study_uid, count, work / "runs", into, listed, mode
            )
            how = ", listed" if listed else ""
            label = f"C-{method.upper()} into the {into}{how}, in process [{mode}]"
            clients.append((label, run, None))
        command = partial(_command, peer, study_uid, local, work / "commands", mode)
        clients.append((f"`tuipacs retrieve` C-GET, whole command [{mode}]", command, None))
    return clients


@contextmanager
def serving(files: Sequence[Path], study_uid: str, work: Path) -> Iterator[list[Client]]:
    """`tuipacs serve` holding the study, on each transport: getscu clients."""
    getscu = find_dcmtk("getscu")
    home = work / "serve-home"
    home.mkdir(parents=True)
    (home / "config.toml").write_text('ae_title = "TUIPACS"\n', encoding="utf-8")
    base = dict(os.environ, TUIPACS_HOME=str(home), PYTHONPATH=str(ROOT))
    folder = work / "serve-files"
    folder.mkdir()
    for path in files:
        shutil.copy(path, folder / path.name)
    subprocess.run(
        [sys.executable, "-m", "tuipacs", "import", str(folder)], env=base, check=True,
        capture_output=True,
    )  # fmt: skip
    servers: list[subprocess.Popen[bytes]] = []
    clients: list[Client] = []
    try:
        for mode in MODES:
            port = free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "tuipacs", "serve", "--port", str(port), "--bind",
                 "127.0.0.1"], env={**base, VARIABLE: mode}, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            servers.append(proc)
            wait_for_port(port, proc)
            run = partial(_getscu, getscu, port, study_uid, len(files), work / f"got-{mode}")
            clients.append((f"DCMTK getscu from `tuipacs serve` [{mode}]", run, None))
        yield clients if getscu is not None else []
    finally:
        for proc in servers:
            stop_process(proc)


def _getscu(getscu: str | None, port: int, study_uid: str, count: int, out: Path) -> None:
    """getscu of the whole study from tuipacs serve on `port` (the files counted)."""
    assert getscu is not None
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    args = [getscu, "-S", "-aec", "TUIPACS", "-od", str(out)]
    args += ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}"]
    subprocess.run([*args, "127.0.0.1", str(port)], env=peer_env(None), check=True)
    got = sum(1 for _ in out.iterdir())
    assert got == count, f"getscu received {got} of {count} files"


def _in_process(
    node: Node,
    local: LocalAE,
    study_uid: str,
    count: int,
    work: Path,
    into: str,
    listed: bool,
    mode: str,
) -> float:
    """One retrieve() in this process, the archive empty; the seconds of the transfer.

    `listed`: the instances are listed first (IMAGE-level C-FIND, the path taken when part
    of the study is stored), else whole series are asked for at once.
    """
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    archive = Archive.open(work / "archive") if into == "archive" else None
    folder = work / "folder"
    folder.mkdir()
    batched = ArchiveSink(archive, "retrieve from bench") if archive is not None else None

    def sink(path: Path, inst: ReceivedInstance) -> None:
        if batched is not None:  # as `tuipacs retrieve` stores: in batches
            batched(path, inst)
        else:
            path.rename(folder / inst.sop_instance_uid)

    try:
        with transport(mode):
            start = time.perf_counter()
            if archive is not None:  # as `tuipacs retrieve` does
                have, have_any = archive.has_instance, archive.has_study
            else:
                have, have_any = ((lambda uid: False), None) if listed else (None, None)
            summary = retrieve(node, local, study_uid, sink, have=have, have_any=have_any)
            if batched is not None:
                batched.ingest.close()  # the last batch durable and indexed
            seconds = time.perf_counter() - start
    finally:
        if archive is not None:
            archive.close()
    assert summary.ok and summary.completed == count, summary.errors
    return seconds


def _command(peer: OrthancPeer, study_uid: str, local: LocalAE, work: Path, mode: str) -> None:
    """`python -m tuipacs retrieve` into a new archive (the whole command is timed)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "config.toml").write_text(
        f'ae_title = "{local.ae_title}"\nport = {local.port}\n[nodes.bench]\n'
        f'ae_title = "{peer.aet}"\nhost = "127.0.0.1"\nport = {peer.dicom_port}\n',
        encoding="utf-8",
    )
    env = dict(os.environ, TUIPACS_HOME=str(work), PYTHONPATH=str(ROOT), **{VARIABLE: mode})
    args = [sys.executable, "-m", "tuipacs", "retrieve", "bench", "--study", study_uid]
    subprocess.run([*args, "--method", "get"], env=env, check=True, capture_output=True)


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


def report_transports(
    rows: list[tuple[str, list[float], float | None]], size: int, count: int, runs: int
) -> None:
    """Print the stock and fast transports side by side: medians and the gain."""
    by_path: dict[str, dict[str, float]] = {}
    for label, times, _ in rows:
        path, _, mode = label.rpartition(" [")
        by_path.setdefault(path, {})[mode.rstrip("]")] = statistics.median(times)
    print(
        f"\nTransports ({VARIABLE}), {count} images, {size / 1e6:.1f} MB, median of {runs} "
        "interleaved runs"
    )
    print(f"{'path':<50} {'stock s':>8} {'fast s':>8} {'stock/fast':>11}")
    for path, medians in by_path.items():
        stock, fast = medians["stock"], medians["fast"]
        print(f"{path:<50} {stock:8.3f} {fast:8.3f} {stock / fast:10.2f}x")


if __name__ == "__main__":
    main()
