"""Pilot tests of the browser's series thumbnails (half-cell graphics forced)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from apphelpers import SIZE, browser_listed, settle, thumbnails_done, workers_done
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from textual.widgets import DataTable

from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.thumbnails import SeriesThumbnails, ThumbnailTile
from tuipacs.imaging.thumbnail import make_thumbnail
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_instances, list_series, list_studies

MR_ROW = 3  # the demo's MR study (two series) in the default order, newest first


async def _browser(pilot: Any, row: int = 0) -> BrowserScreen:
    screen = await browser_listed(pilot)
    assert isinstance(screen, BrowserScreen)
    screen.query_one("#studies", DataTable).move_cursor(row=row)
    await workers_done(pilot)
    return screen


def _middle_thumbnail(archive: Archive, series_uid: str) -> np.ndarray:
    images = list_instances(archive, series_uid)
    return make_thumbnail(images[len(images) // 2].path).array


async def test_one_tile_per_series_with_its_middle_image(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _browser(pilot, MR_ROW)
        tiles = await thumbnails_done(pilot, 2)
        study = screen.current_study()
        assert study is not None and study.modalities == "MR"
        series = list_series(archive, study.study_uid)
        assert [t.series_uid for t in tiles] == [s.series_uid for s in series]
        for tile, row in zip(tiles, series, strict=True):
            assert f"#{row.series_number} MR" in str(tile.label.render())
            shown = tile.view.last_shown
            assert shown is not None and not shown.preview
            assert np.array_equal(shown.array, _middle_thumbnail(archive, row.series_uid))
        # the two MR series are different pictures
        assert not np.array_equal(tiles[0].view.last_shown.array, tiles[1].view.last_shown.array)


async def test_outline_follows_the_series_cursor(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _browser(pilot, MR_ROW)
        first, second = await thumbnails_done(pilot, 2)
        assert first.has_class("-current") and not second.has_class("-current")
        await pilot.press("tab", "down")
        assert screen.query_one("#series", DataTable).has_focus
        assert second.has_class("-current") and not first.has_class("-current")
        await pilot.press("up")
        assert first.has_class("-current") and not second.has_class("-current")


async def test_tiles_are_reused_and_cached_across_studies(
    archive: Archive, make_app: Any, monkeypatch: Any
) -> None:
    from tuipacs.imaging import thumbnail

    made: list[Path] = []

    def counting(path: Path, *args: Any) -> Any:
        made.append(path)
        return make_thumbnail(path, *args)

    monkeypatch.setattr(thumbnail, "make_thumbnail", counting)
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _browser(pilot, MR_ROW)
        await thumbnails_done(pilot, 2)
        tiles_before = list(screen.query(ThumbnailTile))
        assert len(made) == 3  # the first study's one series, then the two MR series
        await pilot.press("up")  # the US study: one series
        (us,) = await thumbnails_done(pilot, 1)
        assert us.view.last_shown is not None and us.view.last_shown.array.ndim == 3  # colour
        assert len(made) == 4
        await pilot.press("down")  # back to MR: pictures from the cache, same widgets
        await thumbnails_done(pilot, 2)
        assert len(made) == 4
        assert list(screen.query(ThumbnailTile)) == tiles_before


async def test_t_hides_and_shows_the_thumbnails(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _browser(pilot, MR_ROW)
        await thumbnails_done(pilot, 2)
        thumbs = screen.query_one(SeriesThumbnails)
        series = screen.query_one("#series", DataTable)
        series_width = series.size.width
        await pilot.press("t")
        await pilot.pause()
        assert not thumbs.display and thumbs.tiles() == []
        assert series.size.width > series_width  # the table takes the whole width
        await pilot.press("t")
        tiles = await thumbnails_done(pilot, 2)
        assert thumbs.display and all(t.has_picture for t in tiles)


async def test_click_on_a_thumbnail_opens_that_series(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        await _browser(pilot, MR_ROW)
        _first, second = await thumbnails_done(pilot, 2)
        await pilot.click(second)
        await settle(pilot)
        viewer = pilot.app.screen
        assert isinstance(viewer, ViewerScreen)
        assert viewer.series[viewer.state.series_index].series_uid == second.series_uid


def _report(folder: Path, study: Dataset) -> Path:
    """A Basic Text SR in ``study``'s study: no pixels."""
    ds = Dataset()
    for keyword in (
        "SpecificCharacterSet",
        "PatientName",
        "PatientID",
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
    ):
        setattr(ds, keyword, getattr(study, keyword))
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    ds.Modality = "SR"
    ds.SeriesNumber = 90
    ds.InstanceNumber = 1
    ds.SeriesDescription = "Report"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = folder / "report.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


async def test_series_without_a_picture_say_why(
    archive_copy: Archive, make_app: Any, tmp_path: Path
) -> None:
    from pydicom import dcmread

    mr = next(s for s in list_studies(archive_copy) if s.modalities == "MR")
    series = list_series(archive_copy, mr.study_uid)
    first = list_instances(archive_copy, series[0].series_uid)[0].path
    header = dcmread(first, stop_before_pixels=True)
    report = _report(tmp_path, header)
    archive_copy.add_file(report)
    # the middle image of the second series loses the end of its pixel data
    images = list_instances(archive_copy, series[1].series_uid)
    middle = images[len(images) // 2].path
    data = middle.read_bytes()
    middle.write_bytes(data[: len(data) - 4000])

    app = make_app(archive_copy)
    async with app.run_test(size=SIZE) as pilot:
        await _browser(pilot, MR_ROW)
        tiles = await thumbnails_done(pilot, 3)
        good, broken, sr = tiles
        assert good.has_picture and not good.reason
        assert not broken.has_picture and broken.reason
        assert "\n" not in broken.reason and "Traceback" not in broken.reason
        assert sr.reason == "no image" and not sr.view.display and sr.missing.display
        assert "#90 SR" in str(sr.label.render())
