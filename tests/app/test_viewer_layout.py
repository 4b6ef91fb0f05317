"""Pilot tests of the viewer's layouts: ``V`` shows two viewports, synchronised scrolling by
position between two CT series of different slice spacing and offset (the expected slice
found here from the files' Image Position alone), a prior beside the study synchronised
from where it was linked, the cross-reference line of an axial slice on a coronal image at
the row the geometry says, and ``T`` taking the other viewport to the probe's point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from apphelpers import SIZE, until, workers_done
from mprkit import StackSpec, make_stack
from pydicom.uid import generate_uid

from tuipacs.app.app import build_app
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.screens.viewer_crossref import CROSSREF_COLOUR
from tuipacs.app.screens.viewer_pane import Pane
from tuipacs.app.widgets.viewport import ImageViewport
from tuipacs.config import Config
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.store.query import get_study
from tuipacs.view.graphics.probe import GraphicsConfig
from tuipacs.view.render import RenderRequest

HALFCELL = GraphicsConfig(backend="halfcell")
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


def _write(folder: Path, datasets: list[pydicom.Dataset], **common: object) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, ds in enumerate(datasets):
        for key, value in common.items():
            setattr(ds, key, value)
        path = folder / f"{ds.SeriesInstanceUID}_{n}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _series(spec: StackSpec, number: int, description: str, **common: object) -> list[Any]:
    datasets = make_stack(spec)
    series = generate_uid()
    for ds in datasets:
        ds.SeriesInstanceUID, ds.SeriesNumber, ds.SeriesDescription = series, number, description
        for key, value in common.items():
            setattr(ds, key, value)
    return datasets


@pytest.fixture
def layout_archive(tmp_path: Path) -> Iterator[tuple[Archive, dict[str, list[Any]]]]:
    """One CT study (one frame of reference): 2 mm axial slices from z 0, 5 mm axial slices
    from z 3, and a coronal series; a prior study of the patient in another frame of
    reference (3 mm axial)."""
    study, frame = generate_uid(), generate_uid()
    common = {
        "StudyInstanceUID": study, "FrameOfReferenceUID": frame, "PatientName": "LAYOUT^TEST",
        "PatientID": "LAY1", "StudyDate": "20260101", "StudyDescription": "CT CHEST",
    }  # fmt: skip
    size = {"rows": 32, "columns": 32, "pixel_spacing": (1.0, 1.0)}
    thin = _series(StackSpec(slices=20, step=2.0, origin=(0, 0, 0), **size), 1, "thin", **common)
    thick = _series(StackSpec(slices=8, step=5.0, origin=(0, 0, 3), seed=2, **size), 2, "thick",
                    **common)  # fmt: skip
    coronal = _series(
        StackSpec(slices=4, step=8.0, origin=(0, 2, 38), orientation=CORONAL, seed=3, **size),
        3, "coronal", **common,
    )  # fmt: skip
    prior_common = dict(common, StudyInstanceUID=generate_uid(), StudyDate="20250101",
                        FrameOfReferenceUID=generate_uid())  # fmt: skip
    prior = _series(StackSpec(slices=10, step=3.0, origin=(0, 0, 500), seed=4, **size), 1,
                    "prior", **prior_common)  # fmt: skip
    paths = []
    made = {"thin": thin, "thick": thick, "coronal": coronal, "prior": prior}
    for name, datasets in made.items():
        paths += _write(tmp_path / "files" / name, datasets)
    archive = Archive.open(tmp_path / "archive")
    assert import_paths(archive, paths).added == len(paths)
    yield archive, made
    archive.close()


def _z(ds: Any) -> float:
    return float(ds.ImagePositionPatient[2])


def _shown_index(screen: ViewerScreen, pane: Pane) -> int | None:
    """The image index whose picture the pane's ImageView shows now (full, not a preview)."""
    viewport = screen.query_one(f"#{pane.viewport_id}", ImageViewport)
    shown = viewport.image.last_shown
    if shown is None or shown.preview or not isinstance(shown.tag, RenderRequest):
        return None
    return shown.tag.index


def _paths(pane: Pane) -> list[str]:
    assert pane.store is not None
    return [str(ref.path) for ref in pane.store.images]


async def _settled(pilot: Any, screen: ViewerScreen) -> None:
    """Every viewport rendered its newest request and shows it."""

    def done() -> bool:
        for pane in screen.panes:
            if pane.store is None or pane.requested_seq == 0:
                return False
            if pane.shown_seq < pane.requested_seq:
                return False
            if _shown_index(screen, pane) != pane.state.index:
                return False
        return True

    await until(pilot, done, "every viewport to show its newest image")


async def _open(pilot: Any, archive: Archive, first: Any) -> ViewerScreen:
    """The viewer on the study and series of dataset ``first``, its picture shown."""
    await workers_done(pilot)
    series = first.SeriesInstanceUID
    study = get_study(archive, first.StudyInstanceUID)
    assert study is not None
    screen = ViewerScreen(archive, study, series, settings=pilot.app.settings)
    await pilot.app.push_screen(screen)
    await _settled(pilot, screen)
    return screen


def _by_file(datasets: list[Any]) -> dict[str, Any]:
    return {str(ds.SOPInstanceUID): ds for ds in datasets}


def _sop(path: str) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


