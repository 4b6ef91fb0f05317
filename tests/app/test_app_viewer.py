"""Pilot tests of the viewer: keys change the state, and the picture and overlays follow."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from apphelpers import CT_SLICES, SIZE, open_study, settle, until
from textual import events
from textual.widget import Widget

from tuipacs.app.screens.help import HelpScreen
from tuipacs.app.screens.tags import TagScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.imaging.voi import Window
from tuipacs.store.archive import Archive
from tuipacs.view.window_steps import MAX_ACCEL

CT, DX, US, MR = 0, 1, 2, 3  # rows of the browser, newest study first


def shown_array(screen: ViewerScreen) -> np.ndarray:
    """The array the ImageView displays now."""
    shown = screen.query_one(ImageView).last_shown
    assert shown is not None
    return shown.array


async def test_open_ct_shows_first_image_with_file_window(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        assert screen.state.count == CT_SLICES
        assert (screen.state.center, screen.state.width) == (40, 400)
        text = screen.overlay_text()
        assert f"Im: 1/{CT_SLICES}" in text
        assert "WL: 40 WW: 400" in text
        assert "Müller, Jürgen" in text
        assert shown_array(screen).dtype == np.uint8


async def test_image_navigation_keys(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        first = shown_array(screen).copy()
        await pilot.press("j", "j")
        await settle(pilot)
        assert screen.state.index == 2
        assert f"Im: 3/{CT_SLICES}" in screen.overlay_text()
        assert not np.array_equal(shown_array(screen), first)
        await pilot.press("k")
        await settle(pilot)
        assert screen.state.index == 1
        await pilot.press("pagedown")
        await settle(pilot)
        assert screen.state.index == 11
        await pilot.press("end")
        await settle(pilot)
        assert screen.state.index == CT_SLICES - 1
        await pilot.press("j")  # stays on the last image
        await settle(pilot)
        assert screen.state.index == CT_SLICES - 1
        await pilot.press("home")
        await settle(pilot)
        assert screen.state.index == 0
        await pilot.press("pageup")
        assert screen.state.index == 0


def wheel(widget: Widget, down: bool) -> None:
    """Post one mouse-wheel step over ``widget`` (it bubbles up to the screen)."""
    kind = events.MouseScrollDown if down else events.MouseScrollUp
    widget.post_message(kind(widget, 5, 5, 0, 1 if down else -1, 0, False, False, False))


async def test_mouse_wheel_scrolls_images(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        image = screen.query_one(ImageView)
        wheel(image, down=True)
        wheel(image, down=True)
        await settle(pilot)
        assert screen.state.index == 2
        wheel(image, down=False)
        await settle(pilot)
        assert screen.state.index == 1


async def test_window_level_keys(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        before = shown_array(screen).copy()
        await pilot.press("up")
        await settle(pilot)
        assert (screen.state.center, screen.state.width) == (50, 400)  # CT: 10 HU a press
        assert screen.state.window_name == "custom"
        assert "WL: 50 WW: 400" in screen.overlay_text()
        assert not np.array_equal(shown_array(screen), before)
        await pilot.press("right")
        await settle(pilot)
        assert screen.state.width == 410
        await pilot.press("left", "left")
        await settle(pilot)
        assert screen.state.width == 390
        await pilot.press("shift+down")
        await settle(pilot)
        assert screen.state.center == 49  # fine step: 1 HU
        await pilot.press("down")
        await settle(pilot)
        assert screen.state.center == 39


async def test_held_width_key_stays_bounded(archive: Archive, make_app: Any) -> None:
    """Holding the width key for the equivalent of 2 s (60 repeats at 30 Hz) accelerates,
    but boundedly (it took WW from 400 to 121,674 when each step was 10 % of the width)."""
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press(*["right"] * 60)
        await settle(pilot)
        width = screen.state.width
        assert 400 + 60 * 10 <= width <= 400 + 60 * 10 * MAX_ACCEL, width
        await pilot.press(*["up"] * 3)
        await settle(pilot)
        assert screen.state.center == 40 + 30, "the level step does not grow with the width"
        screen.state.window = Window(70, 30)  # close to the floor: a few presses reach it
        await pilot.press(*["left"] * 12)
        await settle(pilot)
        assert screen.state.width == 1, "narrowing stops at one HU"


async def test_presets_auto_and_invert(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("4")  # CT: 1 brain, 2 subdural, 3 stroke, 4 lung
        await settle(pilot)
        assert (screen.state.center, screen.state.width) == (-600, 1500)
        assert screen.state.window_name == "lung"
        assert "WL: -600 WW: 1500 LUNG" in screen.overlay_text()
        await pilot.press("a")
        await settle(pilot)
        assert screen.state.window_name == "auto"
        assert screen.state.width is not None and screen.state.width > 1
        plain = shown_array(screen).copy()
        await pilot.press("i")
        await settle(pilot)
        assert screen.state.invert
        inverted = shown_array(screen).astype(int)
        assert np.abs(inverted - (255 - plain.astype(int))).max() <= 1  # truncation order


async def test_help_lists_presets(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        await open_study(pilot, CT)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "4 Lung" in app.screen.extra
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ViewerScreen)


async def test_zoom_fit_one_to_one_and_pan(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        full = shown_array(screen).shape
        await pilot.press("plus", "plus")
        await settle(pilot)
        assert screen.state.zoom == pytest.approx(1.5625)
        zoomed = shown_array(screen).shape
        assert zoomed[0] < full[0] and zoomed[1] == full[1]  # the wide view still fits across
        await pilot.press("L")
        await settle(pilot)
        assert screen.state.pan[1] == 0  # nothing to pan across
        await pilot.press("plus", "plus")
        await settle(pilot)
        zoomed = shown_array(screen).shape
        assert zoomed[0] < full[0] and zoomed[1] < full[1]
        await pilot.press("L")
        await settle(pilot)
        assert screen.state.pan[1] > 0
        await pilot.press("ctrl+up")
        await settle(pilot)
        assert screen.state.pan[0] < 0
        await pilot.press("f")
        await settle(pilot)
        assert screen.state.zoom == 1.0 and screen.state.pan == (0.0, 0.0)
        assert shown_array(screen).shape == full
        await pilot.press("equals_sign")
        await settle(pilot)
        assert "Zoom: 100%" in screen.overlay_text()
        await pilot.press("minus")
        await settle(pilot)
        assert "Zoom: 80%" in screen.overlay_text()


async def test_rotate_flip_and_reset(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        plain = shown_array(screen).copy()
        assert screen.query_one("#ori-top").render().plain == "A"  # type: ignore[attr-defined]
        await pilot.press("r")
        await settle(pilot)
        assert screen.state.rotation == 90
        assert np.array_equal(shown_array(screen), np.rot90(plain, -1))
        assert screen.query_one("#ori-top").render().plain == "R"  # type: ignore[attr-defined]
        await pilot.press("R", "h")
        await settle(pilot)
        assert screen.state.rotation == 0 and screen.state.flip_h
        assert np.array_equal(shown_array(screen), plain[:, ::-1])
        assert screen.query_one("#ori-left").render().plain == "L"  # type: ignore[attr-defined]
        await pilot.press("v")
        await settle(pilot)
        assert screen.state.flip_v
        await pilot.press("up", "i", "plus", "x")
        await settle(pilot)
        state = screen.state
        assert (state.rotation, state.flip_h, state.flip_v, state.invert) == (
            0,
            False,
            False,
            False,
        )
        assert (state.center, state.width, state.zoom) == (40, 400, 1.0)
        assert np.array_equal(shown_array(screen), plain)


async def test_overlays_hide_and_identity_mask(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("m")
        assert screen.state.masked
        text = screen.overlay_text()
        assert "Müller" not in text and "TP-100231" not in text
        assert "ID: ***" in text
        await pilot.press("o")
        assert not screen.state.overlays
        assert screen.overlay_text() == ""
        await pilot.press("o", "m")
        assert "Müller, Jürgen" in screen.overlay_text()


async def test_cine_plays_and_rate_changes(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, US)
        assert screen.state.count > 1  # frames of the multi-frame US object
        rate = screen.state.cine_rate
        await pilot.press("space")
        assert screen.state.cine
        assert "Cine" in screen.overlay_text()
        await until(pilot, lambda: screen.state.index > 0, "cine to show the next frame")
        await pilot.press("right_square_bracket")
        assert screen.state.cine_rate > rate
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert screen.state.cine_rate < rate
        await pilot.press("space")
        assert not screen.state.cine and not screen.cine.playing  # no timer steps any more


async def test_colour_frames_ignore_window_keys(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, US)
        assert shown_array(screen).ndim == 3
        await pilot.press("up", "a")
        await settle(pilot)
        assert screen.state.window is None
        assert "colour" in screen.overlay_text()


async def test_series_navigation(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, MR)
        assert "T1" in screen.overlay_text()
        await pilot.press("j", "n")
        await settle(pilot)
        assert screen.state.series_index == 1
        assert screen.state.index == 0
        assert "T2" in screen.overlay_text()
        await pilot.press("n")  # no third series: stays
        await pilot.press("p")
        await settle(pilot)
        assert screen.state.series_index == 0


async def test_probe_shows_hounsfield_units(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("c")
        await settle(pilot)
        assert screen.state.probe is not None
        pixel = screen.probe_pixel()
        assert pixel is not None
        assert frame_value(screen, pixel) is not None
        assert "HU" in screen.probe_text()
        start = screen.state.probe
        await pilot.press("right", "shift+down")
        assert screen.state.probe == (start[0] + 1, start[1] + 10)
        assert screen.state.center == 40  # arrows move the probe, not the window
        await pilot.press("escape")
        assert screen.state.probe is None
        assert isinstance(app.screen, ViewerScreen)


def frame_value(screen: ViewerScreen, pixel: tuple[int, int]) -> float | None:
    """The modality value at (row, col) of the current frame's array."""
    assert screen.frame is not None
    value = screen.frame.value_at(*pixel)
    assert not isinstance(value, tuple)
    return value


