"""Unit tests of tuipacs.view.sync: planes from untrusted values, the synchronised slice of
another stack, the cross-reference line, the probe's point in another stack, and a seeded
fuzz of the index's position strings."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from tuipacs.store.query import InstanceRow
from tuipacs.view.frames import ImageRef
from tuipacs.view.pdf import PageRef
from tuipacs.view.sync import (
    Plane,
    StackPlanes,
    crossref_segment,
    link_offset,
    parse_values,
    plane_of,
    probe_target,
    same_frame,
    stack_planes,
    synced_index,
)

AXIAL = (1, 0, 0, 0, 1, 0)
CORONAL = (1, 0, 0, 0, 0, -1)
SAGITTAL = (0, 1, 0, 0, 0, -1)


def axial_stack(z0: float, step: float, count: int, frame: str = "F") -> StackPlanes:
    planes = tuple(plane_of((0, 0, z0 + k * step), AXIAL) for k in range(count))
    return StackPlanes(planes, frame)


@pytest.mark.parametrize(
    ("position", "orientation", "spacing"),
    [
        (None, AXIAL, None),
        ((0, 0), AXIAL, None),
        ((0, 0, math.nan), AXIAL, None),
        ((0, 0, 1e9), AXIAL, None),
        ((0, 0, 0), (1, 0, 0, 1, 0, 0), None),  # not orthogonal
        ((0, 0, 0), (2, 0, 0, 0, 1, 0), None),  # not unit length
        ((0, 0, 0), (1, 0, 0, 0, 1), None),
        ((0, 0, 0), ("a", 0, 0, 0, 1, 0), None),
    ],
)
def test_no_plane_from_values_that_are_not_one(
    position: object, orientation: object, spacing: object
) -> None:
    assert plane_of(position, orientation, spacing) is None  # type: ignore[arg-type]


def test_bad_spacing_keeps_the_plane_without_pixels() -> None:
    for spacing in ((0, 1), (-1, 1), (math.inf, 1), (1,)):
        plane = plane_of((0, 0, 0), AXIAL, spacing)
        assert plane is not None and plane.spacing is None
        assert plane.point(1, 1) is None and plane.pixel(np.zeros(3)) is None


def test_pixel_and_point_are_inverse() -> None:
    plane = plane_of((-100, 50, 20), CORONAL, (0.5, 0.8))
    assert plane is not None
    point = plane.point(10, 4)
    assert point is not None
    assert np.allclose(point, [-100 + 10 * 0.8, 50, 20 - 4 * 0.5])
    assert plane.pixel(point) == pytest.approx((10, 4))


def test_synced_index_nearest_along_the_normal_with_other_spacing_and_offset() -> None:
    thin = axial_stack(0, 2, 20)  # z 0 .. 38
    thick = axial_stack(3, 5, 8)  # z 3 .. 38
    for index in range(20):
        z = 2 * index
        expected = min(range(8), key=lambda k: abs(3 + 5 * k - z))
        assert synced_index(thin.at(index), index, thick, 8, 0.0) == expected
    # reversed slice order in the other stack: still by position
    backwards = StackPlanes(tuple(reversed(thick.planes)), "F")
    assert synced_index(thin.at(0), 0, backwards, 8, 0.0) == 7


def test_synced_index_falls_back_to_the_image_number() -> None:
    thin = axial_stack(0, 2, 20)
    coronal = StackPlanes(tuple(plane_of((0, k, 0), CORONAL) for k in range(5)), "F")
    assert synced_index(thin.at(3), 3, coronal, 5, 0.0) == 3  # not parallel
    assert synced_index(thin.at(9), 9, coronal, 5, 0.0) == 4  # clamped
    assert synced_index(None, 2, thin, 20, 0.0) == 2  # no geometry here
    assert synced_index(thin.at(2), 2, StackPlanes((None,) * 4), 4, 0.0) == 2
    assert synced_index(thin.at(2), 2, thin, 20, None) == 2  # not linked


def test_link_offset_across_frames_of_reference() -> None:
    study = axial_stack(0, 2, 20, "A")
    prior = axial_stack(500, 3, 10, "B")
    assert not same_frame(study, prior) and same_frame(study, axial_stack(0, 1, 2, "A"))
    assert not same_frame(StackPlanes(), StackPlanes())
    offset = link_offset(study.at(9), prior.at(4))  # z 18 and z 512
    assert offset == pytest.approx(494)
    assert synced_index(study.at(12), 12, prior, 10, offset) == 6  # z 24 + 494 = 518 = 500 + 3 * 6
    coronal = plane_of((0, 0, 0), CORONAL)
    assert link_offset(study.at(0), coronal) is None


def test_crossref_of_an_axial_slice_on_a_coronal_and_a_sagittal_image() -> None:
    axial = plane_of((0, 0, 10), AXIAL)
    coronal = plane_of((-16, 0, 30), CORONAL, (0.5, 1.0))  # rows go down in z by 0.5 mm
    segment = crossref_segment(axial, coronal, (64, 32))
    assert segment is not None
    (x0, y0), (x1, y1) = segment
    assert y0 == pytest.approx(40) and y1 == pytest.approx(40)  # (30 - 10) / 0.5
    assert sorted((x0, x1)) == pytest.approx([-0.5, 31.5])
    sagittal = plane_of((0, -10, 30), SAGITTAL, (1.0, 1.0))
    segment = crossref_segment(axial, sagittal, (40, 40))
    assert segment is not None and segment[0][1] == pytest.approx(20)
    # parallel, missing spacing, or outside the image: no line
    assert crossref_segment(axial, plane_of((0, 0, 0), AXIAL, (1, 1)), (8, 8)) is None
    assert crossref_segment(axial, plane_of((-16, 0, 30), CORONAL), (64, 32)) is None
    assert crossref_segment(plane_of((0, 0, 500), AXIAL), coronal, (64, 32)) is None


def test_probe_target_nearest_slice_and_its_pixel() -> None:
    coronal = StackPlanes(tuple(plane_of((0, 2 + 8 * k, 38), CORONAL) for k in range(4)), "F")
    point = np.array([5.0, 13.0, 20.0])
    found = probe_target(point, coronal, (1.0, 1.0))
    assert found == (1, (5, 18))  # y 10 is nearest to 13; z 38 - 20 = 18 rows down
    assert probe_target(point, coronal, None) == (1, None)
    assert probe_target(point, StackPlanes((None, None)), (1.0, 1.0)) is None


def _row(path: str, position: str, orientation: str, frames: int = 1) -> InstanceRow:
    return InstanceRow(
        "1.2", "1.2.3", 1, "1.2.840.10008.1.2.1", 8, 8, frames, 10, Path(path), position,
        orientation,
    )  # fmt: skip


def test_stack_planes_from_the_index() -> None:
    rows = [
        _row("a", "0\\0\\1.5", "1\\0\\0\\0\\1\\0"),
        _row("b", "0\\0", "1\\0\\0\\0\\1\\0"),
        _row("c", "0\\0\\2", "1\\0\\0\\0\\1\\0", frames=3),
        _row("d", "0\\0\\3", "1\\0\\0\\0\\1\\0"),
    ]
    images = [ImageRef(Path("a")), ImageRef(Path("b"))]
    images += [ImageRef(Path("c"), f) for f in range(3)] + [PageRef(Path("d"), 0)]
    stack = stack_planes(rows, images, "x" * 100)
    assert len(stack) == 6 and len(stack.frame_of_reference) == 64
    first = stack.at(0)
    assert first is not None and first.origin == (0, 0, 1.5)
    assert stack.planes[1:] == (None,) * 5
    assert stack.at(99) is None and stack.at(-1) is None


def test_fuzzed_index_values_never_raise() -> None:
    rng = random.Random(1500)
    alphabet = "0123456789.-+eE\\ naNinf\x00\x1b"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        position, orientation = parse_values(text, 3), parse_values(text, 6)
        plane = plane_of(position, orientation)
        if plane is not None:
            assert all(math.isfinite(v) for v in plane.origin)
        stack = StackPlanes((plane, plane_of((0, 0, rng.uniform(-1e3, 1e3)), AXIAL)), "F")
        index = synced_index(plane_of((0, 0, 0), AXIAL), rng.randint(-5, 5), stack, 2, 0.0)
        assert 0 <= index < 2
    assert parse_values("1\\2\\" + "3" * 300, 3) is None


def test_plane_normal_is_unit() -> None:
    plane = Plane((0, 0, 0), (1, 0, 0), (0, 0, -1))
    assert np.allclose(plane.normal, [0, 1, 0])
