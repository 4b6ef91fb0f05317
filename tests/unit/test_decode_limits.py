"""Bounded decode (issue 12, finding 4): impossible pixel descriptions are one-line errors.

The pure check (tuipacs.imaging.limits), the decode path in-process (PixelSource, render,
thumbnails), and the records the archive and the Storage SCP read.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from hostile_pixels import BUILDERS, HUGE, fuzz_rle_panic, rust_panics

from tuipacs.imaging.decode import PixelSource
from tuipacs.imaging.errors import DecodeError, ImagingError, is_fatal
from tuipacs.imaging.framecheck import codestream_problem, rle_conform, rle_overruns
from tuipacs.imaging.guard import deflate_problem
from tuipacs.imaging.limits import (
    DECODE_LIMIT,
    PixelLayout,
    count_fragments,
    frame_count,
    pixel_problem,
)
from tuipacs.imaging.render import render_image
from tuipacs.imaging.thumbnail import make_thumbnail
from tuipacs.server.records import fast_record
from tuipacs.store.records import BadDicomError, read_record

#: What each hostile file's one-line error must say.
REASONS = {
    "rle16-huge": "image is 65535 x 65535 x 16-bit = 8.0 GiB per frame, over the 1 GiB decode",
    "rle8-huge": "image is 65535 x 65535 x 8-bit = 4.0 GiB per frame, over the 1 GiB decode",
    "native-short": "pixel data is 1000 bytes but 512 x 512 x 16-bit needs 512.0 KiB",
    "many-frames": "but 2147483647 frames of 64 x 64 x 16-bit needs 16.0 TiB",
    "rle-many-frames": "Number of Frames is 2147483647 but the compressed pixel data holds only 1",
    "jpeg-huge": "the JPEG data is 65535 x 65535 pixels but Rows x Columns is 64 x 64",
}
#: Files whose header describes possible pixels: import keeps them, decoding refuses or
#: repairs them (their compressed data contradicts the header).
IMPORTABLE = {"jpeg-huge", "rle-panic"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    return {name: build(folder) for name, build in BUILDERS.items()}


# -- the pure check --------------------------------------------------------------------------


def test_the_issue_example_is_over_the_limit() -> None:
    layout = PixelLayout(rows=HUGE, columns=HUGE, bits_allocated=16, compressed=True, fragments=1)
    assert pixel_problem(layout) == (
        "image is 65535 x 65535 x 16-bit = 8.0 GiB per frame, over the 1 GiB decode limit"
    )
    assert pixel_problem(layout, limit=16 << 30) is None  # the limit is a parameter
    assert DECODE_LIMIT == 1 << 30


def test_a_frame_just_under_the_limit_passes_and_one_byte_more_fails() -> None:
    rows = DECODE_LIMIT // (2 * 16384)
    ok = PixelLayout(rows=rows, columns=16384, bits_allocated=16, length=DECODE_LIMIT)
    assert pixel_problem(ok) is None
    over = PixelLayout(rows=rows + 1, columns=16384, bits_allocated=16, length=2 * DECODE_LIMIT)
    assert "over the 1 GiB decode limit" in str(pixel_problem(over))
    colour = PixelLayout(rows=20000, columns=20000, bits_allocated=8, samples=3, length=1)
    assert "20000 x 20000 x 3 x 8-bit = 1.1 GiB per frame" in str(pixel_problem(colour))


def test_uncompressed_length_must_cover_the_frames() -> None:
    def layout(length: int, **kw: object) -> PixelLayout:
        values: dict = {"rows": 3, "columns": 3, "bits_allocated": 8, "length": length} | kw
        return PixelLayout(**values)

    assert pixel_problem(layout(9)) is None
    assert pixel_problem(layout(10)) is None  # the padding byte of an odd length
    assert pixel_problem(layout(4096)) is None  # trailing data is ignored, as pydicom does
    assert pixel_problem(layout(8)) == "pixel data is 8 bytes but 3 x 3 x 8-bit needs 9 bytes"
    assert "2 frames of 3 x 3 x 8-bit needs 18 bytes" in str(pixel_problem(layout(9, frames=2)))
    # 1-bit frames are packed end to end; YBR_FULL_422 keeps two samples a pixel
    assert pixel_problem(layout(3, bits_allocated=1, frames=2)) is None
    assert pixel_problem(layout(2, bits_allocated=1, frames=2)) is not None
    ybr = {"samples": 3, "photometric": "YBR_FULL_422", "rows": 2, "columns": 2}
    assert pixel_problem(layout(8, **ybr)) is None
    assert pixel_problem(layout(7, **ybr)) is not None


def test_compressed_data_needs_a_fragment_per_frame() -> None:
    def layout(fragments: int, frames: int) -> PixelLayout:
        return PixelLayout(
            rows=8, columns=8, bits_allocated=8, frames=frames, compressed=True, fragments=fragments
        )

    assert pixel_problem(layout(3, 3)) is None
    assert pixel_problem(layout(7, 3)) is None  # frames may span fragments
    assert pixel_problem(layout(2, 3)) == (
        "Number of Frames is 3 but the compressed pixel data holds only 2 fragments"
    )
    assert "holds no fragments" in str(pixel_problem(layout(0, 1)))


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"rows": 0, "columns": 8, "bits_allocated": 8}, "invalid image size (Rows 0"),
        ({"rows": None, "columns": 8, "bits_allocated": 8}, "invalid image size"),
        ({"rows": 8, "columns": 8, "bits_allocated": 12}, "invalid Bits Allocated 12"),
        ({"rows": 8, "columns": 8, "bits_allocated": 8, "samples": 0}, "Samples per Pixel 0"),
    ],
)
def test_unusable_attributes(values: dict, words: str) -> None:
    assert words in str(pixel_problem(PixelLayout(**values)))


def test_number_of_frames_is_read_like_the_decoders() -> None:
    assert [frame_count(v) for v in (None, "", "1A", "0", "-3", 5, " 7 ")] == [1, 1, 1, 1, 1, 5, 7]


def test_counting_fragments_stops_at_what_it_needs_and_at_broken_items() -> None:
    item = struct.pack("<HHL", 0xFFFE, 0xE000, 4) + b"abcd"
    table, end = (struct.pack("<HHL", 0xFFFE, element, 0) for element in (0xE000, 0xE0DD))
    data = table + item * 5 + end
    assert count_fragments(io.BytesIO(data), 0, len(data), 100) == 5
    assert count_fragments(io.BytesIO(data), 0, len(data), 2) == 2
    huge = data[:8] + struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFF0) + b"x" * 16
    assert count_fragments(io.BytesIO(huge), 0, len(huge), 100) == 0


# -- codestream checks -----------------------------------------------------------------------


def test_codestream_sizes_must_match_the_header(hostile: dict[str, Path]) -> None:
    from pydicom import dcmread
    from pydicom.encaps import get_frame

    ds = dcmread(hostile["jpeg-huge"])
    frame = get_frame(ds.PixelData, 0, number_of_frames=1)
    syntax = "1.2.840.10008.1.2.4.50"
    assert codestream_problem(frame, syntax, HUGE, HUGE, 16 << 30) is None
    assert "has 1 component of 8 bits = 4.0 GiB per frame, over the decode limit" in str(
        codestream_problem(frame, syntax, HUGE, HUGE, DECODE_LIMIT)
    )
    assert "65535 x 65535 pixels but Rows x Columns is 64 x 64" in str(
        codestream_problem(frame, syntax, 64, 64, DECODE_LIMIT)
    )
    assert codestream_problem(b"\xff\xd8\xff\xd9", syntax, 64, 64, DECODE_LIMIT) is None


def test_a_fuzzed_rle_frame_that_panics_the_rust_decoder_is_recognised() -> None:
    frame, case = fuzz_rle_panic()
    assert case < 300  # found within the issue's 300 cases
    assert rust_panics(frame, 256, 16)  # pylibjpeg-rle raises a BaseException on it
    assert rle_overruns(frame, 256, 16)
    try:
        fixed = rle_conform(frame, 256)
    except ValueError:
        return  # broken beyond repair: a DecodeError in the decode path
    assert not rust_panics(fixed, 256, 16) and not rle_overruns(fixed, 256, 16)


def test_conforming_keeps_pixels_and_cuts_padding() -> None:
    from hostile_pixels import rle_frame, rle_runs

    values = bytes(range(100))
    padded = rle_frame([rle_runs(values + b"\x07" * 40)] * 2)
    assert rle_overruns(padded, 100, 16)
    fixed = rle_conform(padded, 100)
    assert not rle_overruns(fixed, 100, 16)
    from rle.rle import decode_frame

    decoded = np.frombuffer(bytes(decode_frame(fixed, 100, 16, "<")), dtype="<u2")
    assert decoded.tolist() == [v * 257 for v in values]  # both bytes of each value


# -- the decode path, in-process -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REASONS))
def test_decoding_a_hostile_file_is_one_decode_error(name: str, hostile: dict[str, Path]) -> None:
    path = hostile[name]
    with pytest.raises(ImagingError) as info:
        render_image(path)
    message = str(info.value)
    assert "\n" not in message and REASONS[name] in message and path.name in message
    assert isinstance(info.value, DecodeError)
    with pytest.raises(ImagingError) as thumb:
        make_thumbnail(path)
    assert REASONS[name] in str(thumb.value)  # the tile shows the reason, not the file name
    assert path.name not in str(thumb.value)


def test_the_panicking_rle_file_never_escapes_as_a_base_exception(
    hostile: dict[str, Path],
) -> None:
    source = PixelSource.open(hostile["rle-panic"])
    try:
        arr = source.stored(0)
    except DecodeError as exc:
        assert "\n" not in str(exc)
    else:  # cut to Rows x Columns values, as pydicom's own RLE decoder reads it
        assert arr.shape == (16, 16)


def test_a_decoder_panic_becomes_a_decode_error(
    hostile: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the checks miss: a plugin's BaseException is an error, Ctrl-C is not."""
    from tuipacs.imaging import decode

    class PanicException(BaseException):  # what pyo3 raises for a Rust panic
        pass

    def panicking(*args: object, **kwargs: object) -> np.ndarray:
        raise PanicException("index out of bounds: the len is 512 but the index is 512")

    monkeypatch.setattr(decode, "pixel_array", panicking)
    path = hostile["rle-panic"].with_name("plain.dcm")
    from hostile_pixels import header, write
    from pydicom.uid import ExplicitVRLittleEndian

    ds = header("plain", ExplicitVRLittleEndian, 4, 4)
    ds.PixelData = bytes(32)
    path = write(ds, path.parent, "plain")
    with pytest.raises(DecodeError) as info:
        PixelSource.open(path).stored(0)
    assert "index out of bounds" in str(info.value) and "\n" not in str(info.value)
    assert not is_fatal(PanicException()) and is_fatal(KeyboardInterrupt())

    def interrupted(*args: object, **kwargs: object) -> np.ndarray:
        raise KeyboardInterrupt

    monkeypatch.setattr(decode, "pixel_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        PixelSource.open(path).stored(0)


def test_values_past_the_end_of_the_file_are_refused_before_reading(tmp_path: Path) -> None:
    from hostile_pixels import header, write
    from pydicom.uid import ExplicitVRLittleEndian

    ds = header("overrun", ExplicitVRLittleEndian, 16, 16)
    ds.PixelData = bytes(512)
    path = write(ds, tmp_path, "overrun")
    data = bytearray(path.read_bytes())
    at = data.rfind(b"\xe0\x7f\x10\x00OW")
    struct.pack_into("<L", data, at + 8, 0xFFFFFFF0)  # pixel data "4 GiB" long
    path.write_bytes(bytes(data))
    with pytest.raises(ImagingError) as info:
        render_image(path)
    assert "pixel data claims 4.0 GiB, past the end of the file" in str(info.value)


def test_a_deflate_bomb_is_refused_before_pydicom_inflates_it(hostile: dict[str, Path]) -> None:
    path = hostile["deflate-bomb"]
    words = "the deflated dataset expands past 8.0 MiB (from "
    with pytest.raises(ImagingError) as info:
        render_image(path)
    assert words in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(BadDicomError) as record:
        read_record(path)
    assert str(record.value).startswith(f"{path.name}: {words}")
    assert deflate_problem(path, 4 << 30) is None  # under a 4 GiB limit it may be read


def test_a_file_of_many_items_is_refused_before_pydicom_builds_them(tmp_path: Path) -> None:
    """150,000 empty sequence items (1.2 MB) would cost pydicom about 100 MB; an 8 MB file
    of them took 730 MB and 22 s. The parse is stopped after limit / 1024 reads."""
    from hostile_pixels import item_bomb

    from tuipacs.imaging.decode import read_dataset
    from tuipacs.imaging.errors import NotDicomError

    path = item_bomb(tmp_path)
    small = 64 << 20  # allows max(100,000, 65,536) reads
    words = "too many data elements and sequence items (over 100000 reads"
    with pytest.raises(NotDicomError) as info:
        read_dataset(path, limit=small)
    assert words in str(info.value)
    with pytest.raises(BadDicomError) as record:
        read_record(path, limit=small)
    assert str(record.value).startswith(f"{path.name}: {words}")
    assert read_record(path).rows == 16  # the default limit allows a million reads


# -- records: import and the Storage SCP -----------------------------------------------------


@pytest.mark.parametrize("name", sorted(set(REASONS) - IMPORTABLE))
def test_records_refuse_an_impossible_description(name: str, hostile: dict[str, Path]) -> None:
    path = hostile[name]
    with pytest.raises(BadDicomError) as slow:
        read_record(path)
    with pytest.raises(BadDicomError) as fast:
        fast_record(path)
    assert str(slow.value) == str(fast.value) == f"{path.name}: {str(slow.value).split(': ', 1)[1]}"
    assert REASONS[name] in str(slow.value) and "\n" not in str(slow.value)


@pytest.mark.parametrize("name", sorted(IMPORTABLE))
def test_records_keep_a_possible_description(name: str, hostile: dict[str, Path]) -> None:
    assert read_record(hostile[name]) == fast_record(hostile[name])
