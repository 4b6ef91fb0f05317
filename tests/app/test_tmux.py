"""The app as a user sees it in headless tmux: keys in, screen out, never a traceback."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import require_binary


class Tmux:
    """A private tmux server (own socket) running one command; killed at the end."""

    def __init__(self, binary: str, command: str, env: dict[str, str]) -> None:
        self.binary = binary
        self.socket = f"tuipacs-test-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.run("new-session", "-d", "-x", "160", "-y", "50", "-s", "t", command)

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [self.binary, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
            check=True,
        )
        return result.stdout

    def screen(self, colours: bool = False) -> str:
        return self.run("capture-pane", "-p", *(["-e"] if colours else []), "-t", "t")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")

    def wait_until(self, what: str, test: Callable[[str], bool], timeout: float = 30.0) -> str:
        """The screen once ``test`` holds for it (AssertionError naming ``what`` if never)."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(colours=True)
            if test(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{what} never happened; screen was:\n{screen}")

    def settled(self, test: Callable[[str], bool], timeout: float = 30.0) -> str:
        """The screen once ``test`` holds and it is the same in two captures 0.3 s apart."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            screen = self.screen(colours=True)
            if test(screen) and screen == last:
                return screen
            last = screen
            time.sleep(0.3)
        raise AssertionError(f"the screen never settled; it was:\n{last}")

    def kill(self) -> None:
        subprocess.run(
            [self.binary, "-L", self.socket, "kill-server"],
            capture_output=True,
            env=self.env,
            timeout=30,
        )


@pytest.fixture
def tmux_app(tuipacs_home: Path) -> Iterator[Tmux]:
    binary = require_binary("tmux")
    demo = subprocess.run(
        [sys.executable, "-m", "tuipacs", "demo", "--ct-slices", "8"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
    env.pop("TMUX", None)
    # Textual draws on stderr, so a traceback would land on the screen; keep the pane after exit
    command = f"{shlex.quote(sys.executable)} -m tuipacs; echo EXITED $?; sleep 30"
    tmux = Tmux(binary, command, env)
    try:
        yield tmux
    finally:
        tmux.kill()


def test_window_key_changes_the_image_and_nothing_crashes(
    tmux_app: Tmux, tuipacs_home: Path
) -> None:
    tmux_app.wait_for("CT Thorax/Abdomen")
    tmux_app.run("send-keys", "-t", "t", "Enter")
    image_rows = lambda s: [r for r in s.splitlines() if "\u2580" in r]  # noqa: E731
    tmux_app.wait_for("Im: 1/8")
    before = tmux_app.settled(lambda s: bool(image_rows(s)))  # the first frame has landed
    tmux_app.run("send-keys", "-t", "t", "Up")
    tmux_app.wait_for("WL: 50")  # CT: 10 HU a press
    tmux_app.wait_until(
        "a new picture after the window key", lambda s: image_rows(s) != image_rows(before)
    )
    # tmux sends a name it does not know ("plus", "question") as its letters: "+", "?"
    for key in ("Down", "j", "k", "i", "+", "-"):
        tmux_app.run("send-keys", "-t", "t", key)
        time.sleep(0.2)  # keys a reader types, not a burst
    tmux_app.run("send-keys", "-t", "t", "?")
    tmux_app.wait_for("Esc closes")
    tmux_app.run("send-keys", "-t", "t", "Escape")
    tmux_app.wait_until("the help closing", lambda s: "Esc closes" not in s)
    tmux_app.run("send-keys", "-t", "t", "Escape")
    tmux_app.wait_until("back in the browser", lambda s: "Im: " not in s)
    assert "Traceback" not in tmux_app.screen()
    tmux_app.run("send-keys", "-t", "t", "q")
    screen = tmux_app.wait_for("EXITED")
    assert "EXITED 0" in screen and "Traceback" not in screen
