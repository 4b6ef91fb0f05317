"""Kitty graphics encoder: escape bytes, chunking, payload round trip, placeholders."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image
from rich.color import Color, ColorSystem

from tuipacs.view.graphics import kitty

APC = re.compile(r"\x1b_G([^;\x1b]*);?([^\x1b]*)\x1b\\")
PINNED_ID = 0x3A5C7E


def _commands(data: str) -> list[tuple[dict[str, str], str]]:
    """Split a stream into (keys, payload) per graphics command; nothing else may be in it."""
    found = [(m.group(1), m.group(2), m.span()) for m in APC.finditer(data)]
    assert "".join(data[a:b] for _, _, (a, b) in found) == data
    return [(dict(kv.split("=") for kv in keys.split(",")), payload) for keys, payload, _ in found]


def _decode_png(payload: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))))


def test_transmit_keys_chunks_and_payload_round_trip() -> None:
    rng = np.random.default_rng(3)
    array = rng.integers(0, 256, (96, 130), dtype=np.uint8)  # noise: several chunks
    data = kitty.transmit(kitty.encode_png(array), PINNED_ID, cols=40, rows=20)
    commands = _commands(data)
    assert len(commands) > 2
    first_keys = commands[0][0]
    assert first_keys == {
        "a": "T", "U": "1", "i": str(PINNED_ID), "f": "100",
        "c": "40", "r": "20", "q": "2", "m": "1",
    }  # fmt: skip
    assert data.startswith(f"\x1b_Ga=T,U=1,i={PINNED_ID},f=100,c=40,r=20,q=2,m=1;")
    for keys, payload in commands[1:-1]:
        assert keys == {"m": "1"}
        assert len(payload) == kitty.CHUNK_SIZE
    assert len(commands[0][1]) == kitty.CHUNK_SIZE
    assert commands[-1][0] == {"m": "0"}
    assert 0 < len(commands[-1][1]) <= kitty.CHUNK_SIZE
    decoded = _decode_png("".join(payload for _, payload in commands))
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, array)


def test_grey_png_is_one_channel_and_rgb_round_trips() -> None:
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    png = kitty.encode_png(grey)
    assert Image.open(io.BytesIO(png)).mode == "L"
    rgb = np.dstack([grey, 255 - grey, grey // 2])
    commands = _commands(kitty.transmit(kitty.encode_png(rgb), 7, 4, 4))
    assert len(commands) == 1 and commands[0][0]["m"] == "0"
    np.testing.assert_array_equal(_decode_png(commands[0][1]), rgb)


def test_tmux_passthrough_doubles_escapes_per_chunk() -> None:
    array = np.random.default_rng(1).integers(0, 256, (80, 80), dtype=np.uint8)
    png = kitty.encode_png(array)
    plain = kitty.transmit(png, PINNED_ID, 10, 5)
    wrapped = kitty.transmit(png, PINNED_ID, 10, 5, tmux=True)
    parts = re.findall(r"\x1bPtmux;(.*?)\x1b\\(?=\x1bPtmux;|$)", wrapped, flags=re.S)
    assert len(parts) == len(_commands(plain)) > 1
    assert "".join(part.replace("\x1b\x1b", "\x1b") for part in parts) == plain


def test_delete_by_id_frees_the_image() -> None:
    assert kitty.delete(PINNED_ID) == f"\x1b_Ga=d,d=I,i={PINNED_ID},q=2\x1b\\"
    assert kitty.delete(5, tmux=True) == "\x1bPtmux;\x1b\x1b_Ga=d,d=I,i=5,q=2\x1b\x1b\\\x1b\\"


def test_placeholder_cells_carry_row_and_column() -> None:
    rows = kitty.placeholder_rows(PINNED_ID, cols=3, rows=2)
    assert rows[1] == "".join(
        kitty.PLACEHOLDER + kitty.DIACRITICS[1] + kitty.DIACRITICS[col] for col in range(3)
    )
    assert len(kitty.DIACRITICS) == kitty.MAX_CELLS == 297
    assert kitty.DIACRITICS[0] == "\u0305" and kitty.DIACRITICS[-1] == "\U0001d244"
    big = kitty.placeholder_row(0x7F000001, 0, 1)  # id above 24 bits: third diacritic
    assert big == kitty.PLACEHOLDER + kitty.DIACRITICS[0] * 2 + kitty.DIACRITICS[0x7F]
    with pytest.raises(ValueError, match="too large"):
        kitty.placeholder_row(1, 0, kitty.MAX_CELLS + 1)


def test_id_colours_survive_the_colour_system() -> None:
    assert kitty.id_colour(PINNED_ID) == (0x3A, 0x5C, 0x7E)
    ids = {kitty.allocate_image_id(truecolor=True) for _ in range(5)}
    assert len(ids) == 5 and all(0 < i <= 0xFFFFFF for i in ids)
    for _ in range(300):
        image_id = kitty.allocate_image_id(truecolor=False)
        colour = Color.from_rgb(*kitty.id_colour(image_id, truecolor=False))
        assert colour.downgrade(ColorSystem.EIGHT_BIT).number == image_id


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (13, 29), (64, 64, 3), (5, 1, 3)])
def test_fast_png_decodes_to_the_same_pixels(shape: tuple[int, ...]) -> None:
    array = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    png = kitty.encode_png_fast(array)
    image = Image.open(io.BytesIO(png))
    assert image.mode == ("RGB" if len(shape) == 3 else "L")
    np.testing.assert_array_equal(np.asarray(image), array)
    # Pillow checks the CRCs when it verifies
    Image.open(io.BytesIO(png)).verify()


def test_fast_png_refuses_other_shapes() -> None:
    with pytest.raises(ValueError):
        kitty.encode_png_fast(np.zeros((4, 4, 4), np.uint8))


def test_kitty_frames_are_encoded_for_speed_only_on_a_fast_link() -> None:
    from tuipacs.view.link import FAST_RATE, LinkMeter

    meter = LinkMeter()
    assert not meter.fast, "nothing measured: size first (it may be SSH)"
    meter.add(400, 0.0005)
    meter.add(100_000, 0.0005 + 100_000 / (FAST_RATE * 2))
    assert meter.fast
    slow = LinkMeter()
    slow.add(400, 0.05)
    slow.add(100_000, 0.05 + 100_000 / 1.25e6)  # 10 Mbit/s
    assert not slow.fast
