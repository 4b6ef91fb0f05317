"""Pilot tests of the viewer's overlays: lines never wrap, orientation labels from Patient
Orientation, cine rate without a toast, header facts of an unreadable image."""

from __future__ import annotations

from typing import Any

import pytest
from apphelpers import CT_SLICES, SIZE, open_study, settle
from rich.cells import cell_len
from textual.geometry import Region
from textual.widgets import Static

from tuipacs.app.screens import viewer_cine
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_instances, list_series, list_studies
from tuipacs.view import format as fmt

CT, DX, US, MR = 0, 1, 2, 3  # rows of the browser, newest study first
INSTITUTION = "Demo Clinic Kyoto 京都"


def painted_lines(screen: ViewerScreen, widget_id: str) -> list[str]:
    """The text rows an overlay widget paints (what the user sees, wrapped or cut)."""
    widget = screen.query_one(f"#{widget_id}", Static)
    if not widget.display:
        return []
    width, height = widget.outer_size
    return [strip.text.strip() for strip in widget.render_lines(Region(0, 0, width, height))]


def labels(screen: ViewerScreen) -> tuple[str, ...]:
    """(top, right, bottom, left) orientation labels shown."""
    return tuple(
        "\n".join(painted_lines(screen, f"ori-{edge}"))
        for edge in ("top", "right", "bottom", "left")
    )


async def test_wide_characters_do_not_wrap_the_corner(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, MR)
        lines = painted_lines(screen, "ov-tr")
        assert lines[0] == INSTITUTION
        assert any(line.startswith("Se: ") for line in lines)  # not pushed out of the corner


async def test_corner_lines_are_cut_to_the_corner_width(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    app.settings.config.hanging_protocols = False  # one viewport 44 cells wide (no MR 2x2)
    async with app.run_test(size=(44, 30)) as pilot:
        screen = await open_study(pilot, MR)
        viewport = screen.query_one("#viewport").content_size.width
        for corner in ("ov-tl", "ov-tr", "ov-bl", "ov-br"):
            widget = screen.query_one(f"#{corner}", Static)
            text = str(widget.render())
            painted = painted_lines(screen, corner)
            assert painted == [line.strip() for line in text.split("\n")]  # one row each
            assert widget.outer_size.width <= viewport // 2
            assert all(cell_len(line) <= widget.size.width for line in painted)
        top_right = painted_lines(screen, "ov-tr")
        assert top_right[0].endswith("…") and top_right[0].startswith("Demo Clinic")
        assert any(line.startswith("Se: ") for line in top_right)
        tl, tr = screen.query_one("#ov-tl").region, screen.query_one("#ov-tr").region
        assert tl.right <= tr.x  # the corners never overlap


def test_clip_counts_wide_characters() -> None:
    clip_cells = fmt.clip
    assert clip_cells("abc", 3) == "abc"
    assert clip_cells(INSTITUTION, 22) == INSTITUTION
    assert clip_cells(INSTITUTION, 21) == "Demo Clinic Kyoto 京…"
    assert clip_cells(INSTITUTION, 20) == "Demo Clinic Kyoto…"  # 京 would not fit beside …
    assert clip_cells("Demo Clinic Kyoto", 13) == "Demo Clinic…"
    assert clip_cells("abc", 1) == "…"
    assert clip_cells("abc", 0) == ""


async def test_patient_orientation_labels_a_radiograph(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, DX)  # PatientOrientation L\F, no orientation vectors
        assert labels(screen) == ("H", "L", "F", "R")
        await pilot.press("r")
        await settle(pilot)
        assert labels(screen) == ("R", "H", "L", "F")
        await pilot.press("R", "h")
        await settle(pilot)
        assert labels(screen) == ("H", "R", "F", "L")
        await pilot.press("x")
        await settle(pilot)
        assert labels(screen) == ("H", "L", "F", "R")


async def test_cine_rate_shows_in_the_overlay_not_a_toast(
    archive: Archive, make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(viewer_cine, "NOTE_SECONDS", 600.0)  # a slow machine keeps the note
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, US)
        rate = screen.state.cine_rate
        await pilot.press("space", "right_square_bracket")
        await pilot.pause()
        faster = screen.state.cine_rate
        assert screen.state.cine and faster > rate
        assert not app._notifications and not app.query("Toast")  # nothing covers the corner
        bottom_right = painted_lines(screen, "ov-br")
        assert f"Cine {faster:g} fps" in bottom_right
        assert any(line.startswith("Zoom:") for line in bottom_right)
        assert any(line.startswith("WL:") or line == "colour" for line in bottom_right)
        await pilot.press("space", "left_square_bracket")  # paused: the new rate shows briefly
        await pilot.pause()
        assert not screen.state.cine and screen.state.cine_rate == rate
        assert f"Cine {rate:g} fps (paused)" in painted_lines(screen, "ov-br")
        assert not app._notifications


def break_pixels(archive: Archive, images: tuple[int, ...], garbage: int = -1) -> None:
    """Cut the pixel data of CT images ``images`` in half; make ``garbage`` not DICOM."""
    ct = [s for s in list_studies(archive) if "CT" in s.modalities][0]
    series = list_series(archive, ct.study_uid)[0]
    instances = list_instances(archive, series.series_uid)
    for index in images:
        data = instances[index].path.read_bytes()
        instances[index].path.write_bytes(data[: len(data) // 2])
    if garbage >= 0:
        instances[garbage].path.write_bytes(b"DICM but not really")


@pytest.mark.filterwarnings("ignore:VR lookup failed")
async def test_unreadable_pixels_keep_the_header_overlay(
    archive_copy: Archive, make_app: Any
) -> None:
    break_pixels(archive_copy, (0, 1), garbage=2)
    app = make_app(archive_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        assert screen.frame is None
        assert "image 1:" in screen.message
        text = screen.overlay_text()
        assert "Müller, Jürgen" in text and "(no name)" not in text
        assert "ID: TP-100231" in text
        assert "Se: " in text and f"Im: 1/{CT_SLICES}" in text
        assert "512x512" in text  # from the header
        await pilot.press("j")
        await settle(pilot)
        assert "image 2:" in screen.message
        assert "Müller, Jürgen" in screen.overlay_text()
        await pilot.press("j")  # not DICOM at all: the archive's index still knows the study
        await settle(pilot)
        assert "image 3:" in screen.message
        text = screen.overlay_text()
        assert "Müller, Jürgen" in text and "Se: " in text and f"Im: 3/{CT_SLICES}" in text
        await pilot.press("j")
        await settle(pilot)
        assert screen.message == "" and screen.frame is not None
        assert "Müller, Jürgen" in screen.overlay_text()
