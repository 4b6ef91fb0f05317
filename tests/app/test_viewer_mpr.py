"""Pilot tests of reformats (MPR) in the viewer, on the demo CT: ``b`` cycles the plane, the
planes' values equal the stack's voxels found here from the files alone (pydicom: Image
Position, Image Orientation, Pixel Spacing, rescale), ``j`` moves one voxel, ``{`` / ``}`` and
``e`` make slabs whose values are numpy's mean / max / min of the right voxels, the probe reads
patient mm where the reformat says the pixel is, and stacks that cannot be reformatted keep
their images with the reason in one line."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from apphelpers import CT_SLICES, HANG, SIZE, open_study, settle, until, workers_done

from tuipacs.app.screens import viewer_mpr
from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.screens.tags import TagScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.screens.viewer_mpr import mpr_bindings
from tuipacs.imaging.mpr import Reformatter
from tuipacs.imaging.volume import Cancelled, build_volume
from tuipacs.store.archive import Archive
from tuipacs.view.actions import VIEWER_ACTIONS, action_name
from tuipacs.view.overlay_text import edge_labels

CT, DX, US, MR = 0, 1, 2, 3  # rows of the browser, newest study first
POINTS = 40


class Stack:
    """The demo CT's slices as the files say: modality values and plane geometry per slice."""

    def __init__(self, paths: list[Path]) -> None:
        self.slices = []
        for path in paths:
            ds = pydicom.dcmread(path)
            iop = np.array([float(v) for v in ds.ImageOrientationPatient])
            hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            spacing = tuple(float(v) for v in ds.PixelSpacing)
            ipp = np.array([float(v) for v in ds.ImagePositionPatient])
            self.slices.append((ipp, iop[:3], iop[3:], spacing, hu))
        ipp, row_dir, col_dir, spacing, hu = self.slices[0]
        assert list(row_dir) == [1, 0, 0] and list(col_dir) == [0, 1, 0]  # axial
        self.dr, self.dc = spacing
        self.x0, self.y0 = float(ipp[0]), float(ipp[1])
        self.rows, self.cols = hu.shape
        self.tops = sorted((float(s[0][2]) for s in self.slices), reverse=True)

    def value(self, point: np.ndarray) -> float:
        """The value of the voxel centred at patient ``point`` (mm)."""
        for ipp, row_dir, col_dir, (dr, dc), hu in self.slices:
            d = point - ipp
            if abs(float(d @ np.cross(row_dir, col_dir))) > 1e-3:
                continue
            i, j = float(d @ col_dir) / dr, float(d @ row_dir) / dc
            assert abs(i - round(i)) < 1e-3 and abs(j - round(j)) < 1e-3, (i, j)
            return float(hu[round(i), round(j)])
        raise AssertionError(f"no slice through {point}")

    def sagittal(self, x: float, row: int, col: int) -> float:
        """Pixel (row, col) of the sagittal plane at patient x: superior at the top (row 0 is
        the highest z), anterior on the left (column 0 is the smallest y)."""
        return self.value(np.array([x, self.y0 + col * self.dr, self.tops[row]]))

    def column_x(self, j: int) -> float:
        """Patient x of image column ``j``."""
        return self.x0 + j * self.dc

    def sagittal_plane(self, j: int) -> np.ndarray:
        """The whole sagittal plane through image column ``j`` (numpy, from the slices)."""
        by_height = sorted(self.slices, key=lambda s: -float(s[0][2]))
        return np.array([s[4][:, j] for s in by_height])


def paths_of(screen: ViewerScreen) -> list[Path]:
    assert screen.store is not None
    return [ref.path for ref in screen.store.images]


def shown_values(screen: ViewerScreen) -> np.ndarray:
    assert screen.frame is not None
    return screen.frame.values


def assert_plane_is(screen: ViewerScreen, stack: Stack, x: float, rng: np.random.Generator) -> None:
    """The frame on screen is the sagittal plane at ``x``: chosen pixels equal the voxels."""
    values = shown_values(screen)
    assert values.shape == (len(stack.slices), stack.rows)
    picks = [(0, 0), (values.shape[0] - 1, values.shape[1] - 1)]
    picks += [(int(r), int(c)) for r, c in zip(
        rng.integers(0, values.shape[0], POINTS), rng.integers(0, values.shape[1], POINTS),
        strict=True,
    )]  # fmt: skip
    for row, col in picks:
        assert float(values[row, col]) == stack.sagittal(x, row, col), (row, col)
    assert len({float(values[r, c]) for r, c in picks}) > 3  # not a blank plane