async def test_two_viewports_scroll_together_by_position(
    layout_archive: tuple[Archive, dict[str, list[Any]]], tuipacs_home: Path
) -> None:
    archive, made = layout_archive
    app = build_app(archive, Config(), graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, archive, made["thin"][0])
        await pilot.press("V")
        await until(pilot, lambda: len(screen.panes) == 2, "a second viewport")
        await _settled(pilot, screen)
        assert screen.grid == "1x2" and screen.active == 0
        viewports = list(screen.query(ImageViewport))
        assert len(viewports) == 2 and viewports[0].has_class("-active")
        left, right = screen.panes
        assert right.loader.open_uid == made["thick"][0].SeriesInstanceUID
        thin, thick = _by_file(made["thin"]), _by_file(made["thick"])
        for key in ["end", "k", "k", "k", "home", "j", "j", "j", "j", "j", "j", "j"]:
            await pilot.press(key)
            await _settled(pilot, screen)
            z = _z(thin[_sop(_paths(left)[left.state.index])])
            expected = min(thick.values(), key=lambda ds: abs(_z(ds) - z))
            shown = _paths(right)[right.state.index]
            assert _sop(shown) == expected.SOPInstanceUID, (key, z)
        await pilot.press("s")  # position no longer synchronised
        before = right.state.index
        await pilot.press("k", "k")
        await _settled(pilot, screen)
        assert right.state.index == before
        await pilot.press("tab")  # the right viewport takes the keys
        assert screen.active == 1 and viewports[1].has_class("-active")
        await pilot.press("j")
        await _settled(pilot, screen)
        assert right.state.index == before + 1
        await pilot.press("V")
        await until(pilot, lambda: len(screen.panes) == 2 and screen.grid == "2x1", "2x1")
        await pilot.press("V")
        await until(pilot, lambda: len(screen.panes) == 4, "2x2")
        await _settled(pilot, screen)
        await pilot.press("V")
        await until(pilot, lambda: len(screen.panes) == 1, "back to 1x1")
        assert len(list(screen.query(ImageViewport))) == 1 and screen.active == 0


async def test_prior_beside_the_study_follows_from_where_it_was_linked(
    layout_archive: tuple[Archive, dict[str, list[Any]]], tuipacs_home: Path
) -> None:
    archive, made = layout_archive
    app = build_app(archive, Config(), graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, archive, made["thin"][0])
        await pilot.press(*["j"] * 9)
        await _settled(pilot, screen)
        from tuipacs.app.messages import ShowPrior

        screen.post_message(ShowPrior(made["prior"][0].StudyInstanceUID))
        await until(pilot, lambda: len(screen.panes) == 2, "the prior beside the study")
        await _settled(pilot, screen)
        left, right = screen.panes
        assert right.study.study_uid == made["prior"][0].StudyInstanceUID
        assert screen.active == 0
        thin, prior = _by_file(made["thin"]), _by_file(made["prior"])
        # another frame of reference: linked at the same fraction of the stack (9/19 of 20
        # slices -> 4 of 10), then the distance along the normal is kept
        start = prior[_sop(_paths(right)[right.state.index])]
        assert right.state.index == round(9 / 19 * 9)
        offset = _z(start) - _z(thin[_sop(_paths(left)[left.state.index])])
        for key in ["j", "j", "j", "k", "end"]:
            await pilot.press(key)
            await _settled(pilot, screen)
            z = _z(thin[_sop(_paths(left)[left.state.index])]) + offset
            expected = min(prior.values(), key=lambda ds: abs(_z(ds) - z))
            assert _sop(_paths(right)[right.state.index]) == expected.SOPInstanceUID


async def test_cross_reference_line_and_jump_to_the_probe(
    layout_archive: tuple[Archive, dict[str, list[Any]]], tuipacs_home: Path
) -> None:
    archive, made = layout_archive
    app = build_app(archive, Config(), graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, archive, made["thin"][0])
        await pilot.press("V")
        await until(pilot, lambda: len(screen.panes) == 2, "a second viewport")
        await _settled(pilot, screen)
        await pilot.press("tab", "n")  # the right viewport: the coronal series
        right = screen.panes[1]
        coronal_uid = made["coronal"][0].SeriesInstanceUID
        await until(pilot, lambda: right.loader.open_uid == coronal_uid, "the coronal series")
        await _settled(pilot, screen)
        await pilot.press("shift+tab")
        await pilot.press(*["j"] * 5)
        await _settled(pilot, screen)
        left = screen.panes[0]
        z = _z(_by_file(made["thin"])[_sop(_paths(left)[left.state.index])])
        coronal = _by_file(made["coronal"])[_sop(_paths(right)[right.state.index])]
        # coronal rows go down in z from the top row's position: row = (z0 - z) / spacing
        row = (_z(coronal) - z) / float(coronal.PixelSpacing[0])
        assert right.crossref is not None
        (x0, y0), (x1, y1) = right.crossref
        assert abs(y0 - row) < 1e-6 and abs(y1 - row) < 1e-6
        assert {round(x0, 3), round(x1, 3)} == {-0.5, 31.5}
        viewport = screen.query_one(f"#{right.viewport_id}", ImageViewport)
        picture = viewport.image.last_shown.array
        painted = np.all(picture == np.asarray(CROSSREF_COLOUR, np.uint8), axis=2)
        rows_painted = np.nonzero(painted.any(axis=1))[0]
        assert rows_painted.size and painted.any(axis=1).sum() <= 2
        expected_row = (row + 0.5) * picture.shape[0] / 32
        assert abs(float(rows_painted.mean()) - expected_row) <= 1.5
        # the probe on the left, T: the coronal viewport shows the slice at that point
        await pilot.press("c")
        await _settled(pilot, screen)
        x, y = left.state.probe
        point = np.array([x * 1.0, y * 1.0, z])
        await pilot.press("T")
        await _settled(pilot, screen)
        nearest = min(
            made["coronal"], key=lambda ds: abs(float(ds.ImagePositionPatient[1]) - point[1])
        )
        assert _sop(_paths(right)[right.state.index]) == nearest.SOPInstanceUID
        assert right.state.probe is not None
        px, py = right.state.probe
        assert px == x and py == round((_z(nearest) - z) / 1.0)
