"""The Kitty backend in a real pty: bytes per window/level step, fixed id, no placeholder resend.

Runs tests/app/pty_app.py in a 160 x 50-cell, 1600 x 1000-px pty with the Kitty backend
forced (no probe, the test answers nothing), presses keys and counts what the app writes.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

APP = Path(__file__).with_name("pty_app.py")
PLACEHOLDER = "\U0010eeee".encode()
TRANSMIT = re.compile(rb"\x1b_Ga=T,U=1,i=(\d+),f=100,c=(\d+),r=(\d+),q=2,m=[01];")
LAST_CHUNK = re.compile(rb"\x1b_G(?:[^;\x1b]*,)?m=0;[^\x1b]*\x1b\\")
STEP_BUDGET = 180 * 1024


class PtyApp:
    """The test app on the slave side of a pty; we are the terminal on the master side."""

    def __init__(self, cols: int = 160, rows: int = 50, xpixel: int = 1600, ypixel: int = 1000):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, xpixel, ypixel))
        env = dict(os.environ)
        env.update(
            TUIPACS_GRAPHICS="kitty",
            TERM="xterm-256color",
            COLORTERM="truecolor",
            TEXTUAL_ANIMATIONS="none",
        )
        env.pop("TMUX", None)
        env.pop("TUIPACS_CELL_SIZE", None)
        self.proc = subprocess.Popen(
            [sys.executable, str(APP)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.output = b""

    def read_until(self, done: object, timeout: float, quiet: float = 0.4) -> bytes:
        """Collect output until ``done(new_bytes)`` holds and the app is quiet for ``quiet`` s."""
        start = len(self.output)
        deadline = time.monotonic() + timeout
        last_data = time.monotonic()
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.master], [], [], 0.05)
            if readable:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.output += chunk
                last_data = time.monotonic()
            elif done(self.output[start:]) and time.monotonic() - last_data >= quiet:  # type: ignore[operator]
                break
        return self.output[start:]

    def press(self, key: bytes) -> None:
        os.write(self.master, key)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.press(b"q")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
        os.close(self.master)


@pytest.fixture
def pty_app() -> Iterator[PtyApp]:
    app = PtyApp()
    yield app
    app.close()


def _frame_complete(data: bytes) -> bool:
    """A transmission started and its last chunk (m=0) arrived."""
    start = TRANSMIT.search(data)
    return bool(start and LAST_CHUNK.search(data, start.start()))


def test_kitty_steps_resend_pixels_only(pty_app: PtyApp) -> None:
    first = pty_app.read_until(_frame_complete, timeout=60)
    assert _frame_complete(first), f"no image transmitted; output ends {first[-300:]!r}"
    assert first.index(b"\x1b[?1049h") < TRANSMIT.search(first).start(), "alt screen first"
    ids = {int(m.group(1)) for m in TRANSMIT.finditer(first)}
    assert len(ids) == 1
    image_id = ids.pop()
    boxes = {(m.group(2), m.group(3)) for m in TRANSMIT.finditer(first)}
    assert boxes == {(b"98", b"49")}, "512x512 in 160x49 cells of 10x20 px"
    assert PLACEHOLDER in first

    for key in (b"w", b"w", b"l", b"n", b"W"):
        pty_app.press(key)
        step = pty_app.read_until(_frame_complete, timeout=30)
        assert _frame_complete(step), f"key {key!r}: no new frame"
        assert len(step) <= STEP_BUDGET, f"key {key!r}: {len(step) / 1024:.0f} KiB"
        assert PLACEHOLDER not in step, f"key {key!r}: placeholder text re-sent"
        assert {int(m.group(1)) for m in TRANSMIT.finditer(step)} == {image_id}
        assert b"a=d" not in step, "nothing is deleted between frames"
