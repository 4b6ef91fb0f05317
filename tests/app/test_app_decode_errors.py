"""Hostile images in the archive: the browser's tiles and the viewer say why, the TUI stays up.

Highlighting a study with a 49 KB RLE file of 65535 x 65535 x 16-bit used to abort the
whole program (a failed 4 GB allocation in the decoder); a fuzzed RLE frame made the Rust
decoder panic (a BaseException), which killed the thumbnail worker and the render thread
and left a black picture with no error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from apphelpers import SIZE, settle, until, workers_done
from hostile_pixels import header, rle_huge, rle_panic, write
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from textual.widgets import DataTable

from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.app.widgets.thumbnails import SeriesThumbnails
from tuipacs.store.archive import Archive
from tuipacs.store.records import record_from_dataset

STUDY = generate_uid(entropy_srcs=["app-decode-errors", "study"])
HUGE_SERIES = generate_uid(entropy_srcs=["app-decode-errors", "huge"])
PANIC_SERIES = generate_uid(entropy_srcs=["app-decode-errors", "panic"])


def _add(archive: Archive, path: Path) -> None:
    """Index ``path`` as it is; import refuses a file whose pixels cannot exist, so its
    record is read from the header alone."""
    ds = dcmread(path, stop_before_pixels=True)
    archive.add_file(path, record=record_from_dataset(ds, path, os.path.getsize(path)))


def _good(folder: Path, name: str, number: int) -> Path:
    ds = header(name, ExplicitVRLittleEndian, 16, 16, study=STUDY, series=PANIC_SERIES)
    ds.SeriesNumber, ds.InstanceNumber = 2, number
    ds.PixelData = (np.arange(256, dtype=np.uint16) * 100).tobytes()
    return write(ds, folder, name)


def _hostile_study(archive: Archive, folder: Path) -> None:
    """One study: series 1 is the 65535 x 65535 RLE image; series 2 is a good image, the
    RLE frame that panics pylibjpeg-rle (the series' middle image: its thumbnail), and
    another good image."""
    _add(archive, rle_huge(folder, 16, name="huge", study=STUDY, series=HUGE_SERIES))
    panic = rle_panic(folder, name="panic", study=STUDY, series=PANIC_SERIES)
    ds = dcmread(panic)
    ds.SeriesNumber, ds.InstanceNumber = 2, 2
    ds.save_as(panic)
    for path in (_good(folder, "good-1", 1), panic, _good(folder, "good-3", 3)):
        _add(archive, path)


async def _until(pilot: Any, done: Callable[[], bool], what: str) -> None:
    """Let the app's workers finish and their messages be handled until ``done()``."""
    await workers_done(pilot)
    await until(pilot, done, what)


async def _select_hostile_study(pilot: Any) -> BrowserScreen:
    screen = pilot.app.screen
    assert isinstance(screen, BrowserScreen)
    await _until(pilot, lambda: STUDY in [r.study_uid for r in screen.shown], "studies listed")
    table = screen.query_one("#studies", DataTable)
    table.move_cursor(row=[row.study_uid for row in screen.shown].index(STUDY))
    return screen


async def test_tiles_and_viewer_show_why_and_the_tui_stays_up(
    archive_copy: Archive, make_app: Any, tmp_path: Path
) -> None:
    _hostile_study(archive_copy, tmp_path / "hostile")
    app = make_app(archive_copy)
    async with app.run_test(size=SIZE) as pilot:
        thumbs = (await _select_hostile_study(pilot)).query_one(SeriesThumbnails)

        def tiles_done() -> bool:
            tiles = thumbs.tiles()
            return len(tiles) == 2 and all(t.reason or t.has_picture for t in tiles)

        await _until(pilot, tiles_done, "both tiles made")
        huge, panic = thumbs.tiles()
        assert (huge.series_uid, panic.series_uid) == (HUGE_SERIES, PANIC_SERIES)
        # the error tile: the reason in the picture's place, in the error colour
        reason = "image is 65535 x 65535 x 16-bit = 8.0 GiB per frame, over the 1 GiB decode limit"
        assert huge.reason == reason and huge.is_error
        assert huge.missing.display and not huge.view.display
        assert huge.missing.has_class("-error")
        assert "decode limit" in str(huge.missing.render())
        assert panic.is_error and "\n" not in panic.reason and "RLE Lossless" in panic.reason
        assert app.is_running and app.return_code is None

        # the viewer: one error line instead of a picture, the overlays still there
        await pilot.press("enter")
        await settle(pilot)
        viewer = app.screen
        assert isinstance(viewer, ViewerScreen)
        assert reason in viewer.message and "image 1:" in viewer.message
        assert viewer.frame is None and viewer.query_one("#viewer-message").display
        assert "Hostile, Decode" in viewer.overlay_text()

        # the series with the panicking frame: each image renders or says why, and the
        # render thread survives to show the next one
        await pilot.press("n")
        await settle(pilot)
        assert viewer.message == "" and viewer.frame is not None
        shown = viewer.query_one(ImageView).last_shown
        assert shown is not None
        await pilot.press("j")
        await settle(pilot)
        assert "image 2:" in viewer.message and "\n" not in viewer.message
        assert viewer.frame is None
        await pilot.press("j")
        await settle(pilot)
        assert viewer.message == "" and viewer.frame is not None
        assert viewer.query_one(ImageView).last_shown is not shown  # a new picture
        assert app.is_running and app.return_code is None
