"""Pure viewer logic: orientation, visible region, window steps, presets, overlay text."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tuipacs.imaging.voi import Window
from tuipacs.view import format as fmt
from tuipacs.view.info import FrameInfo
from tuipacs.view.labels import (
    direction_label,
    image_edge_labels,
    opposite_direction,
    orientation_labels,
    patient_orientation_labels,
)
from tuipacs.view.overlay_text import block_width, clip_block, corner_width, corners, patient_age
from tuipacs.view.state import ViewerState, preset_choices
from tuipacs.view.viewport import Orientation, Region, crop, screen_to_region, visible_region

ORIENTATIONS = [
    Orientation(k, h, v) for k, h, v in itertools.product(range(4), (False, True), (False, True))
]


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_to_source_inverts_apply(orientation: Orientation) -> None:
    source = np.arange(3 * 5).reshape(3, 5)
    shown = orientation.apply(source)
    assert shown.shape == orientation.oriented_shape(3, 5)
    for row, col in itertools.product(range(shown.shape[0]), range(shown.shape[1])):
        r, c = orientation.to_source(row, col, 3, 5)
        assert source[int(r), int(c)] == shown[row, col]


def test_screen_space_rotation_after_flip() -> None:
    source = np.arange(6).reshape(2, 3)
    flipped = Orientation().mirrored_h()
    turned = flipped.rotated()
    assert np.array_equal(turned.apply(source), np.rot90(flipped.apply(source), -1))
    assert np.array_equal(turned.rotated(False).apply(source), flipped.apply(source))


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_edge_labels_follow_the_picture(orientation: Orientation) -> None:
    # a picture whose edges carry their own labels: top row 1, right col 2, ...
    pic = np.zeros((5, 5), dtype=int)
    pic[0, 1:4], pic[1:4, 4], pic[4, 1:4], pic[1:4, 0] = 1, 2, 3, 4
    shown = orientation.apply(pic)
    top, right, bottom, left = orientation.edge_labels(("1", "2", "3", "4"))
    assert (str(shown[0, 2]), str(shown[2, 4]), str(shown[4, 2]), str(shown[2, 0])) == (
        top,
        right,
        bottom,
        left,
    )


def test_orientation_labels_axial_coronal_sagittal() -> None:
    assert orientation_labels([1, 0, 0, 0, 1, 0]) == ("A", "L", "P", "R")
    assert orientation_labels([1, 0, 0, 0, 0, -1]) == ("H", "L", "F", "R")
    assert orientation_labels([0, 1, 0, 0, 0, -1]) == ("H", "P", "F", "A")
    assert orientation_labels(None) == ("", "", "", "")
    assert direction_label((0.7, 0.7, 0.1)) in ("LP", "PL")


def test_patient_orientation_labels() -> None:
    assert patient_orientation_labels(["L", "F"]) == ("H", "L", "F", "R")
    assert patient_orientation_labels("A\\F") == ("H", "A", "F", "P")
    assert patient_orientation_labels(("LP", "FR")) == ("HL", "LP", "FR", "RA")
    assert patient_orientation_labels(b"P\\H") == ("F", "P", "H", "A")
    for odd in (None, "", ["L"], ["L", ""], ["L", "F", "A"], 3):
        assert patient_orientation_labels(odd) == ("", "", "", "")
    assert patient_orientation_labels(["CR", "D"]) == ("", "CR", "D", "")  # quadruped terms
    assert opposite_direction("LPH") == "RAF" and opposite_direction("") == ""


def test_image_edge_labels_prefer_the_orientation_vectors() -> None:
    axial = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    assert image_edge_labels(axial, ["A", "F"]) == ("A", "L", "P", "R")
    assert image_edge_labels(None, ["L", "F"]) == ("H", "L", "F", "R")
    assert image_edge_labels(None, None) == ("", "", "", "")
    turned = Orientation().rotated()
    assert turned.edge_labels(image_edge_labels(None, ["L", "F"])) == ("R", "H", "L", "F")


def test_overlay_blocks_are_cut_to_cells() -> None:
    text = "Demo Clinic Kyoto 京都\nSe: 2 T1"
    assert block_width(text) == 22 and block_width("") == 0
    assert clip_block(text, 30) == text
    assert clip_block(text, 8).split("\n") == ["Demo Cl…", "Se: 2 T1"]
    assert corner_width(160) == 77 and corner_width(44) == 19 and corner_width(2) == 1


def test_cine_rate_in_the_display_corner() -> None:
    state = ViewerState(window=Window(40, 400), cine_rate=12.0)
    assert "Cine" not in corners(FrameInfo(), state, state.window, 100.0).bottom_right
    paused = corners(FrameInfo(), state, state.window, 100.0, cine_note=True).bottom_right
    assert paused.splitlines()[0] == "Cine 12 fps (paused)"
    state.cine = True
    assert corners(FrameInfo(), state, state.window, 100.0).bottom_right.startswith("Cine 12 fps\n")


def test_visible_region_fits_then_crops_and_clamps_pan() -> None:
    view = (940.0, 1600.0)
    region, pan = visible_region((512, 512), 1.0, view, 1.0, (50.0, 50.0))
    assert region == Region(0.0, 0.0, 512.0, 512.0) and pan == (0.0, 0.0)
    region, pan = visible_region((512, 512), 1.0, view, 4.0, (1000.0, -1000.0))
    assert region.height == pytest.approx(128.0)
    assert region.width == pytest.approx(128.0 * 1600 / 940)
    assert region.top + region.height == pytest.approx(512.0)  # clamped to the bottom edge
    assert region.left == pytest.approx(0.0)  # and to the left edge
    array = np.zeros((512, 512), dtype=np.uint8)
    assert crop(array, region).shape == (128, 218)


def test_visible_region_respects_pixel_aspect() -> None:
    region, _ = visible_region((100, 100), 2.0, (1000.0, 1000.0), 4.0, (0.0, 0.0))
    # pixels twice as tall as wide: fewer rows than columns are visible
    assert region.height == pytest.approx(region.width / 2)


def test_screen_to_region_maps_box_cells() -> None:
    region = Region(10.0, 20.0, 100.0, 200.0)
    hit = screen_to_region((5, 2), (5, 2, 40, 20), region, (100, 200))
    assert hit == pytest.approx((10.0 + 0.5 * 5, 20.0 + 0.5 * 5))
    assert screen_to_region((4, 2), (5, 2, 40, 20), region, (100, 200)) is None


def test_presets_per_modality() -> None:
    ct = preset_choices("CT", [Window(40, 400, "SOFT")])
    assert [c.key for c in ct] == [*"1234567890", ""]  # the eleventh is in the list (w)
    assert ct[0].name == "brain" and ct[3].name == "lung"
    assert ct[8].label == "SOFT"  # the file's window after the eight CT presets
    mr = preset_choices("MR", [])
    assert [c.name for c in mr] == ["minmax", "auto"]
    mr_file = preset_choices("MR", [Window(1, 2), Window(3, 4)])
    assert [c.name for c in mr_file] == ["file1", "file2", "minmax", "auto"]


def test_cine_rates_step() -> None:
    state = ViewerState(cine_rate=10.0)
    assert state.cine_faster(True) == 12.0
    assert state.cine_faster(False) == 10.0
    state.cine_rate = 33.3
    assert state.cine_faster(False) == 30.0
    state.cine_rate = 60.0
    assert state.cine_faster(True) == 60.0


def test_zoom_keys_and_one_to_one() -> None:
    state = ViewerState()
    for _ in range(20):
        state.zoom_by(1 / 1.25)
    assert state.zoom == pytest.approx(0.25)  # MIN_ZOOM
    state.zoom_one_to_one(8.0)  # a small image: 1:1 is an eighth of its fitted size
    assert state.zoom == pytest.approx(0.125)
    state.zoom_by(1 / 1.25)  # out of the keys' range: zooming out stays put
    assert state.zoom == pytest.approx(0.125)
    state.zoom_by(1.25)
    assert state.zoom == pytest.approx(0.15625)
    state.zoom_one_to_one(0.5)
    assert state.zoom == pytest.approx(2.0)
    state.zoom_one_to_one(1e-6)
    assert state.zoom == pytest.approx(32.0)  # MAX_ZOOM
    state.zoom_one_to_one(0.0)
    assert state.zoom == pytest.approx(32.0)


def test_go_to_clamps_or_wraps() -> None:
    state = ViewerState(count=5)
    assert not state.go_to(-3)
    assert state.go_to(7) and state.index == 4
    assert state.go_to(5, wrap=True) and state.index == 0


def test_overlay_corners_and_mask() -> None:
    info = FrameInfo(
        modality="CT",
        patient_name="DOE^JANE",
        patient_id="ID1",
        birth_date="19700102",
        sex="F",
        study_date="20240101",
        study_time="101500",
        series_number="3",
        series_description="AX",
        rows=512,
        columns=512,
        slice_location=-12.5,
        slice_thickness=1.0,
    )
    state = ViewerState(index=2, count=20, window=Window(40, 400))
    text = corners(info, state, state.window, 150.0)
    assert text.top_left.splitlines() == ["DOE, JANE", "ID: ID1", "DOB: 1970-01-02  F  53 y"]
    assert "Im: 3/20" in text.bottom_left and "Loc: -12.5 mm  Thk: 1 mm" in text.bottom_left
    assert text.bottom_right.splitlines() == ["Zoom: 150%", "WL: 40 WW: 400"]
    state.masked = True
    masked = corners(info, state, state.window, 150.0)
    assert "DOE" not in masked.top_left and "ID1" not in masked.top_left
    assert "53 y" not in masked.top_left, "the age tells the birth year"


def test_overlay_cosmetics() -> None:
    """No stray "DOB:  M" without a birth date; the header's age; "Loc" for any position;
    29.97 fps reads as the rate keys set it ("30", not "30.0")."""
    info = FrameInfo(patient_name="DOE^JOHN", sex="M", patient_age="063Y", position=(1, 2, -7.5))
    state = ViewerState(index=0, count=3, window=Window(40, 400), cine=True, cine_rate=29.97)
    text = corners(info, state, state.window, 100.0)
    assert text.top_left.splitlines()[-1] == "M  63 y"
    assert "Loc: -7.5 mm" in text.bottom_left and "Pos" not in text.bottom_left
    assert "Cine 30 fps" in text.bottom_right
    for age, shown in (("012M", "12 mo"), ("003W", "3 w"), ("bad", ""), ("", "")):
        assert patient_age(FrameInfo(patient_age=age)) == shown
    born = FrameInfo(birth_date="19700615", study_date="20240614")
    assert patient_age(born) == "53 y", "the birthday is the day after the study"
    assert patient_age(FrameInfo(birth_date="1970", study_date="20240614")) == ""


def test_format_helpers() -> None:
    assert fmt.person_name("DOE^JOHN^Q^^") == "DOE, JOHN Q"
    assert fmt.person_name("Yamada^Tarou=山田^太郎") == "Yamada, Tarou"
    assert fmt.dicom_date("20240315") == "2024-03-15"
    assert fmt.dicom_date("2024") == "2024"
    assert fmt.dicom_time("104200.5") == "10:42"
    assert fmt.modalities("CT\\SR") == "CT,SR"
    assert fmt.number(2.0) == "2" and fmt.number(2.25, 2) == "2.25"
    assert fmt.clip("abcdef", 4) == "abc…"


@pytest.mark.parametrize(
    ("name", "window", "title"),
    [
        ("file", Window(40, 400, "WINDOW1"), ""),
        ("custom", Window(40, 380, ""), ""),
        ("lung", Window(-600, 1500, "LUNG"), "LUNG"),
        ("file2", Window(300, 1500, "BONE"), "BONE"),
        ("file2", Window(300, 1500, ""), "file 2"),
        ("minmax", Window(0, 100, "MIN-MAX"), "MIN-MAX"),
    ],
)
def test_overlay_names_the_chosen_window(name: str, window: Window, title: str) -> None:
    from tuipacs.view.overlay_text import window_title

    assert window_title(name, window) == title
