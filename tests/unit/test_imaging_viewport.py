"""Viewport maths: fit, zoom about a point, pan, rotate, flip, aspect, probing, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from tuipacs.imaging.viewport import Viewport, display_image, probe, resample
from tuipacs.imaging.voi import Window

SIZE = (200, 100)


def test_fit_centres_the_whole_image() -> None:
    view = Viewport(columns=400, rows=100)
    assert view.fit_scale(SIZE) == 0.5
    assert view.to_screen(200, 50, SIZE) == (100, 50)
    assert view.to_screen(0, 0, SIZE) == (0, 25)
    assert view.to_screen(400, 100, SIZE) == (200, 75)


def test_pixel_aspect_stretches_rows() -> None:
    view = Viewport(columns=100, rows=100, aspect=2.0)
    assert view.displayed_size() == (100, 200)
    assert view.fit_scale(SIZE) == 0.5
    x0, y0 = view.to_screen(0, 0, SIZE)
    x1, y1 = view.to_screen(100, 100, SIZE)
    assert (x1 - x0, y1 - y0) == (50, 100)


def test_zoom_about_a_point_keeps_it_fixed() -> None:
    view = Viewport(columns=512, rows=512)
    point = (37.0, 81.0)
    before = view.to_image(*point, SIZE)
    zoomed = view.zoomed(3.0, point, SIZE)
    assert zoomed.zoom == 3.0
    assert zoomed.to_image(*point, SIZE) == pytest.approx(before)
    assert zoomed.fit() == view


def test_pan_moves_the_picture_by_screen_pixels() -> None:
    view = Viewport(columns=512, rows=512).zoomed(2.0, None, SIZE)
    moved = view.panned(10, -4, SIZE)
    x, y = view.to_screen(100, 100, SIZE)
    assert moved.to_screen(100, 100, SIZE) == pytest.approx((x + 10, y - 4))


def on_screen(view: Viewport) -> tuple[float, float]:
    """Width and height of the part of the output the picture covers."""
    corners = [view.to_screen(x, y, SIZE) for x in (0, view.columns) for y in (0, view.rows)]
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    return min(max(xs), SIZE[0]) - max(min(xs), 0), min(max(ys), SIZE[1]) - max(min(ys), 0)


@pytest.mark.parametrize("rotation", [0, 1])
def test_pan_stops_with_part_of_the_picture_on_screen(rotation: int) -> None:
    view = Viewport(columns=512, rows=256, rotation=rotation).zoomed(4.0, None, SIZE)
    for dx, dy in ((10_000, 0), (-10_000, 0), (0, 10_000), (0, -10_000), (9e9, -9e9)):
        moved = view.panned(dx, dy, SIZE)
        seen_w, seen_h = on_screen(moved)
        assert seen_w >= SIZE[0] / 2 and seen_h >= SIZE[1] / 2  # a quarter stays on screen
        cx, cy = moved.center
        assert 0 <= cx <= 512 and 0 <= cy <= 256
    assert view.panned(10_000, 10_000, SIZE).center in ((0.0, 0.0), (0.0, 256.0))


def test_zoom_about_a_far_point_keeps_the_picture_on_screen() -> None:
    view = Viewport(columns=100, rows=100).zoomed(0.25, None, SIZE)
    zoomed = view.zoomed(8.0, (0.0, 0.0), SIZE)  # about a point in the margin
    seen_w, seen_h = on_screen(zoomed)
    assert seen_w > 0 and seen_h > 0


def test_rotate_and_flip() -> None:
    view = Viewport(columns=4, rows=2)
    size = (2, 4)
    right = view.rotated()
    assert right.rotation == 1 and right.rotated(-1).rotation == 0
    # the top-left corner of the image goes to the top-right on screen
    assert right.to_screen(0, 0, size) == pytest.approx((2, 0))
    flipped = view.flipped_horizontal()
    assert flipped.to_screen(0, 0, (4, 2)) == pytest.approx((4, 0))
    assert view.flipped_vertical().to_screen(0, 0, (4, 2)) == pytest.approx((0, 2))
    assert view.flipped_horizontal().flipped_horizontal() == view


def test_pixel_at_maps_screen_back_to_image() -> None:
    view = Viewport(columns=10, rows=10)
    assert view.pixel_at(0, 0, (10, 10)) == (0, 0)
    assert view.pixel_at(9, 9, (10, 10)) == (9, 9)
    assert view.pixel_at(-1.0, 5.0, (10, 10)) is None
    rotated = view.rotated()
    assert rotated.pixel_at(9, 0, (10, 10)) == (0, 0)


def test_probe_returns_modality_value() -> None:
    values = np.arange(100, dtype=np.int16).reshape(10, 10) - 1000
    view = Viewport(columns=10, rows=10).zoomed(2.0, None, (10, 10))
    hit = probe(values, view, 5, 5, (10, 10))
    assert hit is not None and (hit.column, hit.row) == (5, 5)
    assert hit.value == -945 and hit.label("HU") == "(5, 5) = -945 HU"
    rgb = np.zeros((10, 10, 3), dtype=np.uint8)
    colour = probe(rgb, Viewport(10, 10), 0, 0, (10, 10))
    assert colour is not None and colour.value == (0, 0, 0)
    assert probe(values, Viewport(10, 10), 50, 50, (10, 10)) is None


def test_resample_identity_and_fit() -> None:
    image = np.arange(64, dtype=np.uint8).reshape(8, 8)
    assert np.array_equal(resample(image, Viewport(8, 8), (8, 8)), image)
    small = resample(image, Viewport(8, 8), (4, 4))
    assert small.shape == (4, 4)
    assert abs(int(small[0, 0]) - int(image[:2, :2].mean())) <= 1


def test_resample_rotation_and_letterbox() -> None:
    image = np.zeros((2, 4), dtype=np.uint8)
    image[0, 0] = 200
    out = resample(image, Viewport(4, 2).rotated(), (2, 4), smooth=False)
    assert out.shape == (4, 2) and out[0, 1] == 200
    boxed = resample(np.full((10, 20), 99, np.uint8), Viewport(20, 10), (20, 20), smooth=False)
    assert boxed[0, 0] == 0 and boxed[10, 10] == 99


def test_big_images_are_reduced_before_resampling() -> None:
    stripes = np.zeros((4096, 4096), dtype=np.uint8)
    stripes[:, ::2] = 255
    out = resample(stripes, Viewport(4096, 4096), (256, 256))
    assert out.shape == (256, 256)
    assert 120 <= int(out[128, 128]) <= 135


def test_display_image_windows_resampled_values() -> None:
    values = np.linspace(-1000, 1000, 64 * 64, dtype=np.float32).reshape(64, 64)
    view = Viewport(64, 64)
    grey = display_image(values, view, (32, 16), Window(0, 2000))
    assert grey.shape == (16, 32) and grey.dtype == np.uint8
    assert grey[:, :8].max() == 0 and grey[:, -8:].max() == 0
    rgb = display_image(np.zeros((4, 4, 3), np.uint8), Viewport(4, 4), (8, 8))
    assert rgb.shape == (8, 8, 3)
    with pytest.raises(ValueError):
        display_image(values, view, (8, 8))