async def sagittal(pilot: Any, screen: ViewerScreen) -> None:
    await pilot.press("b")
    await until(pilot, lambda: screen.state.plane.startswith("Sagittal"), "the sagittal plane")
    await settle(pilot)


async def test_sagittal_plane_steps_slabs_and_back_to_the_images(
    archive: Archive, make_app: Any
) -> None:
    rng = np.random.default_rng(16)
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("j", "j", "j", "j")
        await settle(pilot)
        assert screen.state.index == 4 and screen.state.count == CT_SLICES
        stack = Stack(paths_of(screen))
        await sagittal(pilot, screen)
        assert screen.state.count == stack.cols  # a plane per image column
        assert screen.frame is not None
        x = screen.frame.info.slice_location
        assert x is not None
        j = round((x - stack.x0) / stack.dc)
        assert abs(stack.column_x(j) - x) < 1e-6  # a plane of voxels
        assert abs(j - (stack.cols - 1) / 2) <= 0.5  # opens at the centre
        assert screen.state.index == j
        assert_plane_is(screen, stack, x, rng)
        step = stack.tops[0] - stack.tops[1]  # the slice spacing gives the aspect
        assert abs(screen.frame.aspect - step / stack.dr) < 1e-9
        text = screen.overlay_text()
        assert "Sagittal" in text and f"Im: {j + 1}/{stack.cols}" in text
        # j: one voxel to the patient's left
        await pilot.press("j")
        await settle(pilot)
        x1 = screen.frame.info.slice_location
        assert x1 is not None and abs(x1 - (x + stack.dc)) < 1e-6
        assert_plane_is(screen, stack, x1, rng)
        j += 1
        # a slab: average, then MIP, then MinIP of the voxels across it (numpy on the files)
        await pilot.press("right_curly_bracket", "right_curly_bracket")  # 2 mm, then 5 mm
        await settle(pilot)
        count = round(5.0 / stack.dc)
        first = j - (count - 1) // 2
        block = np.array([stack.sagittal_plane(c) for c in range(first, first + count)])
        assert screen.state.plane == "Sagittal  slab 5 mm average"
        assert np.allclose(shown_values(screen), block.mean(axis=0), atol=1e-3)
        assert screen.frame.info.slice_thickness == count * stack.dc
        await pilot.press("e")
        await settle(pilot)
        assert screen.state.plane == "Sagittal  slab 5 mm MIP"
        assert "Sagittal  slab 5 mm MIP" in screen.overlay_text()
        assert np.array_equal(shown_values(screen), block.max(axis=0))
        await pilot.press("e")
        await settle(pilot)
        assert np.array_equal(shown_values(screen), block.min(axis=0))
        await pilot.press("left_curly_bracket", "left_curly_bracket")
        await settle(pilot)
        assert screen.state.plane == "Sagittal"
        assert_plane_is(screen, stack, x1, rng)
        # b: coronal; b: the images, at the image left
        await pilot.press("b")
        await until(pilot, lambda: screen.state.plane.startswith("Coronal"), "coronal")
        await settle(pilot)
        assert screen.state.count == stack.rows
        assert shown_values(screen).shape == (len(stack.slices), stack.cols)
        await pilot.press("b")
        await settle(pilot)
        assert screen.state.plane == "" and screen.stack_source() is screen.store
        assert screen.state.index == 4 and screen.state.count == CT_SLICES
        assert screen.frame is not None and screen.frame.info.instance_number == "5"
        assert "Sagittal" not in screen.overlay_text() and "Im: 5/20" in screen.overlay_text()


