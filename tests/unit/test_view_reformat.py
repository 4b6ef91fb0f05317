"""A reformat as a viewer Frame: its facts describe the plane as an image header would (so the
probe, measurements and cross-references work unchanged), and its pictures stay bounded."""

from __future__ import annotations

import numpy as np
import pytest
from mprkit import StackSpec, make_stack

from tuipacs.imaging.mpr import Reformatter
from tuipacs.imaging.voi import to_uint8_exact
from tuipacs.imaging.volume import volume_from_datasets
from tuipacs.view.export import MAX_SIZE, view_options
from tuipacs.view.reformat import reformat_frame, render_reformat


@pytest.mark.parametrize("plane", ["sagittal", "coronal"])
@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_frame_info_is_the_plane_s_image_geometry(plane: str, order: str) -> None:
    volume = volume_from_datasets(make_stack(StackSpec(order=order, step=2.5)))
    ref = Reformatter(volume, plane).reformat(thickness=5.0, mode="avg")
    frame = reformat_frame(volume, ref)
    info = frame.info
    rows, cols = ref.values.shape
    assert (info.rows, info.columns, info.frames) == (rows, cols, 1)
    assert info.pixel_spacing == ref.spacing and frame.aspect == pytest.approx(
        2.5 / 0.8 if plane == "sagittal" else 2.5 / 0.6
    )
    assert info.slice_thickness == ref.thickness and info.slice_location == ref.position
    assert info.position is not None and info.orientation is not None
    # DICOM image plane: IPP + r * dr * column direction + c * dc * row direction
    ipp, iop = np.array(info.position), np.array(info.orientation)
    for r, c in ((0, 0), (rows - 1, 0), (2, cols - 1)):
        point = ipp + r * ref.spacing[0] * iop[3:] + c * ref.spacing[1] * iop[:3]
        np.testing.assert_allclose(point, ref.point(r, c), atol=1e-9)
    across = "L" if plane == "sagittal" else "P"
    assert info.patient_orientation == (("P" if plane == "sagittal" else "L"), "F")
    assert across not in "".join(info.patient_orientation)
    assert frame.windows == volume.windows and not frame.color


def test_render_reformat_windows_the_values_and_applies_the_view() -> None:
    """Cubic voxels: no resampling, so the picture is the windowed reformat, rotated when the
    view says so and inverted when asked."""
    volume = volume_from_datasets(make_stack(StackSpec(pixel_spacing=(2.0, 2.0), step=2.0)))
    ref = Reformatter(volume, "coronal").reformat()
    grey = to_uint8_exact(ref.values, (40.0, 400.0))
    np.testing.assert_array_equal(render_reformat(volume, "coronal"), grey)
    turned = render_reformat(volume, "coronal", view=view_options(rotate=90, invert=True))
    inverted = to_uint8_exact(ref.values, (40.0, 400.0), invert=True)  # before truncation
    np.testing.assert_array_equal(turned, np.rot90(inverted, -1))


def test_an_extreme_aspect_is_capped_not_allocated() -> None:
    """Slices 1000 mm apart with 0.1 um pixels: square pixels would be ~6e7 rows; the picture
    is capped at MAX_SIZE a side, its proportions kept as far as a pixel allows."""
    volume = volume_from_datasets(make_stack(StackSpec(pixel_spacing=(1e-4, 1e-4), step=1000.0)))
    picture = render_reformat(volume, "sagittal")
    assert picture.shape == (MAX_SIZE, 1)
