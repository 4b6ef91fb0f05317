"""Terminal probe: DA1 as sentinel, late replies, nothing leaks; backend choice; overrides."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import termios
import threading
import time
from collections.abc import Iterator

import pytest

from tuipacs.view.graphics import probe
from tuipacs.view.graphics.probe import GraphicsError, ProbeResult, choose_backend
from tuipacs.view.layout import CellSize

KITTY_OK = b"\x1b_Gi=31;OK\x1b\\"
DA1_SIXEL = b"\x1b[?62;4;6;22c"
DA1_PLAIN = b"\x1b[?62;22c"


class FakeTerminal:
    """The far end of a pty: reads what the probe writes, answers after a delay."""

    def __init__(self, master: int, replies: dict[bytes, bytes], delay: float) -> None:
        self.master = master
        self.replies = replies
        self.delay = delay
        self.received = b""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and not self.received.endswith(probe.DA1_QUERY.encode()):
            readable, _, _ = select.select([self.master], [], [], 0.05)
            if readable:
                self.received += os.read(self.master, 4096)
        time.sleep(self.delay)  # SSH round trip
        answer = b"".join(reply for query, reply in self.replies.items() if query in self.received)
        if answer:
            os.write(self.master, answer)


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, int]]:
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def _set_size(fd: int, rows: int, cols: int, xpixel: int, ypixel: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, xpixel, ypixel))


def _pending(fd: int) -> bytes:
    """Whatever is still readable on the application side (must be nothing)."""
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""
    finally:
        os.set_blocking(fd, True)


def test_slow_terminal_replies_are_all_consumed(pty_pair: tuple[int, int]) -> None:
    master, slave = pty_pair
    _set_size(slave, 50, 160, 0, 0)  # no pixel size: the probe asks CSI 16 t
    replies = {
        b"a=q": KITTY_OK,
        b"\x1b[>0q": b"\x1bP>|kitty(0.35.2)\x1b\\",
        b"\x1b[16t": b"\x1b[6;22;11t",
        b"\x1b[c": DA1_PLAIN,
    }
    terminal = FakeTerminal(master, replies, delay=0.4)
    result = probe.probe_terminal(fd=slave, env={}, timeout=3.0)
    terminal.thread.join(2)
    assert b"\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\" in terminal.received
    assert terminal.received.endswith(b"\x1b[c"), "DA1 goes last, as the sentinel"
    assert result.answered and result.kitty and not result.sixel
    assert result.terminal == "kitty(0.35.2)"
    assert result.cell_size == CellSize(11, 22) and result.cell_size_source == "csi16t"
    assert _pending(slave) == b"", "a reply leaked into the input"
    assert choose_backend("auto", result) == "kitty"


def test_sixel_terminal_with_pixel_size(pty_pair: tuple[int, int]) -> None:
    master, slave = pty_pair
    _set_size(slave, 50, 160, 1600, 1000)
    terminal = FakeTerminal(master, {b"\x1b[c": DA1_SIXEL}, delay=0.05)
    result = probe.probe_terminal(fd=slave, env={}, timeout=3.0)
    terminal.thread.join(2)
    assert b"\x1b[16t" not in terminal.received, "TIOCGWINSZ had the pixel size"
    assert result.sixel and not result.kitty
    assert result.cell_size == CellSize(10, 20) and result.cell_size_source == "ioctl"
    assert choose_backend("auto", result) == "sixel"


def test_silent_terminal_times_out(pty_pair: tuple[int, int]) -> None:
    _master, slave = pty_pair
    result = probe.probe_terminal(fd=slave, env={}, timeout=0.3)
    assert result.queried and not result.answered and not result.kitty
    assert choose_backend("auto", result) == "halfcell"


def test_forced_backend_sends_nothing(pty_pair: tuple[int, int]) -> None:
    master, slave = pty_pair
    _set_size(slave, 50, 160, 1600, 1000)
    result = probe.probe_terminal(fd=slave, env={"TUIPACS_GRAPHICS": "sixel"}, timeout=0.3)
    assert _pending(master) == b""
    assert result.forced == "sixel" and not result.queried
    assert choose_backend("auto", result) == "sixel"
    assert choose_backend("kitty", result) == "kitty", "the explicit setting wins"


def test_not_a_tty_means_no_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "_stdio_is_tty", lambda: False)
    result = probe.probe_terminal(env={"TUIPACS_CELL_SIZE": "8x16", "TMUX": "/tmp/x"})
    assert result == ProbeResult(in_tmux=True, cell_size=CellSize(8, 16), cell_size_source="env")
    config, _ = probe.detect_graphics("auto", env={"TUIPACS_CELL_SIZE": "8x16"})
    assert config.backend == "halfcell" and config.cell_size == CellSize(8, 16)


def test_parse_replies() -> None:
    parsed = probe.parse_replies(b"junk" + KITTY_OK + b"\x1b[6;20;10t" + DA1_SIXEL)
    assert parsed == {
        "answered": True, "sixel": True, "kitty": True, "terminal": "",
        "cell_size": CellSize(10, 20),
    }  # fmt: skip
    failed = probe.parse_replies(b"\x1b_Gi=31;ENOTSUPPORTED:x\x1b\\\x1b[?1;2c")
    assert not failed["kitty"] and not failed["sixel"] and failed["answered"]


@pytest.mark.parametrize(
    ("kitty", "sixel", "terminal", "expected"),
    [
        (True, False, "kitty(0.35.2)", "kitty"),
        (True, False, "kitty(0.26.5)", "halfcell"),  # before Unicode placeholders
        (True, True, "WezTerm 20240203", "sixel"),
        (True, True, "", "sixel"),  # answers both, unknown: Sixel is the safe one
        (True, False, "", "kitty"),
        (True, False, "ghostty 1.1.0", "kitty"),
        (False, True, "XTerm(390)", "sixel"),
        (False, False, "", "halfcell"),
    ],
)
def test_choose_backend(kitty: bool, sixel: bool, terminal: str, expected: str) -> None:
    result = ProbeResult(is_tty=True, kitty=kitty, sixel=sixel, terminal=terminal)
    assert choose_backend("auto", result) == expected
    assert choose_backend(" HalfCell ", result) == "halfcell"


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(GraphicsError, match="use one of auto, kitty, sixel, halfcell"):
        choose_backend("iterm", ProbeResult())
    with pytest.raises(GraphicsError, match="WIDTHxHEIGHT"):
        probe.parse_cell_size("10 by 20")
    with pytest.raises(GraphicsError):
        probe.current_config({"TUIPACS_GRAPHICS": "vt340"})
    assert probe.current_config({"TUIPACS_GRAPHICS": "kitty"}).backend == "kitty"
