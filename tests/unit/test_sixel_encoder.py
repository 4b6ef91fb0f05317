"""The vectorised Sixel encoder against a plain reference encoder and a strict decoder.

The reference below is written the obvious way (one loop per band, register and column) and
fixes the exact bytes: registers in ascending order within a band, runs of 4 or more equal
sixels as ``!n``, no trailing empty sixels, ``$`` between registers, ``-`` between bands and
none after the last. The decoder checks that every pixel is drawn exactly once, with the
register the input names.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from synthetic import ct_phantom, window

from tuipacs.view.graphics import sixel
from tuipacs.view.graphics.labels import solid_sixel
from tuipacs.view.layout import CellSize

_REGISTER = re.compile(r"#(\d+)(?:;2;(\d+);(\d+);(\d+))?")
_COUNT = re.compile(r"!(\d+)")


def reference_body(indices: np.ndarray) -> str:
    """Sixel data for register ``indices`` (H x W), one band, register and column at a time."""
    height, width = indices.shape
    bands = []
    for top in range(0, height, 6):
        band = indices[top : top + 6]
        rows = []
        for register in sorted(set(band.ravel().tolist())):
            sixels = [
                sum(1 << r for r in range(band.shape[0]) if band[r, x] == register)
                for x in range(width)
            ]
            while sixels and sixels[-1] == 0:
                sixels.pop()
            text, x = f"#{register}", 0
            while x < len(sixels):
                end = x
                while end < len(sixels) and sixels[end] == sixels[x]:
                    end += 1
                char = chr(63 + sixels[x])
                text += char * (end - x) if end - x <= 3 else f"!{end - x}{char}"
                x = end
            rows.append(text)
        bands.append("$".join(rows))
    return "-".join(bands)


def strict_decode(data: str) -> tuple[np.ndarray, dict[int, tuple[int, int, int]]]:
    """(H x W register numbers drawn, registers); fails on a pixel drawn twice or never."""
    assert data.startswith(sixel.DCS_START) and data.endswith(sixel.ST)
    body = data[len(sixel.DCS_START) : -len(sixel.ST)]
    size = re.match(r"(\d+);(\d+)", body)
    assert size is not None
    width, height = int(size.group(1)), int(size.group(2))
    drawn = np.full((height, width), -1, dtype=np.int64)
    registers: dict[int, tuple[int, int, int]] = {}
    pos, x, band, current = size.end(), 0, 0, -1
    while pos < len(body):
        char = body[pos]
        if char == "#":
            match = _REGISTER.match(body, pos)
            assert match is not None
            if match.group(2) is not None:
                registers[int(match.group(1))] = tuple(int(match.group(i)) for i in (2, 3, 4))
            else:
                current = int(match.group(1))
                assert current in registers, "register used before its definition"
            pos = match.end()
            continue
        if char in "$-":
            x, band, pos = 0, band + (char == "-"), pos + 1
            continue
        count = 1
        if char == "!":
            match = _COUNT.match(body, pos)
            assert match is not None
            count, pos = int(match.group(1)), match.end()
            char = body[pos]
        bits = ord(char) - 63
        assert 0 <= bits < 64, f"bad sixel character {char!r}"
        for row in range(6):
            if bits >> row & 1:
                y = band * 6 + row
                assert y < height and x + count <= width, "sixel outside the picture"
                assert (drawn[y, x : x + count] == -1).all(), "pixel drawn twice"
                drawn[y, x : x + count] = current
        x += count
        pos += 1
    assert (drawn >= 0).all(), "pixel never drawn"
    return drawn, registers


def _check(indices: np.ndarray, palette: np.ndarray) -> None:
    """The encoder's bytes equal the reference's, and decode to ``indices``."""
    data = sixel.encode_indexed(indices, palette)
    height, width = indices.shape
    drawn, registers = strict_decode(data)
    np.testing.assert_array_equal(drawn, indices)
    for register in np.unique(indices).tolist():
        assert registers[register] == tuple(palette[register].tolist())
    assert len(registers) == len(np.unique(indices))
    defs = "".join(
        f"#{r};2;{palette[r][0]};{palette[r][1]};{palette[r][2]}" for r in np.unique(indices)
    )
    expected = f"{sixel.DCS_START}{width};{height}{defs}{reference_body(indices)}{sixel.ST}"
    assert data == expected


EDGE_SIZES = [(1, 1), (5, 1), (6, 1), (7, 1), (13, 1), (1, 9), (5, 17), (6, 4), (7, 33), (13, 2)]


@pytest.mark.parametrize("shape", EDGE_SIZES + [(12, 40), (19, 23)])
def test_seeded_random_grey_matches_the_reference_and_decodes(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape) * 7919 + shape[0])
    palette = sixel.grey_palette()
    for greys in (101, 3, 1):  # noise in every grey, few greys (long runs, gaps), flat
        indices = rng.integers(0, greys, shape) * (100 // max(1, greys - 1))
        _check(indices.astype(np.intp), palette)


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (13, 50), (1600, 3)])
def test_seeded_random_colour_registers_match_the_reference(shape: tuple[int, int]) -> None:
    """(1600, 3): 267 bands x 256 registers do not fit a 16-bit sort key (the other sort)."""
    rng = np.random.default_rng(shape[0] * 31 + shape[1])
    palette = rng.integers(0, 101, (256, 3))
    _check(rng.integers(0, 256, shape).astype(np.intp), palette)  # register 255 included


def test_long_runs_and_wide_gaps_have_counts_of_every_length() -> None:
    width = 1234  # runs and gaps of 1 to 4 digits
    indices = np.zeros((7, width), dtype=np.intp)
    indices[0, 3:7] = 50  # a run of 4 after a gap of 3
    indices[1, 10:110] = 50  # 100
    indices[2, 200:1201] = 7  # 1001, after a gap of 200
    indices[6, width - 1] = 100  # the last column, the second band's first row
    _check(indices, sixel.grey_palette())


def test_ct_frame_matches_the_reference_bytes() -> None:
    frame = window(ct_phantom(64), 400, 40)
    _check(sixel.quantise_grey(frame).astype(np.intp), sixel.grey_palette())


def test_known_bytes_of_tiny_pictures() -> None:
    white = sixel.encode(np.full((1, 1), 255, dtype=np.uint8))
    assert white == '\x1bP0;1;0q"1;1;1;1#100;2;100;100;100#100@\x1b\\'
    column = sixel.encode(np.array([[0], [0], [255], [255], [255], [255], [255]], np.uint8))
    assert column == ('\x1bP0;1;0q"1;1;1;7#0;2;0;0;0#100;2;100;100;100#0B$#100{-#100@\x1b\\')
    row = sixel.encode(np.array([[0, 0, 0, 0, 255]], np.uint8))
    assert row == '\x1bP0;1;0q"1;1;5;1#0;2;0;0;0#100;2;100;100;100#0!4@$#100!4?@\x1b\\'


def test_solid_rectangles_for_the_margins() -> None:
    cell = CellSize(10, 20)
    for cols, rows in ((1, 1), (3, 2), (160, 7)):
        drawn, registers = strict_decode(solid_sixel(cols, rows, cell, (255, 0, 128)))
        assert drawn.shape == (rows * 20, cols * 10) and (drawn == 0).all()
        assert registers == {0: (100, 0, 50)}
    narrow = solid_sixel(1, 1, CellSize(3, 7))
    assert strict_decode(narrow)[0].shape == (7, 3)
    assert solid_sixel(0, 5, cell) == ""
