#!/usr/bin/env python3
"""Cold start to interactive: ``tuipacs`` until its browser lists the archive.

Each run starts a fresh process on a pseudo-terminal of 160 x 50 cells (1600 x 1000 px) and
times from ``exec`` until the browser's status line ("N studies · sorted by ...") reaches the
terminal, i.e. the study table is filled and keys work. The reference is a trivial Textual
app (one Static) started the same way in the same run; the difference is what tuipacs adds.
The demo archive (a small CT) is generated once beforehand in a temporary TUIPACS_HOME and
is not timed. Target: tuipacs under 1 s.

Usage: python scripts/bench_startup.py [--runs N] [--graphics halfcell|auto]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS, COLS, XPIXEL, YPIXEL = 50, 160, 1600, 1000
TUIPACS_MARKER = re.compile(rb"studies \xc2\xb7 sorted by")
TRIVIAL_MARKER = re.compile(rb"trivial app ready")
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[PX^_].*?\x1b\\|\x1b\][^\x07]*\x07|\x1b.")
DA1_QUERY = b"\x1b[c"
DA1_REPLY = b"\x1b[?62;22c"  # a VT220-class terminal without Sixel

TRIVIAL_APP = """
from textual.app import App
from textual.widgets import Static


class Trivial(App):
    def compose(self):
        yield Static("trivial app ready")


Trivial().run()
"""


def spawn(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``argv`` on a new pty sized like a 160 x 50 terminal; returns (process, master)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, XPIXEL, YPIXEL))
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(slave)
    return proc, master


def time_to_marker(argv: list[str], env: dict[str, str], marker: re.Pattern[bytes]) -> float:
    """Seconds from start until ``marker`` shows in the text the program writes."""
    start = time.perf_counter()
    proc, master = spawn(argv, env)
    seen = b""
    try:
        while time.perf_counter() - start < 30:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    raise RuntimeError(f"{argv[-1]} exited early: {ANSI.sub(b'', seen)[-300:]!r}")
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if DA1_QUERY in chunk:
                os.write(master, DA1_REPLY)  # answer a probe like a plain terminal
            seen += chunk
            if marker.search(ANSI.sub(b"", seen)):
                return time.perf_counter() - start
        raise RuntimeError(f"no marker after 30 s: {ANSI.sub(b'', seen)[-300:]!r}")
    finally:
        stop(proc, master)


def stop(proc: subprocess.Popen[bytes], master: int) -> None:
    """Terminate the program by its PID (and its session), then close the pty."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    os.close(master)


def prepare_home(home: Path, env: dict[str, str]) -> None:
    """Generate the demo archive once (not timed)."""
    subprocess.run(
        [sys.executable, "-m", "tuipacs", "demo", "--ct-slices", "40"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def summary(name: str, times: list[float]) -> str:
    """Median, min and max in milliseconds."""
    med, low, high = (v * 1000 for v in (statistics.median(times), min(times), max(times)))
    return f"{name:<28} median {med:7.0f} ms   min {low:6.0f}   max {high:6.0f}"


def measure(runs: int, graphics: str) -> tuple[list[float], list[float]]:
    """Seconds to interactive per run: (trivial Textual app, tuipacs), interleaved."""
    with tempfile.TemporaryDirectory(prefix="tuipacs-bench-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = {**os.environ, "TUIPACS_HOME": str(home), "TERM": "xterm-256color"}
        env.pop("TUIPACS_GRAPHICS", None)
        env["COLORTERM"] = "truecolor"
        prepare_home(home, env)
        trivial = Path(tmp) / "trivial.py"
        trivial.write_text(TRIVIAL_APP, encoding="utf-8")
        tuipacs_argv = [sys.executable, "-m", "tuipacs", "--graphics", graphics]
        trivial_argv = [sys.executable, str(trivial)]
        ours: list[float] = []
        reference: list[float] = []
        for _ in range(runs):  # interleaved, so both see the same machine state
            reference.append(time_to_marker(trivial_argv, env, TRIVIAL_MARKER))
            ours.append(time_to_marker(tuipacs_argv, env, TUIPACS_MARKER))
    return reference, ours


def main() -> int:
    """Run the comparison and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--graphics", default="halfcell", choices=("halfcell", "auto"))
    args = parser.parse_args()
    reference, ours = measure(args.runs, args.graphics)
    print(
        f"cold start to interactive, {args.runs} runs, {COLS}x{ROWS} pty, graphics {args.graphics}"
    )
    print(summary("trivial Textual app", reference))
    print(summary("tuipacs (browser listed)", ours))
    ratio = statistics.median(ours) / statistics.median(reference)
    extra = (statistics.median(ours) - statistics.median(reference)) * 1000
    print(f"ratio tuipacs / trivial: {ratio:.2f}x  (+{extra:.0f} ms)")
    target = statistics.median(ours) < 1.0
    print(f"target < 1 s: {'met' if target else 'MISSED'}")
    return 0 if target else 1


if __name__ == "__main__":
    raise SystemExit(main())
