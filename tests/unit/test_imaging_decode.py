"""Decoding: every transfer syntax, one frame at a time, clean errors for bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from ref import samples

from tuipacs.imaging import decode
from tuipacs.imaging.decode import PixelSource, image_info, read_dataset
from tuipacs.imaging.errors import (
    DecodeError,
    FrameRangeError,
    ImagingError,
    NoPixelDataError,
    NotDicomError,
)
from tuipacs.imaging.jpegfix import repair_sequential_sos


def data(name: str) -> Path:
    """Path of a pydicom / pydicom-data test file."""
    path = get_testdata_file(name)
    assert isinstance(path, str), f"{name} is not installed"
    return Path(path)


MR_VARIANTS = [
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_expb.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
]


@pytest.mark.parametrize("name", MR_VARIANTS)
def test_lossless_syntaxes_decode_to_the_same_pixels(name: str) -> None:
    reference = PixelSource.open(data("MR_small.dcm")).stored(0)
    assert np.array_equal(PixelSource.open(data(name)).stored(0), reference)


@pytest.mark.parametrize(
    ("name", "twin"),
    [
        ("emri_small_RLE.dcm", "emri_small.dcm"),
        ("emri_small_jpeg_ls_lossless.dcm", "emri_small.dcm"),
        ("emri_small_big_endian.dcm", "emri_small.dcm"),
        ("SC_rgb_rle_16bit.dcm", "SC_rgb_16bit.dcm"),
        ("US1_J2KR.dcm", "US1_UNCR.dcm"),
    ],
)
def test_compressed_frames_equal_their_uncompressed_twins(name: str, twin: str) -> None:
    source, ref = PixelSource.open(data(name)), PixelSource.open(data(twin))
    last = source.frame_count - 1
    assert np.array_equal(source.stored(last), ref.stored(last))


def test_deflate_and_jpeg_baseline_decode() -> None:
    deflated = PixelSource.open(data("image_dfl.dcm"))
    assert deflated.stored(0).shape == (512, 512)
    jpeg = PixelSource.open(data("SC_rgb_jpeg_dcmtk.dcm"))
    rgb = jpeg.stored(0)
    assert rgb.shape == (100, 100, 3) and jpeg.output_photometric() == "RGB"


def test_malformed_scan_header_is_repaired() -> None:
    lossy = PixelSource.open(data("JPEG-lossy.dcm")).stored(0)
    fixed = PixelSource.open(data("JPGExtended.dcm")).stored(0)
    assert np.array_equal(lossy, fixed)


def test_repair_only_touches_bad_sequential_headers() -> None:
    good = bytes.fromhex("ffd8ffc1000b0c0004000101110000ffda0008010100003f00aabbffd9")
    bad = good.replace(bytes.fromhex("00003f00"), bytes.fromhex("00000000"))
    assert repair_sequential_sos(good) is None
    assert repair_sequential_sos(bad) == good
    assert repair_sequential_sos(b"not a jpeg") is None


def test_one_frame_is_decoded_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int | None] = []
    real = decode.pixel_array

    def spy(src: object, **kwargs: object) -> np.ndarray:
        calls.append(kwargs.get("index"))  # type: ignore[arg-type]
        return real(src, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(decode, "pixel_array", spy)
    source = PixelSource.open(data("emri_small_jpeg_2k_lossless.dcm"))
    frame = source.stored(7)
    assert frame.shape == (64, 64)
    assert calls == [7]


def test_header_only_open_reads_frames_from_the_file() -> None:
    source = PixelSource.open(data("emri_small.dcm"))
    assert source.frame_count == 10
    full = pydicom.dcmread(data("emri_small.dcm")).pixel_array
    assert np.array_equal(source.stored(9), full[9])


def test_unused_high_bits_are_masked_and_signs_extended(tmp_path: Path) -> None:
    garbage = samples.write(samples.bits12_garbage(), tmp_path / "g.dcm")
    values = PixelSource.open(garbage).stored(0)
    assert values.max() <= 4095
    signed = samples.write(samples.bits12_in16_signed(), tmp_path / "s.dcm")
    values = PixelSource.open(signed).stored(0)
    assert values.min() < 0 and values.min() >= -2048
    raw = PixelSource.open(garbage).all_bits(0)
    assert raw is not None and raw.max() > 4095


def test_invalid_number_of_frames_is_tolerated() -> None:
    source = PixelSource.open(data("badVR.dcm"))
    assert source.frame_count == 1
    assert source.stored(0).shape == (10, 10)


def test_files_without_preamble_are_read() -> None:
    ds = read_dataset(data("OT-PAL-8-face.dcm"))
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    assert PixelSource(ds, data("OT-PAL-8-face.dcm")).stored(0).shape == (480, 640)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotDicomError, match="file not found"):
        PixelSource.open(tmp_path / "nope.dcm")


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(NotDicomError, match="folder"):
        PixelSource.open(tmp_path)


def test_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    with pytest.raises(NotDicomError, match="not a DICOM file: x.png"):
        PixelSource.open(path)


def test_no_pixel_data() -> None:
    with pytest.raises(NoPixelDataError, match="rtplan.dcm has no pixel data"):
        PixelSource.open(data("rtplan.dcm"))


def test_frame_out_of_range() -> None:
    source = PixelSource.open(data("emri_small.dcm"))
    with pytest.raises(FrameRangeError, match="frame 11 is out of range: emri_small.dcm has 10"):
        source.stored(10)
    with pytest.raises(FrameRangeError):
        source.stored(-1)


def test_truncated_pixel_data(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="truncated"):
        PixelSource.open(data("MR_truncated.dcm")).stored(0)
    path = tmp_path / "cut.dcm"
    raw = data("CT_small.dcm").read_bytes()
    path.write_bytes(raw[: len(raw) - 5000])
    with pytest.raises(ImagingError) as info:
        PixelSource.open(path).stored(0)
    assert "\n" not in str(info.value)


def test_truncated_file_read_whole_gives_a_clear_message() -> None:
    path = data("emri_small_jpeg_2k_lossless_too_short.dcm")
    with pytest.raises(NotDicomError, match="truncated"):
        PixelSource.open(path, header_only=False)


def test_corrupt_codestream() -> None:
    source = PixelSource.open(data("JPEG2000-embedded-sequence-delimiter.dcm"))
    with pytest.raises(DecodeError) as info:
        source.stored(0)
    message = str(info.value)
    assert message.startswith("cannot decode frame 1 of JPEG2000-embedded-sequence-delimiter.dcm")
    assert "\n" not in message


def test_missing_decoder_plugin_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "j2k.dcm"
    shutil.copy(data("MR_small_jp2klossless.dcm"), path)
    source = PixelSource.open(path)

    class Unavailable:
        is_available = False

    monkeypatch.setattr(decode, "get_decoder", lambda uid: Unavailable())
    with pytest.raises(DecodeError, match="install pylibjpeg-openjpeg"):
        source.stored(0)


def test_image_info_rejects_broken_attributes() -> None:
    ds = pydicom.dcmread(data("CT_small.dcm"))
    ds.Rows = 0
    with pytest.raises(DecodeError, match="invalid image attributes"):
        image_info(ds)


def test_imaging_error_is_one_line() -> None:
    assert str(ImagingError("two\nlines  here")) == "two lines here"
    assert str(ImagingError("")) == "the image cannot be displayed"
