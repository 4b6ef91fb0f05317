"""Drive hostile files through import, render and the Storage SCP; check what is left.

Shared by tests/serve/test_hostile_files.py and scripts/stress.py (not a test module).
Everything runs in child processes: a hang is a timeout, a crash is a traceback or a
signal, memory is the child's peak RSS.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: Run a command and print the peak RSS (KiB) of its process tree to stderr at the end.
_MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'\\nPEAK-RSS-KIB {rss}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


@dataclass
class Outcome:
    """How a child process ended."""

    returncode: int | None
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float
    hung: bool = False

    @property
    def tracebacks(self) -> int:
        """Number of Python tracebacks (or Rust panics) printed."""
        text = self.stdout + self.stderr
        return text.count("Traceback (most recent call last)") + text.count("panicked at")

    @property
    def crashed(self) -> bool:
        """Killed by a signal (abort, segfault) or a hang."""
        return self.hung or self.returncode is None or self.returncode < 0


def run_measured(
    command: Sequence[str], env: dict[str, str], timeout: float, cwd: Path | None = None
) -> Outcome:
    """Run `command`, wait at most `timeout` s (then kill: hung), measure its peak RSS."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", _MEASURE, *command],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    hung = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        hung = True
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
    peak = 0.0
    lines = err.splitlines()
    if lines and lines[-1].startswith("PEAK-RSS-KIB "):
        peak = int(lines[-1].split()[1]) / 1024
        err = "\n".join(lines[:-1])
    return Outcome(proc.returncode, out, err, peak, time.monotonic() - started, hung)


def cli_env(home: Path) -> dict[str, str]:
    """Environment for a tuipacs child: its own home, tracebacks shown (TUIPACS_DEBUG)."""
    env = dict(os.environ, TUIPACS_HOME=str(home), TUIPACS_DEBUG="1", TCP_NODELAY="1")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(HERE.parent), env.get("PYTHONPATH", "")) if p
    )
    return env


# --------------------------------------------------------------------------- render


#: Renders every file given in one process through the CLI's own entry point, then prints
#: one JSON list: [{"file", "code", "stderr"}] (a raised exception is code -1).
_RENDER_ALL = (
    "import contextlib, io, json, sys, traceback\n"
    "from tuipacs import cli\n"
    "out, results = sys.argv[1], []\n"
    "for path in sys.argv[2:]:\n"
    "    err = io.StringIO()\n"
    "    with contextlib.redirect_stderr(err):\n"
    "        try:\n"
    "            code = cli.main(['render', path, '-o', out])\n"
    "        except SystemExit as exc:\n"
    "            code = exc.code if isinstance(exc.code, int) else 2\n"
    "        except BaseException:\n"
    "            code = -1\n"
    "            err.write(traceback.format_exc())\n"
    "    results.append({'file': path, 'code': code, 'stderr': err.getvalue()})\n"
    "print(json.dumps(results))\n"
)


@dataclass
class RenderReport:
    """What rendering the cases did."""

    outcome: Outcome
    cases: list[dict[str, object]] = field(default_factory=list)

    @property
    def crashes(self) -> list[str]:
        """Cases that raised, printed a traceback or more than one error line."""
        bad = []
        for case in self.cases:
            err = str(case["stderr"]).strip()
            lines = [line for line in err.splitlines() if line.startswith("tuipacs:")]
            if case["code"] == -1 or "Traceback" in err or len(lines) > 1:
                bad.append(f"{case['file']}: {err[-300:]}")
            elif case["code"] not in (0, 1):
                bad.append(f"{case['file']}: exit {case['code']}: {err[-300:]}")
        return bad


def render_all(paths: Sequence[Path], home: Path, timeout: float) -> RenderReport:
    """Render every file through `tuipacs render` in one child process."""
    out = home / "render.png"
    home.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-c", _RENDER_ALL, str(out), *map(str, paths)]
    outcome = run_measured(command, cli_env(home), timeout)
    report = RenderReport(outcome)
    if outcome.returncode == 0:
        report.cases = json.loads(outcome.stdout.strip().splitlines()[-1])
    return report


# --------------------------------------------------------------------------- index


def index_problems(archive_root: Path) -> list[str]:
    """Differences between the archive index and its files, header by header."""
    import sqlite3

    from pydicom import dcmread

    index = archive_root / "index.sqlite"
    if not index.exists():
        return []
    conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    rows = conn.execute(
        "SELECT i.sop_uid, s.series_uid, st.study_uid, i.path, i.file_size, i.linked "
        "FROM instance i JOIN series s ON i.series_fk = s.id JOIN study st ON s.study_fk = st.id"
    ).fetchall()
    conn.close()
    problems = []
    indexed = set()
    for sop, series, study, rel, size, linked in rows:
        path = Path(rel) if Path(rel).is_absolute() else archive_root / rel
        if not linked:
            indexed.add(path.resolve())
        try:
            actual = path.stat().st_size
            ds = dcmread(path, stop_before_pixels=True, force=True)
            found = tuple(
                ds.get(key) for key in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")
            )
            if found[0] is None:  # no SOP Instance UID in the dataset: the file meta's counts
                found = (ds.file_meta.get("MediaStorageSOPInstanceUID"), *found[1:])
        except Exception as exc:  # noqa: BLE001 - pydicom trips; tuipacs' reader may not
            found = _reread(path)
            if found is None:
                problems.append(f"{sop}: file unreadable: {exc}")
                continue
        if actual != size:
            problems.append(f"{sop}: size {actual} on disk, {size} in the index")
        if tuple(str(v) for v in found) != (sop, series, study):
            problems.append(f"{sop}: file says {found}, index says {(sop, series, study)}")
    files = archive_root / "files"
    if files.exists():
        for path in files.rglob("*.dcm"):
            if path.resolve() not in indexed:
                problems.append(f"orphan file {path.relative_to(archive_root)}")
    return problems


