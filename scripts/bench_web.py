"""Benchmark: WADO-RS against C-GET on the same study, both ways, on 127.0.0.1.

1. tuipacs retrieving a CT study from a private Orthanc (with its DICOMweb plugin) into a
   fresh archive: by C-GET (the DIMSE client) and by WADO-RS (the DICOMweb client), as the
   whole ``tuipacs retrieve NODE --study UID`` command a user runs (a fresh TUIPACS_HOME each
   run) and in this process as a running TUI does (the archive opened before the clock).
2. Orthanc retrieving the same study from ``tuipacs serve --http`` into an empty Orthanc:
   by its DICOMweb client (``/dicom-web/servers/tuipacs/retrieve``) and, for reference,
   by C-MOVE (``/modalities/tuipacs/move``, tuipacs sending to Orthanc); the study is
   deleted from that Orthanc between runs.

Prints the median wall time of each, MB/s and the WADO-RS / DIMSE ratios; no assertions.

    python scripts/bench_web.py [--slices 300] [--size 512] [--runs 3]

Needs Orthanc with the DICOMweb plugin (Debian orthanc-dicomweb) and a C compiler (for the
loopback shim).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from peers import (  # noqa: E402
    OrthancPeer,
    build_bindshim,
    find_dicomweb_plugin,
    find_orthanc,
    make_ct_study,
    stop_process,
    wait_for_port,
)

from tuipacs.dicom.nodes import LocalAE, Node  # noqa: E402
from tuipacs.remote import client_for  # noqa: E402
from tuipacs.remote.web_node import WebNode  # noqa: E402
from tuipacs.store.archive import Archive  # noqa: E402

USER, PASSWORD, PASSWORD_ENV = "bench", "bench-pw", "TUIPACS_BENCH_PW"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(run: Callable[[], None], before: Callable[[], None], runs: int) -> float:
    """Median seconds of ``run`` (``before`` resets, outside the clock)."""
    times = []
    for _ in range(runs):
        before()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def from_orthanc(peer: OrthancPeer, study_uid: str, work: Path, runs: int) -> dict[str, float]:
    """tuipacs retrieving from Orthanc: C-GET and WADO-RS into a fresh archive each run."""
    local = LocalAE("BENCH", port=free_port(), spool_dir=work / "spool")
    dimse = Node("orthanc", peer.aet, "127.0.0.1", peer.dicom_port)
    web = WebNode("orthanc-web", peer.dicomweb, timeout=60)
    state: dict[str, Archive] = {}
    counter = iter(range(10**6))

    def fresh() -> None:
        if "archive" in state:
            state["archive"].close()
        state["archive"] = Archive.open(work / f"local-{next(counter)}")

    def retrieve(node: Node | WebNode) -> Callable[[], None]:
        def run() -> None:
            result = client_for(node, local, state["archive"]).retrieve(study_uid)
            if not result.ok:
                raise SystemExit(f"retrieve failed: {result.errors[:1]}")

        return run

    out = {
        "C-GET": timed(retrieve(dimse), fresh, runs),
        "WADO-RS": timed(retrieve(web), fresh, runs),
    }
    state["archive"].close()
    home = work / "home"

    def fresh_home() -> None:
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        (home / "config.toml").write_text(
            f'ae_title = "BENCH"\nport = {local.port}\n'
            f'[nodes.dimse]\nae_title = "{peer.aet}"\nhost = "127.0.0.1"\n'
            f"port = {peer.dicom_port}\n"
            f'[nodes.web]\nurl = "{peer.dicomweb}"\ntimeout = 60\n',
            encoding="utf-8",
        )

    def command(name: str) -> Callable[[], None]:
        def run() -> None:
            env = dict(os.environ, TUIPACS_HOME=str(home), PYTHONPATH=str(ROOT))
            args = [sys.executable, "-m", "tuipacs", "retrieve", name, "--study", study_uid]
            subprocess.run([*args, "--json"], env=env, check=True, capture_output=True)

        return run

    out["C-GET command"] = timed(command("dimse"), fresh_home, runs)
    out["WADO-RS command"] = timed(command("web"), fresh_home, runs)
    return out


def serve_home(work: Path, files: list[Path], orthanc_aet: str, orthanc_port: int) -> Path:
    """A tuipacs home holding the study, with Orthanc as a C-MOVE destination."""
    home = work / "serve-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'ae_title = "TUIPACS"\n[serve]\nhttp_users = {{ {USER} = "env:{PASSWORD_ENV}" }}\n'
        f'[nodes.orthanc]\nae_title = "{orthanc_aet}"\nhost = "127.0.0.1"\n'
        f"port = {orthanc_port}\n",
        encoding="utf-8",
    )
    env = dict(os.environ, TUIPACS_HOME=str(home))
    done = subprocess.run(
        [sys.executable, "-m", "tuipacs", "import", *map(str, files)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr.strip()}")
    return home


def from_tuipacs(
    work: Path, shim: Path, files: list[Path], study_uid: str, runs: int
) -> dict[str, float]:
    """Orthanc retrieving from ``tuipacs serve --http``: DICOMweb, and C-MOVE."""
    dicom_port, http_port, dimse, http = free_port(), free_port(), free_port(), free_port()
    home = serve_home(work, files, "ORTHANC2", dicom_port)
    env = dict(os.environ, TUIPACS_HOME=str(home), **{PASSWORD_ENV: PASSWORD})
    log = (home / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "tuipacs", "serve", "--port", str(dimse), "--bind",
         "127.0.0.1", "--http", str(http)],
        env=env, stdout=log, stderr=log,
    )  # fmt: skip
    peer: OrthancPeer | None = None
    try:
        wait_for_port(http, server, timeout=30)
        servers = {"tuipacs": [f"http://127.0.0.1:{http}/dicom-web/", USER, PASSWORD]}
        peer = OrthancPeer(
            work / "orthanc-client", dicom_port, http_port, aet="ORTHANC2",
            modalities={"tuipacs": ("TUIPACS", "127.0.0.1", dimse)}, shim=shim,
            binary=find_orthanc(), plugins=[str(find_dicomweb_plugin())],
            extra={"DicomWeb": {"Enable": True, "Root": "/dicom-web/", "Servers": servers}},
        ).start()  # fmt: skip
        client = peer

        def empty() -> None:
            for study in client.rest("GET", "/studies") or []:  # type: ignore[union-attr]
                client.rest("DELETE", f"/studies/{study}")

        def call(path: str, body: object) -> Callable[[], None]:
            def run() -> None:
                client.rest("POST", path, json.dumps(body).encode())
                held = client.rest("GET", "/instances")
                if not isinstance(held, list) or len(held) != len(files):
                    raise SystemExit(f"{path}: Orthanc holds {len(held or [])} instances")

            return run

        def served_ms() -> float:
            """Milliseconds tuipacs spent answering WADO-RS so far (its request log)."""
            text = (home / "serve.log").read_text(encoding="utf-8", errors="replace")
            return sum(
                float(line.split(" ms,")[0].rsplit(" ", 1)[1])
                for line in text.splitlines()
                if " GET /dicom-web/studies/" in line and " ms," in line
            )

        move = {"Level": "Study", "Resources": [{"StudyInstanceUID": study_uid}],
                "TargetAet": "ORTHANC2", "Synchronous": True}  # fmt: skip
        web = timed(call("/dicom-web/servers/tuipacs/retrieve",
                         {"Resources": [{"Study": study_uid}]}), empty, runs)  # fmt: skip
        served = served_ms() / 1000 / runs
        return {"DICOMweb": web, "served": served,
                "C-MOVE": timed(call("/modalities/tuipacs/move", move), empty, runs)}  # fmt: skip
    finally:
        if peer is not None:
            peer.stop()
        stop_process(server, grace=15)
        log.close()


def main() -> None:
    """Run and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if find_orthanc() is None or find_dicomweb_plugin() is None or shutil.which("cc") is None:
        sys.exit("needs Orthanc, its DICOMweb plugin and cc")
    work = Path(tempfile.mkdtemp(prefix="tuipacs-bench-web-"))
    try:
        shim = build_bindshim(work)
        study_uid, files = make_ct_study(work / "study", args.slices, size=args.size)
        mb = sum(p.stat().st_size for p in files) / 1e6
        peer = OrthancPeer(
            work / "orthanc", free_port(), free_port(), shim=shim, binary=find_orthanc(),
            plugins=[str(find_dicomweb_plugin())],
        ).start()  # fmt: skip
        try:
            peer.load(files)
            first = from_orthanc(peer, study_uid, work, args.runs)
        finally:
            peer.stop()
        second = from_tuipacs(work, shim, files, study_uid, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    title = f"{len(files)} instances {args.size}x{args.size}, {mb:.1f} MB, median of {args.runs}"
    print(f"\n{title}")
    rows = [
        ("`tuipacs retrieve` <- Orthanc, C-GET, whole", first["C-GET command"]),
        ("`tuipacs retrieve` <- Orthanc, WADO-RS, whole", first["WADO-RS command"]),
        ("tuipacs <- Orthanc, C-GET, in process", first["C-GET"]),
        ("tuipacs <- Orthanc, WADO-RS, in process", first["WADO-RS"]),
        ("Orthanc <- tuipacs serve, C-MOVE", second["C-MOVE"]),
        ("Orthanc <- tuipacs serve --http, DICOMweb", second["DICOMweb"]),
    ]
    for name, seconds in rows:
        print(f"  {name:<44} {seconds:7.2f} s  {mb / seconds:7.1f} MB/s")
    print(f"  (of which tuipacs serve --http answering: {second['served']:.2f} s a run)")
    whole = first["WADO-RS command"] / first["C-GET command"]
    print(f"  WADO-RS / C-GET, the whole command:          {whole:.2f} (target <= 1.5)")
    print(f"  WADO-RS / C-GET (tuipacs retrieving):        {first['WADO-RS'] / first['C-GET']:.2f}")
    print(f"  DICOMweb / C-MOVE (Orthanc from tuipacs):    "
          f"{second['DICOMweb'] / second['C-MOVE']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
