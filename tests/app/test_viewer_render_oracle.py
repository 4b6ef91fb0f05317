"""``tuipacs render`` is the viewer's oracle: the same state gives the same pixels.

The viewer runs with the Sixel backend (its pixels are what the terminal shows, cell for
cell); after some keys its state (image, window, inversion, rotation, flips, zoom) is passed
to ``tuipacs render`` with the viewer's screen (its image area and cell size), and the PNG
must equal the viewer's picture placed in that area, pixel for pixel. A CT (window presets),
a MONOCHROME1 radiograph (inverted by its Presentation LUT Shape) and an RGB ultrasound cine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from apphelpers import SIZE, settle, workers_done
from PIL import Image
from textual.pilot import Pilot
from textual.widgets import DataTable

from tuipacs.app.app import build_app
from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.config import Config
from tuipacs.store.archive import Archive
from tuipacs.view.graphics.probe import GraphicsConfig
from tuipacs.view.layout import CellSize

SIXEL = GraphicsConfig(backend="sixel", cell_size=CellSize(10, 20))

STATES: dict[str, list[list[str]]] = {
    "CT": [[], ["j", "j", "2", "plus", "r", "h"], ["right", "up", "minus", "i", "R", "v"]],
    "DX": [[], ["i", "plus", "plus", "plus", "r"], ["left", "down", "minus", "minus", "h"]],
    "US": [["j", "j"], ["i", "plus", "plus", "r", "r", "v"], ["j", "minus", "R", "h"]],
}


def render_args(screen: ViewerScreen, view: ImageView, out: Path) -> list[str]:
    """``tuipacs render`` arguments for what the viewer shows now."""
    state, store = screen.state, screen.store
    assert store is not None and state.pan == (0.0, 0.0)
    ref = store.images[state.index]
    cols, rows = view.area
    cell = view.cell_size
    args = [str(ref.path), "-o", str(out), "--frame", str(ref.frame + 1), "--no-overlays"]
    if state.window_name != "file" and state.window is not None:
        args += ["--window", repr(state.window.center), repr(state.window.width)]
    if state.invert:
        args.append("--invert")
    if state.rotation:
        args += ["--rotate", str(state.rotation)]
    flips = ("h" if state.flip_h else "") + ("v" if state.flip_v else "")
    if flips:
        args += ["--flip", flips]
    args += ["--size", f"{cols * cell.width}x{rows * cell.height}"]
    return args + ["--cell", f"{cell.width}x{cell.height}", "--zoom", repr(state.zoom)]


def viewer_pixels(view: ImageView) -> np.ndarray:
    """The picture the viewer's Sixel backend made, placed in the image area (black around)."""
    request = view.last_shown
    assert request is not None and not request.preview
    cols, rows = view.area
    cell, box = request.cell, request.box
    picture = view.graphics.prepare(request)
    canvas = np.zeros((rows * cell.height, cols * cell.width) + picture.shape[2:], np.uint8)
    top, left = box.y * cell.height, box.x * cell.width
    canvas[top : top + picture.shape[0], left : left + picture.shape[1]] = picture
    return canvas


async def open_modality(pilot: Pilot[object], modality: str) -> ViewerScreen:
    """Open the first study with ``modality`` from the browser."""
    browser = pilot.app.screen
    assert isinstance(browser, BrowserScreen)
    await workers_done(pilot)
    row = next(i for i, s in enumerate(browser.shown) if modality in s.modalities)
    browser.query_one("#studies", DataTable).move_cursor(row=row)
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ViewerScreen)
    return screen


@pytest.mark.parametrize("modality", sorted(STATES))
async def test_viewer_pixels_equal_tuipacs_render(
    modality: str, archive: Archive, tuipacs_home: Path, tmp_path: Path
) -> None:
    app = build_app(archive, Config(), graphics=SIXEL, theme="reading-room")
    compared: list[Any] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_modality(pilot, modality)
        view = screen.query_one(ImageView)
        assert view.backend == "sixel"
        for number, keys in enumerate(STATES[modality]):
            await pilot.press("x")  # back to the file's window, fit, no turns
            await pilot.press(*keys)
            await settle(pilot)
            assert view.area == (view.content_size.width, view.content_size.height)
            out = tmp_path / f"{modality}-{number}.png"
            run = subprocess.run(
                [sys.executable, "-m", "tuipacs", "render", *render_args(screen, view, out)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode == 0, run.stderr
            with Image.open(out) as png:
                rendered = np.asarray(png)
            ours = viewer_pixels(view)
            assert rendered.shape == ours.shape, (keys, rendered.shape, ours.shape)
            differ = int(
                np.count_nonzero(
                    np.any(rendered != ours, axis=-1) if ours.ndim == 3 else rendered != ours
                )
            )
            assert differ == 0, f"{modality} after {keys}: {differ} pixels differ"
            assert ours.max() > 0  # a picture, not an empty screen
            compared.append((keys, screen.state.zoom, screen.state.rotation))
    assert len(compared) == len(STATES[modality])
