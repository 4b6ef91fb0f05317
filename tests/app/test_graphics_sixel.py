"""Sixel encoder: 101 grey registers, run-length coding, round trip through a decoder."""

from __future__ import annotations

import re

import numpy as np
from synthetic import ct_phantom, gradient, window

from tuipacs.view.graphics import sixel

_REGISTER = re.compile(r"#(\d+)(?:;2;(\d+);(\d+);(\d+))?")


def decode_sixel(data: str) -> tuple[np.ndarray, dict[int, tuple[int, int, int]]]:
    """A tiny Sixel decoder: (H x W x 3 array of register percentages, -1 = unset; registers)."""
    assert data.startswith("\x1bP") and data.endswith("\x1b\\")
    body = data[data.index("q") + 1 : -2]
    raster = re.match(r'"(\d+);(\d+);(\d+);(\d+)', body)
    assert raster is not None, "raster attributes missing"
    width, height = int(raster.group(3)), int(raster.group(4))
    body = body[raster.end() :]
    image = np.full((height, width, 3), -1, dtype=np.int64)
    registers: dict[int, tuple[int, int, int]] = {}
    x = band = pos = 0
    current = -1
    while pos < len(body):
        char = body[pos]
        if char == "#":
            match = _REGISTER.match(body, pos)
            assert match is not None
            pos = match.end()
            if match.group(2) is not None:
                registers[int(match.group(1))] = (
                    int(match.group(2)), int(match.group(3)), int(match.group(4)),
                )  # fmt: skip
            else:
                current = int(match.group(1))
            continue
        if char in "$-":
            x = 0
            band += char == "-"
            pos += 1
            continue
        count = 1
        if char == "!":
            match = re.compile(r"!(\d+)").match(body, pos)
            assert match is not None
            count, pos = int(match.group(1)), match.end()
            char = body[pos]
        bits = ord(char) - 63
        assert 0 <= bits < 64, f"bad sixel character {char!r}"
        for row in range(6):
            y = band * 6 + row
            if bits >> row & 1 and y < height:
                image[y, x : x + count] = registers[current]
        x += count
        pos += 1
    return image, registers


def test_grey_uses_at_most_101_registers_and_round_trips_within_one_percent() -> None:
    ramp = gradient(20, 256)  # every grey level 0..255, 20 rows: 4 bands, the last partial
    data = sixel.encode(ramp)
    image, registers = decode_sixel(data)
    assert len(registers) == 101
    assert all(r == g == b for r, g, b in registers.values())
    assert (image >= 0).all(), "every pixel drawn"
    percent = image[..., 0]
    np.testing.assert_array_less(np.abs(percent - ramp / 2.55), 0.51)  # within 1 %
    assert len(np.unique(percent)) == 101


def test_ct_frame_round_trip_and_run_length_coding() -> None:
    frame = window(ct_phantom(96), 400, 40)
    data = sixel.encode(frame)
    image, registers = decode_sixel(data)
    assert len(registers) <= sixel.GREY_LEVELS
    np.testing.assert_array_equal(image[..., 0], np.round(frame / 2.55))
    assert "!" in data, "runs of equal sixels must be run-length encoded"
    assert not data.endswith("-\x1b\\"), "no graphics new line after the last band"


def test_flat_picture_is_tiny() -> None:
    data = sixel.encode(np.full((60, 500), 128, dtype=np.uint8))
    assert data.count("#50") == 11  # 1 definition + 10 bands
    assert len(data) < 300
    image, _ = decode_sixel(data)
    assert (image == 50).all()


def test_rgb_uses_a_palette_of_at_most_256_colours() -> None:
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (37, 41, 3), dtype=np.uint8)
    image, registers = decode_sixel(sixel.encode(rgb))
    assert len(registers) <= 256
    assert (image >= 0).all()
    assert np.abs(image - rgb / 2.55).max() <= 25  # 256 colours for random noise: coarse
    smooth = np.dstack([gradient(12, 64)] * 3)  # a grey ramp in RGB: exact-ish
    image, _ = decode_sixel(sixel.encode(smooth))
    assert np.abs(image - smooth / 2.55).max() <= 2


def test_quantise_grey_levels() -> None:
    levels = sixel.quantise_grey(np.array([0, 1, 2, 3, 127, 128, 254, 255], dtype=np.uint8))
    assert levels.tolist() == [0, 0, 1, 1, 50, 50, 100, 100]
    assert sixel.grey_palette(5)[:, 0].tolist() == [0, 25, 50, 75, 100]
