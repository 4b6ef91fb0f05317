"""Half-cell renderer: deterministic characters and colours."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.color import Color
from rich.console import Console
from rich.style import Style
from textual.strip import Strip

from tuipacs.app.graphics import halfcell
from tuipacs.app.graphics.halfcell import UPPER_HALF, HalfcellRenderer, RenderedStrip, pad


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


def _console(color_system: str) -> Console:
    return Console(file=io.StringIO(), color_system=color_system, force_terminal=True)  # type: ignore[arg-type]


def _plain(strip: Strip) -> Strip:
    """The same segments in an ordinary strip (rendered by Textual itself)."""
    return Strip(list(strip), strip.cell_length)


def _pictures() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    grey = rng.integers(0, 256, (9, 23), dtype=np.uint8)
    grey[:, 5:12] = 40  # runs, of equal halves too
    grey[4:6, :] = np.arange(23, dtype=np.uint8)  # a row of equal halves, all different
    rgb = rng.integers(0, 4, (6, 17, 3), dtype=np.uint8) * 60
    rgb[:2, 3:9] = (200, 10, 30)
    return [grey, rgb, np.zeros((1, 1), dtype=np.uint8)]


def test_prepared_rendering_is_what_textual_writes() -> None:
    truecolor = _console("truecolor")
    renderer = HalfcellRenderer()
    for array in _pictures():
        for _ in range(2):  # cold, then from the caches
            for strip in renderer.strips(array):
                assert isinstance(strip, RenderedStrip)
                assert strip.render(truecolor) == _plain(strip).render(truecolor)


def test_other_colour_systems_render_the_segments() -> None:
    strip = HalfcellRenderer().strips(_pictures()[1])[0]
    for system in ("256", "standard"):
        console = _console(system)
        assert strip.render(console) == _plain(strip).render(console)
        assert strip.render(console) != strip.truecolor


def test_runs_of_one_cell_key_with_different_lengths() -> None:
    array = np.array([[9, 9, 9, 1, 9, 9, 1, 9], [9, 9, 9, 1, 9, 9, 1, 9]], dtype=np.uint8)
    renderer = HalfcellRenderer()
    (strip,) = renderer.strips(array)
    assert [segment.text for segment in strip] == ["   ", " ", "  ", " ", " "]
    assert renderer.strips(array)[0] == strip
    assert list(renderer.strips(array)[0])[0] is list(strip)[0], "runs are cached"


@pytest.mark.parametrize(("cells", "runs"), [(10, 10), (10**6, 10)])
def test_caches_are_trimmed(monkeypatch: pytest.MonkeyPatch, cells: int, runs: int) -> None:
    monkeypatch.setattr(halfcell, "_MAX_CACHED", cells)
    monkeypatch.setattr(halfcell, "_MAX_CACHED_RUNS", runs)
    truecolor = _console("truecolor")
    renderer = HalfcellRenderer()
    grey = _pictures()[0]
    expected = [_plain(strip) for strip in HalfcellRenderer().strips(grey)]
    for _ in range(3):
        strips = renderer.strips(grey)
        assert strips == expected
        assert [s.render(truecolor) for s in strips] == [s.render(truecolor) for s in expected]
        assert len(renderer._cells) <= cells + grey.size and len(renderer._runs) <= runs + grey.size


@pytest.mark.parametrize(("left", "right"), [(0, 0), (3, 0), (0, 4), (5, 2)])
def test_pad_is_a_join_with_blanks(left: int, right: int) -> None:
    truecolor = _console("truecolor")
    black = Style(bgcolor=Color.from_rgb(0, 0, 0))
    for strip in HalfcellRenderer().strips(_pictures()[0])[:3]:
        padded = pad(strip, left, right, black)
        joined = Strip.join([Strip.blank(left, black), strip, Strip.blank(right, black)])
        assert isinstance(padded, RenderedStrip)
        assert list(padded) == list(joined)
        assert padded.cell_length == joined.cell_length == left + strip.cell_length + right
        assert padded.render(truecolor) == _plain(joined).render(truecolor)
        plain = _plain(strip)
        assert pad(plain, left, right, black) == joined
        assert not isinstance(pad(plain, left, right, black), RenderedStrip)
