"""The viewer on Sixel: the picture takes the full viewport (the Kitty box), the corner texts
are written right after the picture in the same synchronized update, and one state change
is one write (no redraw loop).

Headless runs record what the ImageView writes; the last test runs the real app in a pty,
where Textual really renders, so a repaint that wrote the picture again would show up.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from apphelpers import CT_SLICES, open_study, settle, until
from linkproxy import SIXEL, Link, LinkedApp, Terminal
from textual.pilot import Pilot

from tuipacs.app.app import build_app
from tuipacs.app.graphics.sixel_backend import SixelBackend
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.config import Config
from tuipacs.store.archive import Archive
from tuipacs.view.graphics.probe import GraphicsConfig
from tuipacs.view.layout import CellSize

ROOT = Path(__file__).resolve().parents[2]
CELL = CellSize(10, 20)
SIXEL_CONFIG = GraphicsConfig(backend="sixel", cell_size=CELL)
KITTY_CONFIG = GraphicsConfig(backend="kitty", cell_size=CELL)
SIZES = [(100, 30), (160, 45)]
DCS = re.compile(r"\x1bP[0-9;]*q")
TEXT_AT = re.compile(rb"\x1b\[(\d+);\d+H(?:\x1b\[[0-9;]*m)*([^\x1b]+)")
VIEWPORT_ROWS = 48
"""Rows of the viewport on a 50-row screen (the status line and the footer below)."""


def backend_of(screen: ViewerScreen) -> SixelBackend:
    """The Sixel backend of the viewer's ImageView."""
    backend = screen.query_one(ImageView).graphics
    assert isinstance(backend, SixelBackend)
    return backend


async def quiet(pilot: Pilot[Any], backend: SixelBackend) -> None:
    """Wait until nothing is left to write: no frame waiting for its labels, no redraw."""
    await until(pilot, lambda: backend.idle, "the Sixel backend to have written everything")


async def open_ct(pilot: Pilot[Any]) -> ViewerScreen:
    """The CT open in the viewer, its first picture and texts written."""
    screen = await open_study(pilot, 0)
    await settle(pilot)
    if screen.image.backend == "sixel":
        await quiet(pilot, backend_of(screen))
    return screen


@pytest.mark.parametrize("size", SIZES)
async def test_sixel_picture_takes_the_kitty_box(
    size: tuple[int, int], archive: Archive, tuipacs_home: Path
) -> None:
    boxes = {}
    for config in (SIXEL_CONFIG, KITTY_CONFIG):
        app = build_app(archive, Config(), graphics=config, theme="reading-room")
        async with app.run_test(size=size) as pilot:
            screen = await open_ct(pilot)
            view = screen.query_one(ImageView)
            assert view.area == view.content_size, "the whole viewport is the picture's area"
            boxes[config.backend] = (view.area, view.box)
            await pilot.press("plus", "plus", "plus")  # zoomed in: the box is the viewport
            await settle(pilot)
            boxes[config.backend + " zoomed"] = (view.area, view.box)
    assert boxes["sixel"] == boxes["kitty"]
    assert boxes["sixel zoomed"] == boxes["kitty zoomed"]
    area, box = boxes["sixel zoomed"]
    assert box is not None and box.cols >= area[0] - 1 and box.rows >= area[1] - 1  # rounding
    area, box = boxes["sixel"]
    assert box is not None and box.rows == area[1], "a square CT at fit: the full height"


