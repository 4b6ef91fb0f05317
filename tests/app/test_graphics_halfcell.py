"""Half-cell renderer: deterministic characters and colours."""

from __future__ import annotations

import numpy as np
from rich.color import Color

from tuipacs.app.graphics.halfcell import UPPER_HALF, HalfcellRenderer


def _cells(strip: object) -> list[tuple[str, tuple[int, int, int] | None, tuple[int, int, int]]]:
    """Expand a strip into (character, fg rgb, bg rgb) per cell."""
    cells = []
    for segment in strip:  # type: ignore[attr-defined]
        style = segment.style
        fg = style.color.triplet if style.color else None
        bg = style.bgcolor.triplet
        for char in segment.text:
            cells.append((char, tuple(fg) if fg else None, tuple(bg)))
    return cells


def test_grey_cells() -> None:
    array = np.array([[0, 10, 10, 200], [0, 20, 20, 200], [5, 5, 5, 5]], dtype=np.uint8)
    strips = HalfcellRenderer().strips(array)
    assert len(strips) == 2  # odd height: padded with black
    assert [s.cell_length for s in strips] == [4, 4]
    first = _cells(strips[0])
    assert first == [
        (" ", None, (0, 0, 0)),
        (UPPER_HALF, (10, 10, 10), (20, 20, 20)),
        (UPPER_HALF, (10, 10, 10), (20, 20, 20)),
        (" ", None, (200, 200, 200)),
    ]
    assert _cells(strips[1]) == [(UPPER_HALF, (5, 5, 5), (0, 0, 0))] * 4
    assert len(list(strips[0])) == 3, "equal neighbours share one segment"


def test_rgb_cells_and_style_cache() -> None:
    array = np.zeros((2, 2, 3), dtype=np.uint8)
    array[0, 0] = (255, 0, 0)
    array[1, 0] = (0, 0, 255)
    array[:, 1] = (1, 2, 3)
    renderer = HalfcellRenderer()
    strip = renderer.strips(array)[0]
    assert _cells(strip) == [(UPPER_HALF, (255, 0, 0), (0, 0, 255)), (" ", None, (1, 2, 3))]
    again = renderer.strips(array)[0]
    assert [s.style for s in again] == [s.style for s in strip]
    assert list(again)[0].style is list(strip)[0].style, "styles are cached"
    assert list(strip)[0].style.color == Color.from_rgb(255, 0, 0)
