"""Terminal graphics detection that survives SSH latency, and the choice of backend.

The probe runs BEFORE Textual starts (Textual's input thread would swallow the replies). It
writes the Kitty graphics query, XTVERSION, the cell-size query (only when TIOCGWINSZ has no
pixel size) and finally DA1 to /dev/tty in raw mode, then reads until the DA1 reply arrives:
every terminal answers DA1, and in order, so the DA1 reply is the sentinel that all earlier
replies are in. Everything read up to and including it is consumed, so no reply can leak
into the application as keystrokes. A generous timeout covers terminals that answer nothing.

Environment overrides (tests, odd terminals): ``TUIPACS_GRAPHICS=kitty|sixel|halfcell``
forces a backend without probing; ``TUIPACS_CELL_SIZE=10x20`` sets the cell size in pixels.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import sys
import termios
import time
from collections.abc import Mapping
from dataclasses import dataclass

from tuipacs.view.graphics.kitty import tmux_wrap
from tuipacs.view.layout import CellSize

BACKENDS = ("kitty", "sixel", "halfcell")
SETTINGS = ("auto", *BACKENDS)
DEFAULT_CELL_SIZE = CellSize(10, 20)
ENV_GRAPHICS = "TUIPACS_GRAPHICS"
ENV_CELL_SIZE = "TUIPACS_CELL_SIZE"

KITTY_QUERY = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
XTVERSION_QUERY = "\x1b[>0q"
CELL_SIZE_QUERY = "\x1b[16t"
DA1_QUERY = "\x1b[c"

_DA1_REPLY = re.compile(rb"\x1b\[\?([0-9;]*)c")
_KITTY_REPLY = re.compile(rb"\x1b_Gi=31;([^\x1b]*)\x1b\\")
_XTVERSION_REPLY = re.compile(rb"\x1bP>\|([^\x1b]*)\x1b\\")
_CELL_SIZE_REPLY = re.compile(rb"\x1b\[6;([0-9]+);([0-9]+)t")
_KITTY_VERSION = re.compile(r"kitty\(([0-9]+)\.([0-9]+)")
_KITTY_PLACEHOLDERS_SINCE = (0, 28)


class GraphicsError(ValueError):
    """A bad graphics setting (unknown backend name, malformed cell size)."""


@dataclass(frozen=True)
class ProbeResult:
    """What the terminal told us (or what the environment forced)."""

    is_tty: bool = False
    queried: bool = False
    answered: bool = False
    kitty: bool = False
    sixel: bool = False
    cell_size: CellSize | None = None
    cell_size_source: str = ""
    in_tmux: bool = False
    terminal: str = ""
    forced: str | None = None


@dataclass(frozen=True)
class GraphicsConfig:
    """The display settings every ImageView starts from (see ``configure``)."""

    backend: str = "halfcell"
    cell_size: CellSize = DEFAULT_CELL_SIZE
    in_tmux: bool = False
    cell_size_source: str = "default"
    quality: str = "auto"
    """``auto``, ``full`` or ``fast`` (:data:`tuipacs.view.link.QUALITIES`)."""
    frames_in_flight: int = 0
    """Frames written to the terminal and not yet answered for, at most (0: ``auto``)."""


def parse_cell_size(text: str) -> CellSize:
    """Parse ``WIDTHxHEIGHT`` (pixels of one cell), e.g. ``10x20``."""
    match = re.fullmatch(r"\s*([0-9]+)\s*[xX]\s*([0-9]+)\s*", text)
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise GraphicsError(f"bad cell size {text!r}: write WIDTHxHEIGHT in pixels, e.g. 10x20")
    return CellSize(int(match.group(1)), int(match.group(2)))


def normalise_setting(setting: str) -> str:
    """Validate a graphics setting (``auto``, ``kitty``, ``sixel`` or ``halfcell``)."""
    value = setting.strip().lower()
    if value not in SETTINGS:
        choices = ", ".join(SETTINGS)
        raise GraphicsError(f"unknown graphics backend {setting!r}: use one of {choices}")
    return value


def window_size(fd: int) -> tuple[int, int, int, int] | None:
    """(rows, cols, x pixels, y pixels) from TIOCGWINSZ, or None if it fails."""
    try:
        packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    rows, cols, xpixel, ypixel = struct.unpack("HHHH", packed)
    return rows, cols, xpixel, ypixel


def cell_size_from_winsize(size: tuple[int, int, int, int] | None) -> CellSize | None:
    """Cell size from TIOCGWINSZ fields when the terminal filled in the pixel size."""
    if size is None:
        return None
    rows, cols, xpixel, ypixel = size
    if rows < 1 or cols < 1 or xpixel < cols or ypixel < rows:
        return None
    return CellSize(xpixel // cols, ypixel // rows)


def parse_replies(data: bytes) -> dict[str, object]:
    """Decode the replies in ``data``: kitty, sixel, terminal name, cell size, DA1 seen."""
    da1 = _DA1_REPLY.search(data)
    kitty = _KITTY_REPLY.search(data)
    version = _XTVERSION_REPLY.search(data)
    cell = _CELL_SIZE_REPLY.search(data)
    attributes = da1.group(1).decode().split(";") if da1 else []
    cell_size = None
    if cell and int(cell.group(1)) > 0 and int(cell.group(2)) > 0:
        cell_size = CellSize(int(cell.group(2)), int(cell.group(1)))
    return {
        "answered": da1 is not None,
        "sixel": "4" in attributes[1:] or (len(attributes) == 1 and attributes[0] == "4"),
        "kitty": bool(kitty and kitty.group(1).startswith(b"OK")),
        "terminal": version.group(1).decode(errors="replace") if version else "",
        "cell_size": cell_size,
    }


def _read_until_da1(fd: int, timeout: float) -> bytes:
    """Read from ``fd`` until a DA1 reply has arrived or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    data = b""
    while not _DA1_REPLY.search(data):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def query_terminal(fd: int, queries: str, timeout: float) -> bytes:
    """Write ``queries`` + DA1 to the terminal ``fd`` in raw mode, return all replies read."""
    saved = termios.tcgetattr(fd)
    raw = termios.tcgetattr(fd)
    raw[3] &= ~(termios.ICANON | termios.ECHO)
    raw[6][termios.VMIN] = 0
    raw[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, raw)
    try:
        os.write(fd, (queries + DA1_QUERY).encode("ascii"))
        return _read_until_da1(fd, timeout)
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def _stdio_is_tty() -> bool:
    """True when both stdin and stdout are terminals."""
    try:
        return os.isatty(sys.stdin.fileno()) and os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def _forced_backend(env: Mapping[str, str]) -> str | None:
    """The backend forced by $TUIPACS_GRAPHICS, if any (``auto`` forces nothing)."""
    value = env.get(ENV_GRAPHICS, "").strip()
    if not value:
        return None
    setting = normalise_setting(value)
    return None if setting == "auto" else setting


