"""The viewer's reformat stack (planes in ascending position whatever the direction cosines,
slabs, the key cycles) and a volume build that stops when cancelled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mprkit import StackSpec, expected_plane, make_stack
from pydicom import dcmwrite

from tuipacs.imaging.mpr import SlabMode
from tuipacs.imaging.volume import Cancelled, VolumeError, build_volume, volume_from_datasets
from tuipacs.view.frames import ImageRef
from tuipacs.view.reformat_stack import (
    ReformatStack,
    next_mode,
    next_plane,
    next_slab,
    volume_paths,
)


@pytest.mark.parametrize(
    "orientation",
    [(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0)],
    ids=["axial", "rows and columns reversed"],
)
@pytest.mark.parametrize("plane", ["sagittal", "coronal"])
def test_planes_ascend_and_equal_the_stack(orientation: tuple[float, ...], plane: str) -> None:
    datasets = make_stack(StackSpec(orientation=orientation, order="shuffle"))
    stack = ReformatStack(volume_from_datasets(datasets), plane)
    positions = [stack.position(i) for i in range(len(stack))]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    for index in range(len(stack)):
        expected, _tops, _lefts = expected_plane(datasets, plane, positions[index])
        frame = stack.get(index)
        assert np.array_equal(frame.values, expected)
        assert frame.info.slice_location == positions[index]
    with pytest.raises(VolumeError, match="out of range"):
        stack.get(len(stack))


def test_a_slab_combines_the_neighbouring_planes() -> None:
    datasets = make_stack(StackSpec(columns=9))
    thin = ReformatStack(volume_from_datasets(datasets), "sagittal")
    planes = np.array([thin.get(i).values for i in range(len(thin))])
    thick = thin.with_slab(2.0, SlabMode.MIP)  # 0.6 mm columns: 3 voxels
    assert thick.label() == "Sagittal  slab 2 mm MIP" and thin.label() == "Sagittal"
    assert np.array_equal(thick.get(4).values, planes[3:6].max(axis=0))
    assert np.array_equal(thick.with_slab(2.0, SlabMode.MINIP).get(0).values, planes[:3].min(0))
    average = thick.with_slab(2.0, SlabMode.AVG).get(8).values
    assert np.allclose(average, planes[6:9].mean(axis=0), atol=1e-3)


def test_the_key_cycles() -> None:
    assert [next_plane(p) for p in ("", "sagittal", "coronal")] == ["sagittal", "coronal", ""]
    assert next_slab(0.0, True) == 2.0 and next_slab(2.0, False) == 0.0
    assert next_slab(0.0, False) == 0.0 and next_slab(40.0, True) == 40.0
    assert next_mode(SlabMode.AVG) is SlabMode.MIP
    assert next_mode(next_mode(next_mode(SlabMode.AVG))) is SlabMode.AVG


def test_multi_frame_series_are_refused_in_one_line() -> None:
    images = [ImageRef(Path("us.dcm"), 0), ImageRef(Path("us.dcm"), 1)]
    with pytest.raises(VolumeError) as info:
        volume_paths(images)
    assert "multi-frame" in str(info.value) and "\n" not in str(info.value)
    assert volume_paths([ImageRef(Path("a.dcm"))]) == [Path("a.dcm")]


def test_a_cancelled_build_stops_between_slices(tmp_path: Path) -> None:
    paths = []
    for number, ds in enumerate(make_stack(StackSpec(slices=8)), 1):
        paths.append(tmp_path / f"{number}.dcm")
        dcmwrite(paths[-1], ds, enforce_file_format=True)
    asked = []

    def cancelled() -> bool:
        asked.append(True)
        return len(asked) > 10  # after the headers, during the decoding

    with pytest.raises(Cancelled):
        build_volume(paths, cancelled=cancelled)
    assert len(asked) == 11
    assert build_volume(paths, cancelled=lambda: False).shape == (8, 5, 7)
