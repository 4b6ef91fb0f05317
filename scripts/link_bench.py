"""The viewer over a modelled SSH link (tests/linkproxy.py), for scripts/bench_viewer.py.

The real app (``python -m tuipacs``) on a 160 x 50-cell, 1600 x 1000-px pty behind a proxy
with a rate limit, a delay each way and a 2 MB send buffer; the benchmark is the terminal (it
answers the app's queries when their bytes arrive). For each backend and link:

- scroll: ``j`` held for 3 s at 30 Hz through a demo CT; frames per second that reached the
  terminal while held, KiB per frame, and the settle time after release: when the target
  image's text arrived, and when the last picture (the full frame) arrived;
- cine: the demo ultrasound cine played for 3 s; frames per second that arrived, then the
  pictures that still arrived after pause.

Run as part of ``python scripts/bench_viewer.py`` (``--link-only`` for this part alone;
not named bench_* itself: it is a part, with no command line of its own).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from linkproxy import Delivered, Link, LinkedApp, Terminal  # noqa: E402

CT_SLICES = 150
HOLD = 3.0
KEY_RATE = 30.0
LINKS = (("2 Mbit/s, 100 ms", Link(2e6, 0.05)), ("10 Mbit/s, 50 ms", Link(10e6, 0.025)))
LOCAL = ("local", Link(None, 0.0))
SIZE = (160, 50, 1600, 1000)


@dataclass
class LinkFigures:
    """One backend on one link."""

    scroll_fps: float
    kib_per_frame: float
    target_s: float
    settle_s: float
    cine_fps: float
    after_pause: int


def make_home() -> Path:
    """A TUIPACS_HOME with the demo studies (a CT of CT_SLICES slices)."""
    home = Path(tempfile.mkdtemp(prefix="tuipacs-bench-link-"))
    subprocess.run(
        [sys.executable, "-m", "tuipacs", "demo", "--ct-slices", str(CT_SLICES)],
        env=_env(home, "halfcell"),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return home


def _env(home: Path, backend: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TUIPACS_HOME=str(home),
        TUIPACS_GRAPHICS=backend,
        PYTHONPATH=str(ROOT),
        TERM="xterm-256color",
        COLORTERM="truecolor",
        TEXTUAL_ANIMATIONS="none",
    )
    for name in ("TMUX", "TUIPACS_CELL_SIZE", "NO_COLOR"):
        env.pop(name, None)
    return env


def _pictures(app: LinkedApp, backend: str, start: int) -> list[Delivered]:
    """The pictures delivered after ``start`` (half-cells: each image text)."""
    if backend == "kitty":
        return app.kitty_images(start)
    if backend == "sixel":
        return app.sixel_images(start)
    return app.image_indexes(start)


def _open(app: LinkedApp, downs: int, first: bytes) -> None:
    """Open the study ``downs`` rows below the first; wait until its first image shows."""
    for _ in range(downs):
        app.press(b"\x1b[B")
    app.wait_quiet(0.3, 60)
    offset = len(app.stream)
    app.press(b"\r")
    app.wait_for(lambda s: first in s[offset:], 120, "the viewer")
    app.wait_quiet(1.0, 120)


def _start(home: Path, backend: str, link: Link) -> LinkedApp:
    terminal = Terminal(kitty=backend == "kitty", sixel=backend == "sixel")
    argv = [sys.executable, "-m", "tuipacs", "--graphics", backend]
    app = LinkedApp(argv, link, env=_env(home, backend), terminal=terminal, size=SIZE)
    app.wait_for(lambda s: b"Thorax" in s, 120, "the browser")
    return app


def scroll(home: Path, backend: str, link: Link) -> tuple[float, float, float, float]:
    """(fps while held, KiB per frame, s to the target image, s to the last picture)."""
    app = _start(home, backend, link)
    try:
        _open(app, 0, f"Im: 1/{CT_SLICES}".encode())
        start = len(app.stream)
        first, released, presses = app.hold(b"j", HOLD, KEY_RATE)
        target = f"Im: {min(CT_SLICES, presses + 1)}/".encode()
        app.wait_for(lambda s: target in s[start:], 120, "the target image")
        app.wait_quiet(1.5, 120)
        pictures = _pictures(app, backend, start)
        held = [p for p in pictures if first <= p.time <= released]
        fps = len(held) / max(1e-9, released - first)
        if backend == "halfcell":  # the strips are text: all bytes over the frames
            kib = (len(app.stream) - start) / 1024 / max(1, len(pictures))
        else:
            kib = sum(p.end - p.start for p in pictures) / 1024 / max(1, len(pictures))
        texts = app.image_indexes(start)
        at = next(t.time for t in texts if target in bytes(app.stream[t.start : t.end]))
        last = pictures[-1].time if pictures else at
        return fps, kib, at - released, max(last, at) - released
    finally:
        app.close()


def cine(home: Path, backend: str, link: Link) -> tuple[float, int]:
    """(fps that arrived while playing, pictures that arrived after pause)."""
    app = _start(home, backend, link)
    try:
        _open(app, 2, b"Im: 1/30")
        start = len(app.stream)
        began = app.press(b" ")
        time.sleep(HOLD)  # the reader watches the cine (a benchmark, not a test)
        paused = app.press(b" ")
        app.wait_quiet(1.5, 120)
        pictures = _pictures(app, backend, start)
        if backend == "halfcell":  # a repaint of the same image's text is no new picture
            pictures = [
                p for n, p in enumerate(pictures) if not n or p.value != pictures[n - 1].value
            ]
        playing = [p for p in pictures if began + 0.5 <= p.time <= paused]
        fps = len(playing) / max(1e-9, paused - began - 0.5)
        late = [p for p in pictures if p.time > paused + link.rtt]
        return fps, len(late)
    finally:
        app.close()


def measure(home: Path, backend: str, link: Link) -> LinkFigures:
    """Every figure of one backend on one link."""
    fps, kib, target, settle = scroll(home, backend, link)
    cine_fps, late = cine(home, backend, link)
    return LinkFigures(fps, kib, target, settle, cine_fps, late)


def report() -> None:
    """Print the table for Kitty, Sixel and half-cells on each link and locally."""
    home = make_home()
    print(
        f"\nover a modelled link (hold j {HOLD:g} s at {KEY_RATE:g} Hz through "
        f"{CT_SLICES} CT slices; US cine {HOLD:g} s)"
    )
    print(
        f"{'backend':9} {'link':18} {'scroll fps':>10} {'KiB/frame':>9} {'target s':>8} "
        f"{'settle s':>8} {'cine fps':>8} {'after pause':>11}"
    )
    for backend in ("kitty", "sixel", "halfcell"):
        for label, link in (*LINKS, LOCAL):
            f = measure(home, backend, link)
            print(
                f"{backend:9} {label:18} {f.scroll_fps:10.1f} {f.kib_per_frame:9.1f} "
                f"{f.target_s:8.2f} {f.settle_s:8.2f} {f.cine_fps:8.1f} {f.after_pause:11d}"
            )
            sys.stdout.flush()
