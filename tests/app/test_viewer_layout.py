"""Pilot tests of the viewer's layouts: ``V`` shows two viewports, synchronised scrolling by
position between two CT series of different slice spacing and offset (the expected slice
found here from the files' Image Position alone), a prior beside the study synchronised
from where it was linked, the cross-reference line of an axial slice on a coronal image at
the row the geometry says, and ``T`` taking the other viewport to the probe's point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from apphelpers import HALFCELL, SIZE, until
from layoutkit import (
    _by_file,
    _open,
    _paths,
    _settled,
    _sop,
    _z,
    side_by_side,
)

from tuipacs.app.app import build_app
from tuipacs.app.screens.viewer_crossref import CROSSREF_COLOUR
from tuipacs.app.widgets.viewport import ImageViewport
from tuipacs.config import Config
from tuipacs.store.archive import Archive


async def test_two_viewports_scroll_together_by_position(
    layout_archive: tuple[Archive, dict[str, list[Any]]], tuipacs_home: Path
) -> None:
    archive, made = layout_archive
    app = build_app(archive, Config(), graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, archive, made["thin"][0])
        await side_by_side(pilot, screen)
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
        await pilot.click("#viewport")  # a click in the left viewport makes it active
        assert screen.active == 0 and viewports[0].has_class("-active")
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
        from tuipacs.app.messages import FrameRendered, ShowPrior

        screen.post_message(ShowPrior(made["prior"][0].StudyInstanceUID))
        await until(pilot, lambda: len(screen.panes) == 2, "the prior beside the study")
        await _settled(pilot, screen)
        left, right = screen.panes
        # a frame the study's own render thread finished late, posted for the viewport the
        # prior now holds: older than every request of the prior's, dropped
        stale = screen.panes[0].recent[screen.panes[0].shown_seq]
        screen.post_message(FrameRendered(*stale, pane=1))
        await pilot.pause()
        assert right.frame is not stale[1] and right.study.study_uid != left.study.study_uid
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
        await side_by_side(pilot, screen)
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
