"""The layout tests' study (not a test module): one CT study in one frame of reference
(2 mm and 5 mm axial series, a coronal series) and a prior in another, and waits for every
viewport to show its newest image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
from apphelpers import until, workers_done
from mprkit import StackSpec, make_stack
from pydicom.uid import generate_uid

from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.screens.viewer_pane import Pane
from tuipacs.app.widgets.viewport import ImageViewport
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.store.query import get_study
from tuipacs.view.render import RenderRequest

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


def layout_archive_at(tmp_path: Path) -> tuple[Archive, dict[str, list[Any]]]:
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
    return archive, made


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


async def side_by_side(pilot: Any, screen: ViewerScreen) -> None:
    """``V``: two viewports, both showing their newest image."""
    await pilot.press("V")
    await until(pilot, lambda: len(screen.panes) == 2, "a second viewport")
    await _settled(pilot, screen)
