"""make_thumbnail: the middle frame in the default window, square pixels, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file

from tuipacs.imaging.errors import ImagingError
from tuipacs.imaging.pipeline import DisplayPipeline
from tuipacs.imaging.thumbnail import make_thumbnail, thumbnail_size


def data(name: str) -> Path:
    path = get_testdata_file(name)
    assert isinstance(path, str)
    return Path(path)


def test_size_keeps_the_physical_proportions() -> None:
    assert thumbnail_size(512, 512, 1.0, 160) == (160, 160)
    assert thumbnail_size(100, 200, 1.0, 160) == (160, 80)
    assert thumbnail_size(256, 256, 0.5, 160) == (160, 80)  # short, wide pixels
    assert thumbnail_size(64, 64, 1.0, 160) == (64, 64)  # never enlarged
    assert thumbnail_size(1, 5000, 1.0, 160) == (160, 1)


def test_grey_image_is_the_display_frame_reduced() -> None:
    path = data("CT_small.dcm")
    thumb = make_thumbnail(path, max_side=64)
    full = DisplayPipeline.open(path).display_frame(0)
    expected = np.asarray(Image.fromarray(full).resize((64, 64), Image.Resampling.BOX))
    assert thumb.array.dtype == np.uint8 and thumb.array.shape == (64, 64)
    assert np.array_equal(thumb.array, expected)
    assert (thumb.frame, thumb.frames) == (0, 1)


def test_small_image_is_kept_as_is() -> None:
    path = data("CT_small.dcm")
    thumb = make_thumbnail(path, max_side=512)
    assert np.array_equal(thumb.array, DisplayPipeline.open(path).display_frame(0))


def test_pixel_aspect_is_applied(tmp_path: Path) -> None:
    ds = dcmread(data("CT_small.dcm"))
    ds.PixelSpacing = [1.0, 0.5]  # rows 1 mm apart, columns 0.5 mm: half as wide as tall
    path = tmp_path / "aspect.dcm"
    ds.save_as(path)
    thumb = make_thumbnail(path, max_side=128)
    assert thumb.array.shape == (128, 64)


def test_multiframe_uses_the_middle_frame() -> None:
    path = data("emri_small.dcm")
    pipe = DisplayPipeline.open(path)
    thumb = make_thumbnail(path, max_side=1024)
    assert thumb.frames == pipe.frame_count > 1
    assert thumb.frame == pipe.frame_count // 2
    assert np.array_equal(thumb.array, pipe.display_frame(pipe.frame_count // 2))


def test_colour_stays_colour() -> None:
    thumb = make_thumbnail(data("US1_UNCR.dcm"), max_side=160)
    assert thumb.array.shape == (120, 160, 3)


@pytest.mark.parametrize("content", [b"", b"not a dicom file at all" * 20])
def test_garbage_gives_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.dcm"
    path.write_bytes(content)
    with pytest.raises(ImagingError) as error:
        make_thumbnail(path)
    assert "\n" not in str(error.value) and str(error.value)


def test_truncated_pixels_give_one_line(tmp_path: Path) -> None:
    data_bytes = data("CT_small.dcm").read_bytes()
    path = tmp_path / "short.dcm"
    path.write_bytes(data_bytes[: len(data_bytes) - 5000])
    with pytest.raises(ImagingError) as error:
        make_thumbnail(path)
    assert "\n" not in str(error.value)


def test_no_pixel_data_is_an_error() -> None:
    with pytest.raises(ImagingError):
        make_thumbnail(data("rtplan.dcm"))


def test_size_must_be_positive() -> None:
    with pytest.raises(ImagingError):
        make_thumbnail(data("CT_small.dcm"), max_side=0)