def _reread(path: Path) -> tuple[str, str, str] | None:
    """(SOP, series, study) UIDs as tuipacs' own reader sees them (e.g. an element whose VR
    is misspelt, which pydicom refuses to convert), or None if it cannot read them either."""
    from tuipacs.store.records import read_record

    try:
        record = read_record(path)
    except Exception:  # noqa: BLE001 - unreadable
        return None
    return record.sop_uid, record.series_uid, record.study_uid


def indexed_uids(archive_root: Path) -> list[str]:
    """SOP Instance UIDs in the index (with repeats, if any)."""
    import sqlite3

    index = archive_root / "index.sqlite"
    if not index.exists():
        return []
    conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT sop_uid FROM instance")]
    finally:
        conn.close()


# --------------------------------------------------------------------------- send


@dataclass
class SendReport:
    """What sending the cases to a Storage SCP did (SOP Instance UID -> status)."""

    acknowledged: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    not_sent: int = 0
    aborted: int = 0
    associations: int = 0


def send_all(paths: Sequence[Path], port: int, ae_title: str = "TUIPACS") -> SendReport:
    """C-STORE each file as it is (bytes undecoded) to 127.0.0.1:port with pynetdicom.

    A file pynetdicom cannot even read the meta of is not sent; a dead association is
    counted and replaced.
    """
    from pydicom.filereader import read_file_meta_info
    from pynetdicom import AE, _config, evt
    from pynetdicom.association import Association

    from tuipacs.dicom.transport import assoc_reactor

    _config.STORE_SEND_CHUNKED_DATASET = True  # send the file's bytes, never re-encode them
    # This sender is plain pynetdicom, whose association reactor can take a C-STORE response
    # meant for send_c_store (then "Received unexpected C-STORE service message" and a 30 s
    # DIMSE timeout, counted as an abort of the server's): it gets the closed race too.
    stock_reactor = Association._run_reactor
    Association._run_reactor = assoc_reactor._run_reactor  # type: ignore[method-assign]
    try:
        return _send_all(paths, port, ae_title, AE, evt, read_file_meta_info)
    finally:
        Association._run_reactor = stock_reactor  # type: ignore[method-assign]


def _send_all(
    paths: Sequence[Path],
    port: int,
    ae_title: str,
    AE: Any,  # noqa: N803 - pynetdicom's class, imported late
    evt: Any,
    read_file_meta_info: Any,
) -> SendReport:
    """send_all's work (see there)."""

    ae = AE("FUZZER")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    syntaxes = [
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.4.90",
    ]
    classes = ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.3.1"]
    for uid in classes:
        for syntax in syntaxes:  # one context each: the SCP accepts one syntax per context
            ae.add_requested_context(uid, syntax)
    report = SendReport()
    assoc = None
    for path in paths:
        try:
            meta = read_file_meta_info(path)
            sop = str(meta.MediaStorageSOPInstanceUID)
            if str(meta.MediaStorageSOPClassUID) not in classes:
                raise ValueError("SOP class not proposed")
            if str(meta.TransferSyntaxUID) not in syntaxes:
                raise ValueError("transfer syntax not proposed")
        except Exception:  # noqa: BLE001 - a file we cannot even describe is not sent
            report.not_sent += 1
            continue
        if assoc is None or not assoc.is_established:
            handlers = [(evt.EVT_CONN_OPEN, _nodelay)]
            assoc = ae.associate("127.0.0.1", port, ae_title=ae_title, evt_handlers=handlers)
            report.associations += 1
            if not assoc.is_established:
                raise RuntimeError("the server refused a new association")
        try:
            status = assoc.send_c_store(path)
        except Exception:  # noqa: BLE001 - e.g. pynetdicom cannot read the file's dataset
            report.not_sent += 1
            continue
        code = int(status.Status) if "Status" in status else None
        if code is None:
            report.aborted += 1
        elif code == 0 or 0xB000 <= code <= 0xBFFF:
            report.acknowledged[sop] = code
        else:
            report.refused[sop] = code
    if assoc is not None and assoc.is_established:
        assoc.release()
    return report


def _nodelay(event: object) -> None:
    """Nagle off on the sender's socket (else every C-STORE waits for a delayed ACK)."""
    import socket

    sock = getattr(getattr(getattr(event, "assoc", None), "dul", None), "socket", None)
    raw = getattr(sock, "socket", None)
    if raw is not None:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def peak_rss_mb(pid: int) -> float:
    """Peak RSS (VmHWM) of a running process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def own_peak_rss_mb() -> float:
    """Our own peak RSS in MB (for scripts that run things in-process)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
