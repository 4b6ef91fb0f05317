"""Overlay text written with a Sixel picture: labels as text, margins, cutting (pure)."""

from __future__ import annotations

import re

from tuipacs.app.graphics.sixel_backend import clip, clipped, margins
from tuipacs.view.graphics.labels import Label, covers, label_text
from tuipacs.view.layout import Box

MOVE = re.compile(r"\x1b\[(\d+);(\d+)H([^\x1b]*)")


def lines_of(data: str) -> dict[tuple[int, int], str]:
    """(row, col) 1-based -> the text written there."""
    return {(int(m[1]), int(m[2])): m[3] for m in MOVE.finditer(data)}


def test_a_label_covers_all_its_cells_with_its_colours() -> None:
    label = Label(3, 2, 12, 3, "Im: 1/20\nCT 512x512", (216, 216, 216), (0, 0, 0), True, 1)
    data = label_text(label, left=10, top=5)
    assert data.startswith("\x1b[0;1;38;2;216;216;216;48;2;0;0;0m") and data.endswith("\x1b[0m")
    assert lines_of(data) == {
        (8, 14): " Im: 1/20   ",
        (9, 14): " CT 512x512 ",
        (10, 14): " " * 12,  # a row without text is blank: it covers the picture there
    }


def test_label_text_is_cut_to_cells_and_has_no_control_characters() -> None:
    label = Label(0, 0, 6, 1, "山田\x1b[2J太郎x", (255, 255, 0), (0, 0, 0))
    data = label_text(label, 0, 0)
    assert lines_of(data) == {(1, 1): "山田[2"}  # wide characters are two cells; ESC gone
    assert data.count("\x1b") == 3  # the colours, the move, the reset: nothing from the text
    assert label_text(Label(0, 0, 0, 1, "x", (0, 0, 0), (0, 0, 0)), 0, 0) == ""


def test_margins_cover_the_area_around_the_picture() -> None:
    parts = margins(Box(4, 2, 6, 3), 12, 8)
    cells = {
        (x, y) for p in parts for x in range(p.x, p.x + p.cols) for y in range(p.y, p.y + p.rows)
    }
    picture = {(x, y) for x in range(4, 10) for y in range(2, 5)}
    assert cells == {(x, y) for x in range(12) for y in range(8)} - picture
    assert len(cells) == sum(p.cols * p.rows for p in parts), "no cell twice"
    assert margins(Box(0, 0, 12, 8), 12, 8) == []
    assert margins(Box(0, 0, 0, 0), 12, 8) == [Box(0, 0, 12, 8)]


def test_clip_and_covers() -> None:
    assert clip(Box(8, 6, 5, 4), 10, 8) == Box(8, 6, 2, 2)
    assert clip(Box(10, 0, 3, 1), 10, 8) is None
    label = Label(8, 6, 5, 4, "a\nb\nc\nd", (1, 2, 3), (0, 0, 0))
    assert clipped(label, Box(8, 6, 2, 2)).text == "a\nb"
    assert covers([Box(0, 0, 10, 2)], Box(3, 1, 4, 1))
    assert not covers([Box(0, 0, 10, 2)], Box(3, 1, 4, 2))