async def test_probe_maps_corners_through_rotation(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("r")
        await settle(pilot)
        box = screen.query_one(ImageView).box
        assert box is not None
        view = screen.query_one(ImageView).region
        # the top-left cell of the picture shows the source's bottom-left
        screen._probe_to(view.x + box.x, view.y + box.y)
        x, y = screen.state.probe or (-1, -1)
        rows = screen.frame.values.shape[0] if screen.frame else 0
        assert y > rows * 0.9 and x < rows * 0.1
        await pilot.press("right")  # right on screen is up in the source, turned clockwise
        assert screen.state.probe == (x, y - 1)


async def test_tag_browser_searches(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        await open_study(pilot, CT)
        await pilot.press("t")
        await until(pilot, lambda: getattr(app.screen, "entries", None), "the tag browser")
        tags = app.screen
        assert isinstance(tags, TagScreen)
        await pilot.press(*"patientname")
        await pilot.pause()
        tree = tags.query_one("#tag-tree")
        labels = [str(node.label) for node in tree.root.children]  # type: ignore[attr-defined]
        assert labels and all("PatientName" in label for label in labels)
        assert any("Müller" in label for label in labels)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ViewerScreen)


async def test_tag_browser_masks_identity(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        await open_study(pilot, CT)
        await pilot.press("m", "t")
        await until(pilot, lambda: getattr(app.screen, "entries", None), "the tag browser")
        tags = app.screen
        assert isinstance(tags, TagScreen)
        names = [e for e in tags.entries if e.keyword == "PatientName"]
        assert names and names[0].value == "***"


async def test_back_to_browser(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        await open_study(pilot, CT)
        await pilot.press("backspace")
        await pilot.pause()
        assert type(app.screen).__name__ == "BrowserScreen"


@pytest.mark.filterwarnings("ignore:VR lookup failed")
async def test_missing_file_is_one_line_not_a_traceback(
    archive_copy: Archive, make_app: Any
) -> None:
    from tuipacs.store.query import list_instances, list_series, list_studies

    ct = [s for s in list_studies(archive_copy) if "CT" in s.modalities][0]
    series = list_series(archive_copy, ct.study_uid)[0]
    instances = list_instances(archive_copy, series.series_uid)
    instances[1].path.unlink()
    instances[2].path.write_bytes(b"DICM but not really")
    app = make_app(archive_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("j")
        await settle(pilot)
        assert "image 2:" in screen.message
        assert "\n" not in screen.message
        await pilot.press("j")
        await settle(pilot)
        assert "image 3:" in screen.message
        await pilot.press("j")
        await settle(pilot)
        assert screen.message == ""
        assert f"Im: 4/{CT_SLICES}" in screen.overlay_text()
    assert app.return_code in (None, 0)


async def test_click_places_the_probe(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        box = screen.query_one(ImageView).box
        assert box is not None
        target = (box.x + box.cols // 2, box.y + box.rows // 2)
        await pilot.click("#image", offset=target)
        await settle(pilot)
        assert screen.state.probe is not None
        assert screen.probe_text().startswith("Probe ")
        x, y = screen.state.probe
        rows, cols = screen.frame.values.shape if screen.frame else (0, 0)
        assert abs(x - cols / 2) < cols / box.cols and abs(y - rows / 2) < rows / box.rows
