"""The viewer's mouse in a real terminal (headless tmux): the bytes an xterm-style terminal
sends for a press, motion with the left button held, a release and Ctrl+wheel go through
Textual's driver and parser, as a reader's do."""

from __future__ import annotations

import re

from test_tmux import Tmux, tmux_app  # noqa: F401  (the fixture)

_WINDOW = re.compile(r"WL: (-?\d+) WW: (\d+)")
_ZOOM = re.compile(r"Zoom: (\d+)%")

PROBE = re.compile(r"Probe \d+,\d+")
"""The probe's readout (its first line: the source pixel x,y)."""


def _sgr(tmux: Tmux, button: int, x: int, y: int, release: bool = False) -> None:
    """One SGR mouse report (1-based cell x, y) typed into the pane as the terminal would."""
    tmux.run("send-keys", "-t", "t", "-l", f"\x1b[<{button};{x};{y}{'m' if release else 'M'}")


def _window(screen: str) -> tuple[int, int] | None:
    found = _WINDOW.search(screen)
    return (int(found[1]), int(found[2])) if found else None


def _zoom(screen: str) -> int:
    found = _ZOOM.search(screen)
    return int(found[1]) if found else 0


def test_drag_click_and_ctrl_wheel_through_the_terminal(tmux_app: Tmux) -> None:  # noqa: F811
    tmux_app.wait_for("CT Thorax/Abdomen")
    tmux_app.run("send-keys", "-t", "t", "Enter")
    screen = tmux_app.wait_for("WL: 40 WW: 400")
    fit = _zoom(screen)
    # left press in the middle of the picture, motion with the button held (32 + 0), release
    _sgr(tmux_app, 0, 80, 25)
    for x in range(81, 87):
        _sgr(tmux_app, 32, x, 25)  # right: wider
    _sgr(tmux_app, 32, 86, 21)  # up: the level rises
    _sgr(tmux_app, 0, 86, 21, release=True)
    screen = tmux_app.wait_until(
        "the drag's window", lambda s: (_window(s) or (0, 0))[0] > 40 and "WW: 400 " not in s
    )
    level, width = _window(screen) or (0, 0)
    assert 400 < width <= 400 + 6 * 40 and 40 < level <= 40 + 4 * 40, (level, width)
    assert not PROBE.search(screen)  # the release of a drag is no click
    # a terminal that reports no motion sends press and release: a click, the probe
    _sgr(tmux_app, 0, 70, 20)
    _sgr(tmux_app, 0, 70, 20, release=True)
    screen = tmux_app.wait_until("the probe", lambda s: bool(PROBE.search(s)))
    assert _window(screen) == (level, width)
    # Ctrl+wheel up (64 + 16): zoom in; the plain wheel down: the next image
    _sgr(tmux_app, 64 + 16, 80, 20)
    tmux_app.wait_until("the zoom", lambda s: _zoom(s) > fit)
    _sgr(tmux_app, 65, 80, 20)
    screen = tmux_app.wait_for("Im: 2/8")
    assert "Traceback" not in screen
    tmux_app.run("send-keys", "-t", "t", "Escape")  # the probe off
    tmux_app.wait_until("the probe off", lambda s: not PROBE.search(s))
    tmux_app.run("send-keys", "-t", "t", "Escape")
    tmux_app.wait_until("back in the browser", lambda s: "Im: " not in s)
    tmux_app.run("send-keys", "-t", "t", "q")
    screen = tmux_app.wait_for("EXITED")
    assert "EXITED 0" in screen and "Traceback" not in screen