def probe_terminal(
    *,
    timeout: float = 2.0,
    queries: bool = True,
    env: Mapping[str, str] | None = None,
    fd: int | None = None,
) -> ProbeResult:
    """Ask the terminal what it can draw. Never call this once Textual runs.

    With ``queries=False`` (or $TUIPACS_GRAPHICS set) only TIOCGWINSZ is read, unless the
    cell size is unknown, in which case just ``CSI 16 t`` + DA1 is asked. ``fd`` replaces
    /dev/tty (tests use a pty). No query is made when stdin/stdout are not terminals.
    """
    env = os.environ if env is None else env
    forced = _forced_backend(env)
    in_tmux = bool(env.get("TMUX"))
    env_cell = parse_cell_size(env[ENV_CELL_SIZE]) if env.get(ENV_CELL_SIZE) else None
    own_fd = fd is None
    if own_fd:
        if not _stdio_is_tty():
            return ProbeResult(
                in_tmux=in_tmux,
                forced=forced,
                cell_size=env_cell,
                cell_size_source="env" if env_cell else "",
            )
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            return ProbeResult(
                in_tmux=in_tmux,
                forced=forced,
                cell_size=env_cell,
                cell_size_source="env" if env_cell else "",
            )
    assert fd is not None
    try:
        return _probe_fd(fd, timeout, queries and forced is None, env_cell, in_tmux, forced)
    finally:
        if own_fd:
            os.close(fd)


