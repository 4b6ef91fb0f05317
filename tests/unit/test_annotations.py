"""GSPS, SEG and RTSTRUCT read into per-image drawing lists and drawn on the displayed grid,
on real objects (made with highdicom, the RTSTRUCT with pydicom, all checked by dciodvfy),
imported into an archive; and hostile objects bounded, each with one line."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from annotationkit import (
    CONTOUR_PIXELS,
    POLYLINE,
    SIZE,
    WINDOW,
    Kit,
    make,
    rtstruct_with_points,
)
from helpers import require_binary

from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.view import annotations
from tuipacs.view.annotation_draw import (
    FILL,
    OUTLINE,
    boundary,
    draw_image_annotations,
    draw_mask,
    draw_masks,
    mask_on_grid,
    next_mode,
)
from tuipacs.view.annotations import (
    ALL_FRAMES,
    Mask,
    StudyAnnotations,
    add_gsps,
    cielab_to_rgb,
)
from tuipacs.view.annotations_load import LoadedAnnotations, load_study
from tuipacs.view.annotations_seg import add_seg
from tuipacs.view.measure_draw import source_mapper
from tuipacs.view.viewport import Orientation, Region

REPEAT = 3
"""Grid pixels per source pixel in the drawing tests (a known zoom)."""


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return make(tmp_path_factory.mktemp("annot"))


@pytest.fixture
def loaded(kit: Kit, tmp_path: Path) -> Iterator[LoadedAnnotations]:
    archive = Archive.open(tmp_path / "archive")
    summary = import_paths(archive, [*kit.ct_paths, kit.seg, kit.rtstruct, kit.gsps])
    assert summary.added == 6
    yield load_study(archive, kit.cts[0].StudyInstanceUID)
    archive.close()


def uid(kit: Kit, index: int) -> str:
    return str(kit.cts[index].SOPInstanceUID)


def test_objects_pass_dciodvfy(kit: Kit) -> None:
    dciodvfy = require_binary("dciodvfy")
    for path in (kit.seg, kit.rtstruct, kit.gsps, kit.ct_paths[0]):
        run = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, check=False)
        errors = [line for line in (run.stdout + run.stderr).splitlines() if "Error" in line]
        assert errors == [], (path.name, errors)


def test_seg_masks_equal_the_mask_on_each_slice(kit: Kit, loaded: LoadedAnnotations) -> None:
    study = loaded.study
    assert study.segments == {1: "lesion"} and study.problems == []
    for index in range(3):
        found = study.of((uid(kit, index), 0))
        masks = found.masks if found is not None else []
        if not kit.mask[index].any():
            assert masks == []  # an empty frame draws nothing
            continue
        assert len(masks) == 1 and masks[0].segment == 1
        assert np.array_equal(masks[0].pixels, kit.mask[index])
    # the file's RecommendedDisplayCIELabValue, converted: L 100, a +64, b 0 is a light pink
    red, green, blue = study.of((uid(kit, 1), 0)).masks[0].colour  # type: ignore[union-attr]
    assert red == 255 and blue > 230 and green < red


def test_rtstruct_contour_at_the_pixels_computed_by_hand(
    kit: Kit, loaded: LoadedAnnotations
) -> None:
    study = loaded.study
    found = study.of((uid(kit, 1), 0))
    assert found is not None and len(found.contours) == 1
    contour = found.contours[0]
    assert contour.closed and contour.colour == (0, 255, 255)
    assert np.allclose(contour.points, CONTOUR_PIXELS, atol=1e-3)
    for other in (0, 2):  # 2 mm away, half a slice is 1 mm: not on these slices
        elsewhere = study.of((uid(kit, other), 0))
        assert elsewhere is None or elsewhere.contours == []
    assert study.rois == 1


def test_gsps_window_polyline_and_text(kit: Kit, loaded: LoadedAnnotations) -> None:
    study = loaded.study
    assert study.gsps == 1
    found = study.of((uid(kit, 1), 0))
    assert found is not None and found.presentation is not None
    window = found.presentation.window
    assert window is not None and (window.center, window.width) == WINDOW
    assert found.presentation.area == (0.0, 0.0, SIZE, SIZE)  # the whole image
    (graphic,) = found.graphics
    # DICOM pixel coordinates have the top left corner of the image at 0, 0: centres at +0.5
    assert graphic.points == tuple((x - 0.5, y - 0.5) for x, y in POLYLINE)
    assert not graphic.closed
    assert [(label.text, label.at) for label in found.labels] == [("lesion", (11.5, 49.5))]
    other = study.of((uid(kit, 0), ALL_FRAMES))  # the window applies to every image
    assert other is not None and other.presentation is not None and other.graphics == []


def test_seg_outline_and_fill_drawn_at_the_mask(kit: Kit) -> None:
    mask = kit.mask[1]
    size = (SIZE * REPEAT, SIZE * REPEAT)
    region = Region(0.0, 0.0, float(SIZE), float(SIZE))
    grid = mask_on_grid(mask, (SIZE, SIZE), Orientation(), region, size)
    colour = (255, 0, 0)
    grey = np.full((*size, 3), 100, dtype=np.uint8)
    outlined = grey.copy()
    draw_mask(outlined, grid, colour, OUTLINE)
    drawn = np.all(outlined == colour, axis=2)
    rows, cols = np.nonzero(drawn)
    edge = boundary(mask)
    # every drawn pixel lies on a source pixel of the mask's boundary, and each boundary
    # pixel of the mask shows
    assert edge[rows // REPEAT, cols // REPEAT].all()
    shown = np.zeros_like(mask)
    shown[rows // REPEAT, cols // REPEAT] = True
    assert np.array_equal(shown, edge)
    assert (outlined[~drawn] == 100).all()  # nothing else touched
    filled = grey.copy()
    draw_mask(filled, grid, colour, FILL)
    inside = np.repeat(np.repeat(mask & ~edge, REPEAT, 0), REPEAT, 1)
    tinted = filled[inside]
    assert (tinted[:, 0] > 100).all() and (tinted[:, 1] < 100).all()  # translucent red
    outside = ~np.repeat(np.repeat(mask, REPEAT, 0), REPEAT, 1)
    assert (filled[outside] == 100).all()
    # turned a quarter clockwise on screen: the same pixels, turned
    turned = mask_on_grid(mask, (SIZE, SIZE), Orientation(1), region, size)
    assert np.array_equal(turned, np.rot90(grid, k=-1))
    assert next_mode(OUTLINE) == FILL and next_mode(next_mode(FILL)) == OUTLINE


def test_contour_and_polyline_drawn_where_expected(kit: Kit, loaded: LoadedAnnotations) -> None:
    found = loaded.study.of((uid(kit, 1), 0))
    assert found is not None
    found.masks.clear()
    to_grid = source_mapper((SIZE, SIZE), 1.0, Orientation(), (0, 0), (REPEAT, REPEAT))
    rgb = np.zeros((SIZE * REPEAT, SIZE * REPEAT, 3), dtype=np.uint8)
    draw_image_annotations(rgb, found, to_grid, lambda labels: labels, graphics=True)
    cyan = np.all(rgb == (0, 255, 255), axis=2)
    # the contour's corners (20, 20) and (44, 40) at the grid pixel of their centres
    top, left = int((20 + 0.5) * REPEAT), int((20 + 0.5) * REPEAT)
    bottom, right = int((40 + 0.5) * REPEAT), int((44 + 0.5) * REPEAT)
    rows, cols = np.nonzero(cyan)
    on_edge = (np.isin(rows, (top, bottom)) & (cols >= left) & (cols <= right)) | (
        np.isin(cols, (left, right)) & (rows >= top) & (rows <= bottom)
    )
    assert on_edge.all() and cyan[top, left] and cyan[bottom, right]
    magenta = np.all(rgb == (255, 96, 255), axis=2)  # the GSPS polyline crosses the top edge
    assert (cyan | magenta)[top, left:right].all() and cyan[top:bottom, right].all()
    # the GSPS polyline: its first segment along row 11.5 from column 9.5 to 39.5
    row = int((11.5 + 0.5) * REPEAT)
    assert magenta[row, int(10 * REPEAT) : int(40 * REPEAT)].all()
    hidden = np.zeros_like(rgb)
    draw_image_annotations(hidden, found, to_grid, lambda labels: labels, graphics=False)
    assert not np.all(hidden == (255, 96, 255), axis=2).any()  # annotations off


def test_cielab_white_and_bad_values() -> None:
    assert cielab_to_rgb((65535, 32896, 32896)) == (255, 255, 255)
    assert cielab_to_rgb((0, 32896, 32896)) == (0, 0, 0)
    assert cielab_to_rgb(("x", 1, 2)) is None and cielab_to_rgb(None) is None


# -- hostile -------------------------------------------------------------------------------


def test_seg_claiming_a_million_frames_is_one_line(kit: Kit, loaded: LoadedAnnotations) -> None:
    ds = pydicom.dcmread(kit.seg)
    ds.NumberOfFrames = 1_000_000
    study = StudyAnnotations()
    started = time.monotonic()
    add_seg(study, ds, [], {uid(kit, i) for i in range(3)})
    assert time.monotonic() - started < 5  # refused before anything is decoded
    assert study.images == {}
    (problem,) = study.problems
    assert "1000000 frames of 64 x 64" in problem and "limit" in problem


def test_seg_of_another_size_matches_no_image(kit: Kit, tmp_path: Path) -> None:
    ds = pydicom.dcmread(kit.seg)
    frames = int(ds.NumberOfFrames)
    half = np.unpackbits(np.frombuffer(ds.PixelData, np.uint8), bitorder="little")
    ds.Rows = ds.Columns = SIZE // 2
    bits = half[: frames * (SIZE // 2) ** 2]
    ds.PixelData = np.packbits(bits, bitorder="little").tobytes()
    for group in ds.PerFrameFunctionalGroupsSequence:  # no source image: by position only
        del group.DerivationImageSequence
    planes_kit = pydicom.dcmread(kit.ct_paths[1])
    from tuipacs.view.annotations_seg import plane_of

    planes = [plane_of((uid(kit, i), 0), pydicom.dcmread(kit.ct_paths[i])) for i in range(3)]
    study = StudyAnnotations()
    add_seg(study, ds, [p for p in planes if p is not None], set())
    assert planes_kit.Rows == SIZE
    assert all(not found.masks for found in study.images.values())
    (problem,) = study.problems
    assert "match no image of the study" in problem


def test_rtstruct_with_a_million_points_is_bounded(kit: Kit, tmp_path: Path) -> None:
    path = tmp_path / "big.dcm"
    rtstruct_with_points(kit.cts, 10**6, path)
    item = pydicom.dcmread(path).ROIContourSequence[0].ContourSequence[0]
    assert annotations.value_count(item, "ContourData") == 3 * 10**6  # a well-formed file
    archive = Archive.open(tmp_path / "archive")
    import_paths(archive, [*kit.ct_paths, path])
    started = time.monotonic()
    study = load_study(archive, kit.cts[0].StudyInstanceUID).study
    elapsed = time.monotonic() - started
    archive.close()
    print(f"load_study with 10^6 contour points: {elapsed:.2f} s")
    assert elapsed < 2  # a hang check: converting every value first took 6 to 12 s
    assert all(not found.contours for found in study.images.values())
    (problem,) = study.problems
    assert "over 200000 contour points" in problem


def test_gsps_spatial_transformation_displayed_area_and_display_units(kit: Kit) -> None:
    ds = pydicom.dcmread(kit.gsps)
    ds.ImageRotation, ds.ImageHorizontalFlip = 90, "Y"
    area = ds.DisplayedAreaSelectionSequence[0]
    area.DisplayedAreaTopLeftHandCorner = [11, 21]  # column, row; 1\1 is the first pixel
    area.DisplayedAreaBottomRightHandCorner = [40, 50]
    graphic = ds.GraphicAnnotationSequence[0].GraphicObjectSequence[0]
    graphic.GraphicAnnotationUnits = "DISPLAY"
    graphic.GraphicData = [0.0, 0.0, 0.5, 1.0]
    study = StudyAnnotations()
    add_gsps(study, ds)
    found = study.of((uid(kit, 1), 0))
    assert found is not None and found.presentation is not None
    assert found.presentation.orientation == Orientation(1, True, False)
    assert found.presentation.area == (20.0, 10.0, 50.0, 40.0)  # top, left, bottom, right
    # fractions of the displayed area: its top left corner, then the middle of its bottom
    assert found.graphics[0].points == ((9.5, 19.5), (24.5, 49.5))


def test_gsps_with_too_many_points_is_one_line(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(annotations, "MAX_POINTS", 1000)  # a lean stand-in for 10^6
    ds = pydicom.dcmread(kit.gsps)
    graphic = ds.GraphicAnnotationSequence[0].GraphicObjectSequence[0]
    graphic.GraphicData = [1.0] * 4000
    study = StudyAnnotations()
    add_gsps(study, ds)
    found = study.of((uid(kit, 1), 0))
    assert found is not None and found.graphics == []
    assert [label.text for label in found.labels] == ["lesion"]  # the rest is kept
    (problem,) = study.problems
    assert "over 1000 points" in problem


def test_many_segments_drawn_in_one_pass_each_in_its_colour() -> None:
    masks = []
    for number in range(1, 21):  # 20 squares of 3 x 3 pixels along the diagonal
        pixels = np.zeros((SIZE, SIZE), dtype=bool)
        pixels[number * 3 : number * 3 + 3, number * 3 : number * 3 + 3] = True
        masks.append(Mask(number, pixels, (number * 12, 255 - number * 12, 7)))
    region = Region(0.0, 0.0, float(SIZE), float(SIZE))
    size = (SIZE * REPEAT, SIZE * REPEAT)
    rgb = np.zeros((*size, 3), dtype=np.uint8)

    def to_grid(labels: np.ndarray) -> np.ndarray:
        return mask_on_grid(labels, (SIZE, SIZE), Orientation(), region, size)

    draw_masks(rgb, masks, to_grid, OUTLINE)
    for mask in masks:
        rows, cols = np.nonzero(np.all(rgb == mask.colour, axis=2))
        edge = boundary(mask.pixels)
        assert len(rows) > 0 and edge[rows // REPEAT, cols // REPEAT].all()
        shown = np.zeros_like(mask.pixels)
        shown[rows // REPEAT, cols // REPEAT] = True
        assert np.array_equal(shown, edge)


def test_gsps_magnify_ratio_and_bad_ratios(kit: Kit) -> None:
    for mode, ratio, expected in (
        ("MAGNIFY", 2.5, 2.5), ("MAGNIFY", 0.0, None), ("MAGNIFY", 1e9, None),
        ("TRUE SIZE", 2.0, None), ("SCALE TO FIT", 2.0, None),
    ):  # fmt: skip
        ds = pydicom.dcmread(kit.gsps)
        area = ds.DisplayedAreaSelectionSequence[0]
        area.PresentationSizeMode = mode
        area.PresentationPixelMagnificationRatio = ratio
        study = StudyAnnotations()
        add_gsps(study, ds)
        found = study.of((uid(kit, 1), 0))
        assert found is not None and found.presentation is not None
        assert found.presentation.magnify == expected, mode
