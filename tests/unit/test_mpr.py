"""Sagittal and coronal reformats: voxel values equal the stack's, display orientation from
the direction cosines, thick slabs, pixel spacing. The expected pictures come from the
datasets' own IPP/IOP/Pixel Spacing (tests/mprkit.py), never from the code under test."""

from __future__ import annotations

import numpy as np
import pytest
from mprkit import StackSpec, expected_plane, make_stack, set_value, unique, voxel_centres

from tuipacs.imaging.mpr import Plane, Reformatter, SlabMode, reformat
from tuipacs.imaging.volume import VolumeError, volume_from_datasets

#: Stacks laid out in every way the display orientation must not depend on.
LAYOUTS = {
    "axial head-first": StackSpec(),
    "axial feet-first order": StackSpec(order="reverse"),
    "axial shuffled files": StackSpec(order="shuffle", seed=3),
    "rows run upwards": StackSpec(orientation=(1, 0, 0, 0, -1, 0)),
    "columns run to the right": StackSpec(orientation=(-1, 0, 0, 0, 1, 0)),
    "both reversed, feet-first": StackSpec(orientation=(-1, 0, 0, 0, -1, 0), order="reverse"),
    "coronal acquisition": StackSpec(orientation=(1, 0, 0, 0, 0, -1)),
    "sagittal acquisition": StackSpec(orientation=(0, 1, 0, 0, 0, -1), order="shuffle"),
}


@pytest.mark.parametrize("name", list(LAYOUTS))
@pytest.mark.parametrize("plane", list(Plane))
def test_reformat_voxels_equal_the_stack_at_the_same_point(name: str, plane: Plane) -> None:
    datasets = make_stack(LAYOUTS[name])
    volume = volume_from_datasets(datasets)
    centres = voxel_centres(datasets)
    across = 0 if plane is Plane.SAGITTAL else 1
    for at in unique(centres[:, across])[::2]:
        got = reformat(volume, plane, position=at)
        expected, tops, lefts = expected_plane(datasets, plane, at)
        assert got.values.shape == expected.shape
        np.testing.assert_array_equal(got.values, expected)
        assert got.position == pytest.approx(at)
        # the geometry the viewer will use for probe and cross-references agrees
        assert got.point(0, 0)[2] == pytest.approx(tops[0])
        assert got.point(len(tops) - 1, len(lefts) - 1)[2] == pytest.approx(tops[-1])


def test_markers_land_where_the_issue_says() -> None:
    """A voxel at the anterior-superior-right corner shows top-left in both planes; one at the
    posterior-inferior-left corner bottom-right."""
    for spec in LAYOUTS.values():
        datasets = make_stack(spec)
        centres = voxel_centres(datasets)
        low, high = centres.min(axis=0), centres.max(axis=0)
        front_top_right = (low[0], low[1], high[2])
        back_bottom_left = (high[0], high[1], low[2])
        set_value(datasets, front_top_right, 4095)
        set_value(datasets, back_bottom_left, 4094)
        volume = volume_from_datasets(datasets)
        sag = reformat(volume, "sagittal", position=low[0])
        cor = reformat(volume, "coronal", position=low[1])
        assert sag.values[0, 0] == cor.values[0, 0] == 4095 - 1024
        assert reformat(volume, "sagittal", position=high[0]).values[-1, -1] == 4094 - 1024
        assert reformat(volume, "coronal", position=high[1]).values[-1, -1] == 4094 - 1024
        assert sag.edge_letters() == ("H", "F", "A", "P")
        assert cor.edge_letters() == ("H", "F", "R", "L")