def _probe_fd(
    fd: int,
    timeout: float,
    full: bool,
    env_cell: CellSize | None,
    in_tmux: bool,
    forced: str | None,
) -> ProbeResult:
    """The probe proper on an open terminal descriptor."""
    ioctl_cell = cell_size_from_winsize(window_size(fd))
    cell, source = (env_cell, "env") if env_cell else (ioctl_cell, "ioctl" if ioctl_cell else "")
    need_cell = cell is None
    if not full and not need_cell:
        return ProbeResult(
            is_tty=True, cell_size=cell, cell_size_source=source, in_tmux=in_tmux, forced=forced
        )
    request = ""
    if full:
        request += tmux_wrap(KITTY_QUERY) if in_tmux else KITTY_QUERY
        request += XTVERSION_QUERY
    if need_cell:
        request += CELL_SIZE_QUERY
    replies = parse_replies(query_terminal(fd, request, timeout))
    reply_cell = replies["cell_size"]
    if need_cell and isinstance(reply_cell, CellSize):
        cell, source = reply_cell, "csi16t"
    return ProbeResult(
        is_tty=True,
        queried=True,
        answered=bool(replies["answered"]),
        kitty=full and bool(replies["kitty"]),
        sixel=full and bool(replies["sixel"]),
        cell_size=cell,
        cell_size_source=source,
        in_tmux=in_tmux,
        terminal=str(replies["terminal"]),
        forced=forced,
    )


def kitty_placeholders(terminal: str) -> bool | None:
    """Whether the terminal named by XTVERSION draws Unicode placeholders (None: unknown)."""
    name = terminal.lower()
    match = _KITTY_VERSION.search(name)
    if match:
        return (int(match.group(1)), int(match.group(2))) >= _KITTY_PLACEHOLDERS_SINCE
    if "ghostty" in name:
        return True
    if "wezterm" in name or "konsole" in name:
        return False
    return None


def choose_backend(setting: str, probe_result: ProbeResult) -> str:
    """The backend to use: an explicit setting wins, then $TUIPACS_GRAPHICS, then detection.

    Detection prefers Kitty placeholders (kitty 0.28+, Ghostty); a terminal that answers the
    Kitty query but is known to lack placeholders, or also speaks Sixel without saying who it
    is (WezTerm, Konsole), gets Sixel; no graphics at all gets half-cell blocks.
    """
    value = normalise_setting(setting)
    if value != "auto":
        return value
    if probe_result.forced:
        return probe_result.forced
    placeholders = kitty_placeholders(probe_result.terminal)
    if probe_result.kitty and (placeholders or (placeholders is None and not probe_result.sixel)):
        return "kitty"
    if probe_result.sixel:
        return "sixel"
    return "halfcell"


def detect_graphics(
    setting: str = "auto",
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 2.0,
) -> tuple[GraphicsConfig, ProbeResult]:
    """Probe (only as much as needed) and build the config for ``setting``.

    An explicit backend or $TUIPACS_GRAPHICS skips the capability queries; the cell size
    still comes from $TUIPACS_CELL_SIZE, TIOCGWINSZ, ``CSI 16 t`` or the 10x20 default.
    """
    value = normalise_setting(setting)
    env = os.environ if env is None else env
    result = probe_terminal(timeout=timeout, queries=value == "auto", env=env)
    backend = choose_backend(value, result)
    cell = result.cell_size or DEFAULT_CELL_SIZE
    source = result.cell_size_source or "default"
    config = GraphicsConfig(
        backend=backend, cell_size=cell, in_tmux=result.in_tmux, cell_size_source=source
    )
    return config, result


_current: GraphicsConfig | None = None


def configure(config: GraphicsConfig) -> None:
    """Set the config new ImageViews use (call once, before ``App.run()``)."""
    global _current
    _current = config


def current_config(env: Mapping[str, str] | None = None) -> GraphicsConfig:
    """The configured settings, or (unconfigured) half-cell blocks with env overrides."""
    if _current is not None:
        return _current
    env = os.environ if env is None else env
    backend = _forced_backend(env) or "halfcell"
    cell_text = env.get(ENV_CELL_SIZE)
    if cell_text:
        return GraphicsConfig(backend, parse_cell_size(cell_text), bool(env.get("TMUX")), "env")
    return GraphicsConfig(backend=backend, in_tmux=bool(env.get("TMUX")))


def live_cell_size(config: GraphicsConfig, fd: int | None = None) -> CellSize:
    """The cell size now: re-read TIOCGWINSZ when that is where it came from (font zoom)."""
    if config.cell_size_source != "ioctl":
        return config.cell_size
    try:
        target = sys.__stdout__.fileno() if fd is None and sys.__stdout__ else fd
    except (OSError, ValueError):
        return config.cell_size
    if target is None:
        return config.cell_size
    return cell_size_from_winsize(window_size(target)) or config.cell_size
