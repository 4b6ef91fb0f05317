"""The mouse's rules (pure): a drag moves the window a bounded amount in the modality's units,
Ctrl+wheel keeps the point under the pointer in place."""

from __future__ import annotations

import pytest

from tuipacs.imaging.voi import Window
from tuipacs.view.pointer import DRAG_STEPS, WindowDrag, drag_step, zoom_about
from tuipacs.view.viewport import Region
from tuipacs.view.window_steps import window_limits


def test_a_drag_across_the_picture_moves_a_useful_range_whatever_its_size() -> None:
    ct = window_limits("CT", -1024, 2000)
    assert drag_step(ct, 100) == 15  # 1500 HU over 100 cells
    assert drag_step(ct, 10) == 40  # a tiny picture: at most four key steps a cell
    assert drag_step(ct, 5000) == 1  # a huge one: at least one HU a cell
    mr = window_limits("MR", 0, 1000)  # key step 10: a drag across moves 1.5 ranges
    assert drag_step(mr, 150) == 10 and DRAG_STEPS * mr.step == 1500
    small = window_limits("PT", 0.0, 2.0)  # fractional units stay fractional
    assert drag_step(small, 100) == pytest.approx(0.03)


def test_the_window_follows_the_drag_within_the_keys_limits() -> None:
    limits = window_limits("CT", -1024, 3071)
    drag = WindowDrag((50, 20), Window(40, 400, "SOFT"), (100, 50), limits)
    assert drag.window_at(50, 20) == Window(40, 400)
    assert drag.window_at(60, 20) == Window(40, 400 + 10 * 15)  # right: wider
    assert drag.window_at(50, 15) == Window(40 + 5 * 30, 400)  # up: the level rises
    assert drag.window_at(0, 20).width == 1  # never narrower than one HU
    assert drag.window_at(10**6, 20).width == 2 * limits.span  # nor wider than twice the range
    assert drag.window_at(50, -(10**6)).center == limits.hi + limits.span / 2


def test_zoom_about_keeps_the_point_under_the_pointer() -> None:
    region = Region(top=100.0, left=0.0, height=200.0, width=512.0)  # centre row 200
    pan = zoom_about((0.0, 0.0), region, (150.0, 256.0), 2.0)
    assert pan == (-25.0, 0.0)  # the point 50 rows above the centre ends 25 above it
    assert zoom_about((3.0, 4.0), region, None, 2.0) == (3.0, 4.0)
    assert zoom_about((3.0, 4.0), region, (0.0, 0.0), 0.0) == (3.0, 4.0)