@pytest.mark.parametrize("mode", list(SlabMode))
@pytest.mark.parametrize("plane", list(Plane))
def test_slab_equals_numpy_over_the_right_planes(mode: SlabMode, plane: Plane) -> None:
    datasets = make_stack(StackSpec(columns=9, rows=8, order="shuffle", seed=5))
    volume = volume_from_datasets(datasets)
    across = 0 if plane is Plane.SAGITTAL else 1
    coords = unique(voxel_centres(datasets)[:, across])
    step = coords[1] - coords[0]
    combine = {SlabMode.MIP: np.max, SlabMode.MINIP: np.min, SlabMode.AVG: np.mean}[mode]
    centre = 4
    got = reformat(volume, plane, position=coords[centre], thickness=3 * step, mode=mode)
    planes = [expected_plane(datasets, plane, coords[centre + d])[0] for d in (-1, 0, 1)]
    expected = combine(np.stack(planes), axis=0)
    assert (got.first, got.count) == (centre - 1, 3)
    assert got.thickness == pytest.approx(3 * step)
    if mode is SlabMode.AVG:
        np.testing.assert_allclose(got.values, expected, rtol=1e-6)
    else:
        np.testing.assert_array_equal(got.values, expected)
    # at the edge the slab keeps its thickness, moved inwards
    edge = reformat(volume, plane, position=coords[0], thickness=3 * step, mode=mode)
    planes = [expected_plane(datasets, plane, coords[d])[0] for d in (0, 1, 2)]
    assert (edge.first, edge.count) == (0, 3)
    np.testing.assert_allclose(edge.values, combine(np.stack(planes), axis=0), rtol=1e-6)


def test_thin_slab_is_one_voxel_and_thick_slab_is_capped() -> None:
    volume = volume_from_datasets(make_stack())
    tiny = reformat(volume, "sagittal", thickness=0.01, mode="mip")
    assert tiny.count == 1
    np.testing.assert_array_equal(tiny.values, reformat(volume, "sagittal").values)
    huge = reformat(volume, "coronal", thickness=1e6, mode="minip")
    assert huge.count == volume.shape[1]


def test_pixel_spacing_keeps_the_aspect() -> None:
    """Axial stack: sagittal rows are slices (step) and columns image rows; coronal columns
    are image columns."""
    spec = StackSpec(pixel_spacing=(0.8, 0.6), step=2.5)
    volume = volume_from_datasets(make_stack(spec))
    sag, cor = reformat(volume, "sagittal"), reformat(volume, "coronal")
    assert sag.spacing == pytest.approx((2.5, 0.8)) and sag.values.shape == (6, 5)
    assert cor.spacing == pytest.approx((2.5, 0.6)) and cor.values.shape == (6, 7)
    assert sag.aspect == pytest.approx(2.5 / 0.8)


def test_default_position_is_the_centre_and_positions_are_checked() -> None:
    datasets = make_stack(StackSpec(columns=7))
    volume = volume_from_datasets(datasets)
    xs = unique(voxel_centres(datasets)[:, 0])
    tool = Reformatter(volume, Plane.SAGITTAL)
    assert tool.extent == pytest.approx((xs[0], xs[-1]))
    assert tool.reformat().position == pytest.approx(xs[3])
    # a position between voxels goes to the nearest one
    assert tool.reformat(xs[2] + 0.2 * (xs[3] - xs[2])).index == tool.index_at(xs[2])
    for bad in (xs[-1] + 5.0, float("nan"), float("inf")):
        with pytest.raises(VolumeError):
            tool.reformat(bad)
    with pytest.raises(VolumeError, match="outside the volume"):
        tool.reformat(xs[0] - 10)
    for thickness in (0.0, -1.0, float("nan")):
        with pytest.raises(VolumeError, match="slab thickness"):
            tool.reformat(thickness=thickness)
    with pytest.raises(VolumeError, match="slab mode"):
        tool.reformat(thickness=2.0, mode="median")
    with pytest.raises(VolumeError, match="unknown plane"):
        Reformatter(volume, "axial")


def test_average_of_a_float_volume_and_mip_keeps_dtype() -> None:
    volume = volume_from_datasets(make_stack(slope=0.5, intercept=-10.25))
    assert volume.values.dtype == np.float32
    mip = reformat(volume, "coronal", thickness=3 * 0.8, mode="mip")
    assert mip.values.dtype == np.float32
    integral = volume_from_datasets(make_stack())
    assert reformat(integral, "coronal", thickness=2.4, mode="mip").values.dtype == np.int16
    assert reformat(integral, "coronal", thickness=2.4, mode="avg").values.dtype == np.float32
