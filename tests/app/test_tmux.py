"""The app as a user sees it in headless tmux: keys in, screen out, never a traceback."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
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
    tmux_app.wait_for("Im: 1/8")
    time.sleep(1.0)  # let the first frame land
    before = tmux_app.screen(colours=True)
    tmux_app.run("send-keys", "-t", "t", "Up")
    tmux_app.wait_for("WL: 50")  # CT: 10 HU a press
    deadline = time.monotonic() + 20
    after = tmux_app.screen(colours=True)
    while after == before and time.monotonic() < deadline:
        time.sleep(0.2)
        after = tmux_app.screen(colours=True)
    image_rows = lambda s: [r for r in s.splitlines() if "\u2580" in r]  # noqa: E731
    assert image_rows(before), "no half-block image on screen"
    assert image_rows(after) != image_rows(before), "the image did not change on a window key"
    for key in ("Down", "j", "k", "i", "plus", "minus", "question", "Escape", "Escape"):
        tmux_app.run("send-keys", "-t", "t", key)
        time.sleep(0.2)
    assert "Traceback" not in tmux_app.screen()
    tmux_app.run("send-keys", "-t", "t", "q")
    screen = tmux_app.wait_for("EXITED")
    assert "EXITED 0" in screen and "Traceback" not in screen
