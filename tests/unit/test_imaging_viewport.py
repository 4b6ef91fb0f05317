"""Pixel geometry of a dataset (spacing, aspect) and the resampling of display arrays.

The viewer's viewport model (orientation, zoom, pan) is tuipacs.view.viewport, tested with
the viewer (tests/app/test_app_viewport.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from tuipacs.imaging.resample import fit_into, fit_pixels, letterbox, resize, square_pixel_size
from tuipacs.imaging.viewport import pixel_aspect, pixel_spacing


def _dataset(**values: object) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def test_spacing_comes_from_pixel_spacing_then_imager_spacing() -> None:
    assert pixel_spacing(_dataset(PixelSpacing=[0.5, 0.25])) == (0.5, 0.25)
    assert pixel_spacing(_dataset(ImagerPixelSpacing=[0.2, 0.2])) == (0.2, 0.2)
    assert pixel_spacing(_dataset(PixelSpacing=["0", "1"], ImagerPixelSpacing=[1, 2])) == (1, 2)
    assert pixel_spacing(_dataset()) is None


def test_spacing_of_an_enhanced_frame_comes_from_its_pixel_measures() -> None:
    measures = _dataset(PixelSpacing=[2.0, 1.0])
    shared = _dataset(PixelMeasuresSequence=[measures])
    ds = _dataset(SharedFunctionalGroupsSequence=[shared], PixelSpacing=[1.0, 1.0])
    assert pixel_spacing(ds, 0) == (2.0, 1.0)
    assert pixel_aspect(ds, 0) == 2.0


@pytest.mark.parametrize(
    ("values", "aspect"),
    [
        ({"PixelSpacing": [0.6, 0.3]}, 2.0),
        ({"PixelAspectRatio": [4, 3]}, 4 / 3),
        ({"PixelAspectRatio": [-1, 1]}, 1.0),
        ({"PixelSpacing": [0, 1]}, 1.0),
        ({}, 1.0),
    ],
)
def test_pixel_aspect(values: dict[str, object], aspect: float) -> None:
    assert pixel_aspect(_dataset(**values)) == pytest.approx(aspect)


def test_fit_pixels_keeps_the_proportions() -> None:
    assert fit_pixels((100, 200), 1.0, (100, 100)) == (50, 100)
    assert fit_pixels((100, 100), 2.0, (100, 100)) == (100, 50)
    assert square_pixel_size((100, 50), 2.0) == (200, 50)


def test_resize_identity_and_reduction() -> None:
    image = np.arange(64, dtype=np.uint8).reshape(8, 8)
    assert resize(image, (8, 8)) is image
    small = resize(image, (4, 4))
    assert small.shape == (4, 4)
    assert abs(float(small.mean()) - float(image.mean())) <= 1


def test_big_images_are_reduced_without_aliasing() -> None:
    stripes = np.zeros((4096, 4096), dtype=np.uint8)
    stripes[:, ::2] = 255
    out = resize(stripes, (256, 256))
    assert out.shape == (256, 256)
    assert 120 <= int(out[128, 128]) <= 135


def test_fit_into_letterboxes_in_black() -> None:
    boxed = fit_into(np.full((10, 20), 99, np.uint8), 1.0, (20, 20))
    assert boxed.shape == (20, 20)
    assert boxed[0, 0] == 0 and boxed[10, 10] == 99
    rgb = letterbox(np.full((2, 2, 3), 7, np.uint8), (4, 6))
    assert rgb.shape == (4, 6, 3) and rgb[1, 2].tolist() == [7, 7, 7] and rgb[0, 0].sum() == 0
