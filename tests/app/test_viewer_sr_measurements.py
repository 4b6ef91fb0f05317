"""The viewer over a study with a TID 1500 measurement report (a real Comprehensive 3D SR made
with highdicom in tests/srkit.py, checked by dciodvfy in tests/unit/test_annotations_sr.py):
the image region's outline drawn at the pixels of its rectangle, its tracking identifier and
measurements drawn next to it as text, the overlay's ``SR`` line, and ``A`` hiding both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from annotationkit import SIZE
from apphelpers import open_study, settle, until
from srkit import FINDINGS, SrKit, make

from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.view import annotation_draw
from tuipacs.view.annotations_sr import SR_COLOUR

Texts = list[tuple[str, tuple[float, float], tuple[int, int, int]]]


@pytest.fixture
def sr_archive(tmp_path: Path) -> Iterator[tuple[SrKit, Archive]]:
    kit = make(tmp_path / "files")
    archive = Archive.open(tmp_path / "archive")
    assert import_paths(archive, [*kit.ct_paths, kit.sr_path]).added == 4
    yield kit, archive
    archive.close()


def picture(screen: ViewerScreen) -> np.ndarray:
    shown = screen.query_one(ImageView).last_shown
    assert shown is not None
    return np.asarray(shown.array)


def green(array: np.ndarray) -> np.ndarray:
    return np.all(array == SR_COLOUR, axis=2) if array.ndim == 3 else np.zeros(array.shape, bool)


async def press(pilot: Any, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)


async def test_measurement_region_and_label_drawn_over_the_image(
    sr_archive: tuple[SrKit, Archive], make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[tuple[np.ndarray, Texts]] = []
    real = annotation_draw.draw_texts

    def spy(rgb: np.ndarray, texts: Texts) -> None:  # records, then draws for real
        drawn.append((rgb.copy(), list(texts)))
        real(rgb, texts)

    monkeypatch.setattr(annotation_draw, "draw_texts", spy)
    kit, archive = sr_archive
    lesion = FINDINGS[0]
    app = make_app(archive)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_study(pilot, 0)
        await until(pilot, lambda: screen.annotations is not None, "the annotations")
        assert screen.annotations is not None and screen.annotations.study.problems == []
        await press(pilot, "j")  # slice 2: the lesion's rectangle
        await until(pilot, lambda: "SR:" in screen.overlay_text(), "the overlay")
        assert "SR: 1 measurement" in screen.overlay_text()
        array = picture(screen)
        height, width = array.shape[:2]
        # the outline: every pixel of full green lies on the rectangle's edges (source centres
        # 7.5..23.5 by 9.5..21.5; the labels' small glyphs are anti-aliased), and each shows
        scale_r, scale_c = height / SIZE, width / SIZE
        rows, cols = np.nonzero(green(array))
        x, y = cols / scale_c - 0.5, rows / scale_r - 0.5
        near = 1.0  # one source pixel: the line is drawn on the grid, not the source
        on_edge = (((abs(y - 9.5) <= near) | (abs(y - 21.5) <= near)) & (x >= 7.5 - near)) | (
            ((abs(x - 7.5) <= near) | (abs(x - 23.5) <= near)) & (y >= 9.5 - near)
        )
        assert len(x) > 40 and on_edge.all()
        assert (y <= 21.5 + near).all() and (x <= 23.5 + near).all()
        for edge in (y - 9.5, y - 21.5, x - 7.5, x - 23.5):
            assert (abs(edge) <= near).sum() >= 8
        # the labels: the tracking identifier and each measurement, next to the rectangle;
        # the picture shown is the one they were drawn into
        before, labels = drawn[-1]
        assert [(text, colour) for text, _at, colour in labels] == [
            ("Lesion1", SR_COLOUR),
            ("Area 94.08 mm²", SR_COLOUR),
            ("Mean 35.5 HU", SR_COLOUR),
        ]
        assert all(at[1] > 24.5 * scale_c for _text, at, _colour in labels)  # right of it
        expected = before.copy()
        real(expected, labels)
        assert np.array_equal(array, expected) and not np.array_equal(before, expected)
        # A: the outline, the labels and the overlay line go
        await press(pilot, "A")
        assert not green(picture(screen)).any()
        assert "SR: 1 measurement (hidden)" in screen.overlay_text()
        await press(pilot, "A")  # and back
        assert np.array_equal(picture(screen), array)
        await press(pilot, "j")  # slice 3: the nodule's circle and the tip's point
        assert "SR: 2 measurements" in screen.overlay_text()
        assert [t[0] for t in drawn[-1][1] if t[0] in ("Nodule", "Tip")] == ["Nodule", "Tip"]
        assert lesion.tracking not in [t[0] for t in drawn[-1][1]]
