"""bench_retrieve's user-path table: what a user runs, beside DCMTK, in the same run.

For each study (the 300-slice CT, and a study of many small images where the cost per
instance dominates) and each retrieve method, timed in interleaved rounds:

* DCMTK getscu into a folder (the C-GET reference) and DCMTK movescu into storescp (the
  C-MOVE reference; storescp runs for the whole session);
* the whole ``python -m tuipacs retrieve NODE --study UID`` process into a fresh archive
  (a new TUIPACS_HOME each run: start-up, planning, transfer, batched commit);
* the in-process path of a running TUI: the client seam's ``retrieve`` into an archive
  opened before the clock starts (what the TUI's retrieve does), with its first image
  (when the first batch was indexed, so the image can be opened).

Ratios are to getscu for C-GET rows and to movescu -> storescp for C-MOVE rows.
Targets (issue "Speed on the user's path"): whole process <= 1.5x, in process <= 1.1x,
first image < 0.3 s.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from peers import OrthancPeer, peer_env

from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.transport import VARIABLE

ROOT = Path(__file__).resolve().parents[1]

#: (label, reference label, run once -> first-image seconds or None)
Case = tuple[str, str, Callable[[], float | None]]
GETSCU = "DCMTK getscu"
MOVESCU = "DCMTK movescu -> storescp"


def cases(
    peer: OrthancPeer,
    getscu: str,
    move: Callable[[], None] | None,
    study_uid: str,
    count: int,
    local: LocalAE,
    work: Path,
) -> list[Case]:
    """The clients of one study's table."""
    out = work / "getscu"

    def dcmtk_get() -> None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        args = [getscu, "-S", "-aec", peer.aet, "-od", str(out)]
        args += ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}"]
        subprocess.run([*args, "127.0.0.1", str(peer.dicom_port)], env=peer_env(None), check=True)
        got = sum(1 for _ in out.iterdir())
        assert got == count, f"getscu received {got} of {count} files"

    def untimed_first(fn: Callable[[], None]) -> Callable[[], float | None]:
        def run() -> float | None:
            fn()
            return None

        return run

    found: list[Case] = [(GETSCU, GETSCU, untimed_first(dcmtk_get))]
    if move is not None:
        found.append((MOVESCU, MOVESCU, untimed_first(move)))
    for method, reference in (("get", GETSCU), ("move", MOVESCU)):
        if method == "move" and move is None:
            continue
        found.append(
            (
                f"`tuipacs retrieve` C-{method.upper()}, whole process",
                reference,
                lambda m=method: command(peer, study_uid, count, local, work / "cmd", m),
            )
        )
        found.append(
            (
                f"tuipacs C-{method.upper()} into the archive, in process",
                reference,
                lambda m=method: in_process(peer, study_uid, count, local, work / "inproc", m),
            )
        )
    return found


def command(
    peer: OrthancPeer, study_uid: str, count: int, local: LocalAE, home: Path, method: str
) -> float | None:
    """`python -m tuipacs retrieve` into a new archive; its first image (from --json)."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        f'ae_title = "{local.ae_title}"\nport = {local.port}\n[nodes.bench]\n'
        f'ae_title = "{peer.aet}"\nhost = "127.0.0.1"\nport = {peer.dicom_port}\n',
        encoding="utf-8",
    )
    env = dict(os.environ, TUIPACS_HOME=str(home), PYTHONPATH=str(ROOT))
    args = [sys.executable, "-m", "tuipacs", "retrieve", "bench", "--study", study_uid]
    done = subprocess.run(
        [*args, "--method", method, "--json"], env=env, check=True, capture_output=True
    )
    result = json.loads(done.stdout)
    assert result["ok"] and result["completed"] == count, result
    return result.get("first_image_seconds")


def in_process(
    peer: OrthancPeer, study_uid: str, count: int, local: LocalAE, work: Path, method: str
) -> float | None:
    """The client seam's retrieve into an archive opened beforehand (as in the TUI);
    returns the first image's seconds. The clock (the caller's) includes opening the
    archive, a few ms, as the TUI's archive is open already: kept for simplicity."""
    from tuipacs.remote import client_for
    from tuipacs.store.archive import Archive

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    archive = Archive.open(work / "archive")
    node = Node("bench", peer.aet, "127.0.0.1", peer.dicom_port, method=method)  # type: ignore[arg-type]
    try:
        spool = LocalAE(local.ae_title, port=local.port, spool_dir=archive.root / "tmp")
        result = client_for(node, spool, archive).retrieve(study_uid)
    finally:
        archive.close()
    assert result.ok and result.completed == count, result.errors
    return result.first_image_seconds


def timed(rows: Sequence[Case], runs: int) -> list[tuple[list[float], list[float]]]:
    """(wall seconds, first-image seconds) of each case over interleaved rounds, after
    one untimed warm-up round."""
    for _, _, fn in rows:
        fn()
    out: list[tuple[list[float], list[float]]] = [([], []) for _ in rows]
    for _ in range(runs):
        for index, (_, _, fn) in enumerate(rows):
            start = time.perf_counter()
            first = fn()
            out[index][0].append(time.perf_counter() - start)
            if first is not None:
                out[index][1].append(first)
    return out


def report(title: str, rows: Sequence[Case], times: list[tuple[list[float], list[float]]]) -> None:
    """Print one study's table: medians, ratio to the reference, first image."""
    medians = {label: statistics.median(t[0]) for (label, _, _), t in zip(rows, times, strict=True)}
    print(f"\n{title}, median of {len(times[0][0])} interleaved runs")
    print(f"{'client':<48} {'wall s':>7} {'x ref':>7} {'1st img s':>10}")
    for (label, reference, _), (walls, firsts) in zip(rows, times, strict=True):
        wall = statistics.median(walls)
        ratio = wall / medians[reference]
        first = f"{statistics.median(firsts):.3f}" if firsts else "-"
        print(f"{label:<48} {wall:7.3f} {ratio:6.2f}x {first:>10}")
    print(
        "targets: whole process <= 1.5x, in process <= 1.1x (x ref: getscu for C-GET, "
        f"movescu -> storescp for C-MOVE), first image < 0.3 s [{VARIABLE}="
        f"{os.environ.get(VARIABLE, 'default')}]"
    )