async def test_probe_and_edges_of_a_sagittal_plane(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await sagittal(pilot, screen)
        await pilot.press("c", "right", "right", "up")
        await settle(pilot)
        assert screen.state.probe is not None and screen.frame is not None
        px, py = screen.state.probe
        position = screen.frame.info.slice_location
        ref = Reformatter(build_volume(paths_of(screen)), "sagittal").reformat(position)
        point = ref.point(py, px)
        first, second = screen.probe_text().split("\n")
        assert first == f"Probe {px},{py}  {int(ref.values[py, px])} HU"
        assert second == f"Patient x {mm(point[0])} y {mm(point[1])} z {mm(point[2])} mm"
        assert point[0] == position  # the probe is on the plane
        top, right, bottom, left = edge_labels(screen.info, screen.state.orientation)
        assert (top, bottom, left, right) == ref.edge_letters() == ("H", "F", "A", "P")
        await pilot.press("t")  # the tags of the image the reformat was opened from
        await until(pilot, lambda: isinstance(app.screen, TagScreen), "the tags")
        assert isinstance(app.screen, TagScreen) and "image 1/20" in app.screen.title_text


def mm(value: float) -> str:
    """One decimal without a useless ``.0`` (how the readout writes mm)."""
    text = f"{round(value, 1):.1f}"
    return text[:-2] if text.endswith(".0") else text


async def test_stacks_that_cannot_be_reformatted_keep_their_images(
    archive: Archive, make_app: Any
) -> None:
    for row, reason in (
        (DX, "cannot reformat: the series has 1 slice: a reformat needs at least 3"),
        (US, "cannot reformat: the series holds multi-frame images"),
    ):
        app = make_app(archive)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_study(pilot, row)
            state = (screen.state.index, screen.state.count)
            await pilot.press("b")
            await workers_done(pilot)
            assert screen.message.startswith(reason), screen.message
            assert "\n" not in screen.message
            assert screen.state.plane == "" and (screen.state.index, screen.state.count) == state
            assert screen.frame is not None and screen.stack_source() is screen.store
            await pilot.press("b")  # asked again: the same line, no second build
            await pilot.pause()
            assert screen.message.startswith(reason) and screen.state.plane == ""


async def test_a_new_series_cancels_the_build_and_leaving_frees_the_volumes(
    archive: Archive, make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate, outcomes = threading.Event(), []

    def held_build(paths: list[Path], **kwargs: Any) -> Any:
        """The real build, held until the test lets it go (the reader is quicker)."""
        assert gate.wait(HANG)
        try:
            volume = build_volume(paths, **kwargs)
        except Cancelled:
            outcomes.append("cancelled")
            raise
        outcomes.append("built")
        return volume

    monkeypatch.setattr(viewer_mpr, "build_volume", held_build)
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, MR)
        await pilot.press("b")
        assert screen.message == "building the sagittal reformat…"
        await pilot.press("n")  # the next series opens while the build waits
        await until(pilot, lambda: screen.state.series_index == 1, "the next series")
        gate.set()
        await workers_done(pilot)
        await settle(pilot)
        assert outcomes == ["cancelled"]
        assert screen.state.plane == "" and screen.stack_source() is screen.store
        assert screen.mpr.building == "" and not screen.mpr.volumes
        await sagittal(pilot, screen)  # this series' own volume
        assert outcomes == ["cancelled", "built"]
        images = len(screen.store or [])
        assert list(screen.mpr.volumes) == [(screen.series[1].series_uid, images)]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen), "the browser")
        assert not screen.mpr.volumes and screen.mpr.stack is None
        left = screen.settings.session.series[screen.series[1].series_uid]
        assert left.plane == "" and left.count == images  # where the images were left


def test_reformat_keys_have_action_names() -> None:
    bindings = mpr_bindings()
    assert {b.action for b in bindings} <= set(VIEWER_ACTIONS.values())  # type: ignore[union-attr]
    assert all(b.id == f"viewer.{action_name(b.action)}" for b in bindings)  # type: ignore[union-attr]


def test_kept_volumes_are_bounded_in_number_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    from mprkit import make_stack

    from tuipacs.imaging.volume import volume_from_datasets

    volumes = [volume_from_datasets(make_stack(seed=n)) for n in range(3)]
    size = volumes[0].values.nbytes
    kept = viewer_mpr.Reformats()
    for n, volume in enumerate(volumes):
        kept.keep((f"series{n}", 6), volume)
    assert list(kept.volumes) == [("series1", 6), ("series2", 6)]  # the two newest
    monkeypatch.setattr(viewer_mpr, "decode_limit", lambda: size + size // 2)
    kept.keep(("series0", 6), volumes[0])
    assert list(kept.volumes) == [("series0", 6)]  # two would pass the decode limit