class Screen:
    """What the terminal shows after our writes: text per cell, or a picture's cells (a Sixel
    covers the cells under it, text written later replaces it there: the VT340's model)."""

    TOKEN = re.compile(
        r"\x1b\[(\d+);(\d+)H"  # cursor move
        r'|\x1bP[0-9;]*q"1;1;(\d+);(\d+).*?\x1b\\'  # a Sixel picture
        r"|\x1b\[[0-9;?]*[a-zA-Z]|\x1b[78]"  # colours, modes, save / restore
        r"|([^\x1b]+)",  # text
        re.DOTALL,
    )

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], str] = {}
        self.pictures = 0

    def apply(self, data: str) -> None:
        """Play ``data`` (one write of the ImageView)."""
        row = col = 1
        for m in self.TOKEN.finditer(data):
            if m[1]:
                row, col = int(m[1]), int(m[2])
            elif m[3]:
                self.pictures += 1
                cols, rows = -(-int(m[3]) // CELL.width), -(-int(m[4]) // CELL.height)
                for y in range(row, row + rows):
                    for x in range(col, col + cols):
                        self.cells[(y, x)] = PICTURE
            elif m[5]:
                for char in m[5]:
                    self.cells[(row, col)] = char
                    col += 1

    def text(self, row: int, col: int, length: int) -> str:
        """The text in ``length`` cells from (row, col)."""
        return "".join(self.cells.get((row, x), "?") for x in range(col, col + length))


PICTURE = "\x00"


def check_corners(screen: ViewerScreen, shown: Screen, region: Any) -> None:
    """The four corner blocks are on ``shown`` where the viewport's corners are."""
    corners = screen.viewport._corners
    top, left = region.y + 1, region.x + 1  # 1-based screen cells of the viewport
    bottom, right = top + region.height - 1, left + region.width - 1
    for block, at_right, at_bottom in (
        (corners.top_left, False, False),
        (corners.top_right, True, False),
        (corners.bottom_left, False, True),
        (corners.bottom_right, True, True),
    ):
        lines = block.split("\n")
        width = max(len(line) for line in lines) + 2
        row = bottom - len(lines) + 1 if at_bottom else top
        col = right - width + 1 if at_right else left
        for number, line in enumerate(lines):
            assert shown.text(row + number, col, width) == f" {line:<{width - 1}}", block


@pytest.mark.parametrize("size", SIZES)
async def test_corner_texts_are_written_after_the_picture(
    size: tuple[int, int], archive: Archive, tuipacs_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    monkeypatch.setattr(ImageView, "write_terminal", lambda self, data: written.append(data))
    app = build_app(archive, Config(), graphics=SIXEL_CONFIG, theme="reading-room")
    async with app.run_test(size=size) as pilot:
        screen = await open_ct(pilot)
        region = screen.query_one(ImageView).content_region
        view = screen.query_one(ImageView)
        assert not [w for w in screen.query(".overlay") if w.display], "no widget text"
        shown = Screen()
        for data in written:
            shown.apply(data)
        assert shown.pictures >= 1
        check_corners(screen, shown, region)
        await pilot.press("plus", "plus", "plus")  # zoomed: the picture under every corner
        await settle(pilot)
        await quiet(pilot, backend_of(screen))
        shown = Screen()
        for data in written:
            shown.apply(data)
        check_corners(screen, shown, region)
        corners = screen.viewport._corners
        top, left = region.y + 1, region.x + 1
        assert f"Im: 1/{CT_SLICES}" in corners.bottom_left
        box = view.box
        assert box is not None
        middle = (top + box.y + box.rows // 2, left + box.x + box.cols // 2)
        assert shown.cells[middle] == PICTURE, "the picture under the text"


async def test_one_key_is_one_write_and_text_alone_writes_no_picture(
    archive: Archive, tuipacs_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    monkeypatch.setattr(ImageView, "write_terminal", lambda self, data: written.append(data))
    app = build_app(archive, Config(), graphics=SIXEL_CONFIG, theme="reading-room")
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_ct(pilot)
        backend = backend_of(screen)
        for number in (2, 3):
            before = len(written)
            await pilot.press("j")
            await settle(pilot)
            await quiet(pilot, backend)
            new = written[before:]
            assert len(new) == 1, f"{len(new)} writes for one key"
            assert len(DCS.findall(new[0])) == 1, "the picture, no margins (same box)"
            assert f"Im: {number}/{CT_SLICES}" in new[0]
        before = len(written)
        screen.show_message("a message over the picture")  # text only
        await quiet(pilot, backend)
        assert len(written) == before + 1
        assert "a message over the picture" in written[-1]
        before = len(written)
        await pilot.press("o")  # the overlays off: their cells go black
        await quiet(pilot, backend)
        await pilot.press("o")  # and on again
        await quiet(pilot, backend)
        assert len(written) == before + 2
        assert "Im: 3/" not in written[-2] and f"Im: 3/{CT_SLICES}" in written[-1]


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TUIPACS_HOME=str(home),
        PYTHONPATH=str(ROOT),
        TERM="xterm-256color",
        COLORTERM="truecolor",
        TEXTUAL_ANIMATIONS="none",
    )
    for name in ("TMUX", "TUIPACS_CELL_SIZE", "NO_COLOR", "TUIPACS_GRAPHICS"):
        env.pop(name, None)
    return env


def test_real_rendering_one_key_one_sixel_and_no_text_over_the_picture(tmp_path: Path) -> None:
    import subprocess

    home = tmp_path / "home"
    subprocess.run(
        [sys.executable, "-m", "tuipacs", "demo", "--ct-slices", str(CT_SLICES)],
        env=_env(home),
        check=True,
        capture_output=True,
        timeout=120,
    )
    argv = [sys.executable, "-m", "tuipacs", "--graphics", "sixel"]
    terminal = Terminal(kitty=False, sixel=True)
    app = LinkedApp(argv, Link(), env=_env(home), terminal=terminal, size=(160, 50, 1600, 1000))
    try:
        app.wait_for(lambda s: b"Thorax" in s, 60, "the browser")
        app.wait_quiet(0.5, 60)
        start = len(app.stream)
        app.press(b"\r")
        app.wait_for(lambda s: f"Im: 1/{CT_SLICES}".encode() in s[start:], 60, "the viewer")
        app.wait_quiet(1.0, 60)
        for number in (2, 3, 4):
            start = len(app.stream)
            app.press(b"j")
            text = f"Im: {number}/".encode()
            app.wait_for(lambda s, t=text, at=start: t in s[at:], 30, "the image")
            app.wait_quiet(1.0, 60)  # a redraw loop would keep writing
            data = bytes(app.stream[start:])
            pictures = list(SIXEL.finditer(data))
            assert len(pictures) == 1, f"image {number}: {len(pictures)} Sixel pictures"
            assert data.count(b"\x1b[?2026h\x1b7") == 1, "one synchronized write of ours"
            assert data.find(f"Im: {number}/".encode()) > pictures[0].end(), "text after it"
            ours = data[data.index(b"\x1b[?2026h\x1b7") : data.index(b"\x1b8\x1b[?2026l")]
            theirs = data.replace(ours, b"")  # what Textual wrote: never in the viewport
            rows = {int(m[1]) for m in TEXT_AT.finditer(theirs)}
            assert all(row > VIEWPORT_ROWS for row in rows), f"Textual wrote on {sorted(rows)}"
    finally:
        app.close()
