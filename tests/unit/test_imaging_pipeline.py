"""Modality LUT, colour, overlays and the DisplayPipeline API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from ref import samples

from tuipacs.imaging.color import palette_to_rgb8, to_rgb8, ybr_to_rgb
from tuipacs.imaging.errors import ImagingError
from tuipacs.imaging.modality import ModalityTransform, modality_transform
from tuipacs.imaging.overlays import draw_overlays, overlay_planes
from tuipacs.imaging.pipeline import DisplayPipeline
from tuipacs.imaging.presets import auto_window, find_preset, minmax_window, presets_for
from tuipacs.imaging.voi import VoiFunction, Window


def data(name: str) -> Path:
    """Path of a pydicom / pydicom-data test file."""
    path = get_testdata_file(name)
    assert isinstance(path, str)
    return Path(path)


def sample(tmp_path: Path, name: str) -> DisplayPipeline:
    """Open synthetic sample ``name`` written into ``tmp_path``."""
    path = samples.write(samples.SAMPLES[name](), tmp_path / f"{name}.dcm")
    return DisplayPipeline.open(path)


def test_ct_values_are_hu_in_int16() -> None:
    pipe = DisplayPipeline.open(data("CT_small.dcm"))
    values = pipe.modality_frame(0)
    stored = pipe.stored_frame(0)
    assert values.dtype == np.int16
    assert np.array_equal(values, stored.astype(np.int32) - 1024)


def test_non_integer_rescale_gives_float32_and_exact_truncates(tmp_path: Path) -> None:
    pipe = sample(tmp_path, "rescaled")
    stored = pipe.stored_frame(0).astype(np.float64)
    values = pipe.modality_frame(0)
    assert values.dtype == np.float32
    assert np.allclose(values, stored * 0.7345 - 100.25, atol=1e-3)
    assert np.array_equal(pipe.exact_modality_frame(0), np.trunc(stored * 0.7345 - 100.25))


def test_modality_lut_sequence() -> None:
    pipe = DisplayPipeline.open(data("mlut_18.dcm"))
    transform = pipe.modality_transform(0)
    assert transform.lut is not None
    stored = pipe.stored_frame(0)
    assert np.array_equal(pipe.modality_frame(0), transform.lut.apply(stored))


def test_functional_groups_rescale_per_frame(tmp_path: Path) -> None:
    pipe = sample(tmp_path, "enhanced_ct")
    for k in range(3):
        transform = pipe.modality_transform(k)
        assert (transform.slope, transform.intercept) == (1 + k, -1024 - 10 * k)
        assert pipe.windows(k)[0].explanation == f"FRAME{k + 1}"
    assert pipe.pixel_spacing(0) == (0.7, 0.7)


def test_shared_functional_groups_are_used() -> None:
    pipe = DisplayPipeline.open(data("eCT_Supplemental.dcm"))
    assert pipe.modality_transform(1).intercept == -1024
    assert pipe.window_list(0) == [(49.0, 102.0, "")]


def test_modality_transform_identity_and_lut_range() -> None:
    assert ModalityTransform().is_identity
    ds = Dataset()
    ds.RescaleSlope, ds.RescaleIntercept = 0, 5
    assert modality_transform(ds).slope == 1.0
    assert ModalityTransform(slope=2, intercept=-3).value_range(0, 10) == (-3, 17)


def test_default_window_and_presets() -> None:
    ct = DisplayPipeline.open(data("CT_small.dcm"))
    values = ct.modality_frame(0)
    assert ct.windows(0) == []
    assert ct.default_window(0, values) == minmax_window(values)
    names = [p.name for p in ct.presets()]
    for wanted in (
        "file",
        "minmax",
        "auto",
        "brain",
        "subdural",
        "stroke",
        "lung",
        "mediastinum",
        "abdomen",
        "liver",
        "bone",
    ):
        assert wanted in names
    assert ct.preset_window("lung").center == -600
    assert ct.preset_window("auto", 0, values).width > 1
    with pytest.raises(ImagingError, match="stores no window"):
        ct.preset_window("file")
    with pytest.raises(ImagingError, match="unknown window preset"):
        ct.preset_window("nope")
    mr = DisplayPipeline.open(data("MR_small.dcm"))
    assert [p.name for p in mr.presets()] == ["file", "minmax", "auto"]
    assert mr.default_window(0) == Window(600, 1600, "", VoiFunction.LINEAR)


def test_minmax_and_auto_windows() -> None:
    values = np.concatenate([np.full(5000, -1000), np.linspace(0, 100, 5000)])
    mm = minmax_window(values)
    assert (mm.center, mm.width) == (-449.5, 1101)
    auto = auto_window(values)
    assert 0 <= auto.low < 5 and 95 < auto.high <= 100
    assert find_preset("Mediastinum") is not None and find_preset("xx") is None
    assert [p.name for p in presets_for("ct")][-1] == "bone"


def test_multiple_windows_with_explanations(tmp_path: Path) -> None:
    pipe = sample(tmp_path, "signed16")
    assert pipe.window_list(0) == [(40.0, 80.0, "BRAIN"), (400.0, 1500.0, "LUNG")]


@pytest.mark.parametrize(
    ("name", "invert"),
    [("mono1", True), ("mono1_inverse", True), ("mono2_inverse", True), ("signed16", False)],
)
def test_inversion_rules(tmp_path: Path, name: str, invert: bool) -> None:
    assert sample(tmp_path, name).invert is invert


def test_monochrome1_with_identity_shape_is_not_inverted(tmp_path: Path) -> None:
    ds = samples.mono1()
    ds.PresentationLUTShape = "IDENTITY"
    pipe = DisplayPipeline.open(samples.write(ds, tmp_path / "m.dcm"))
    assert pipe.invert is False


def test_to_uint8_uses_the_pipeline_inversion(tmp_path: Path) -> None:
    pipe = sample(tmp_path, "mono1")
    values = pipe.modality_frame(0)
    window = pipe.default_window(0)
    inverted = pipe.to_uint8(values, window).astype(int)
    upright = pipe.to_uint8(values, window, invert=False).astype(int)
    assert np.abs(inverted - (255 - upright)).max() <= 1
    assert inverted[0, 0] > inverted[-1, -1]


def test_voi_lut_is_the_default_when_no_window() -> None:
    pipe = DisplayPipeline.open(data("vlut_04.dcm"))
    voi = pipe.default_voi(0)
    assert not isinstance(voi, Window)
    grey = pipe.grey_frame(0)
    assert grey.dtype == np.uint8 and grey.max() > grey.min()


def test_colour_images_bypass_voi() -> None:
    pipe = DisplayPipeline.open(data("US1_UNCR.dcm"))
    rgb = pipe.modality_frame(0)
    assert pipe.is_color and rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8
    with pytest.raises(ImagingError):
        pipe.grey_frame(0)


def dcmtk_ybr8(y: int, cb: int, cr: int) -> list[int]:
    """DCMTK's 8-bit YCbCr to RGB: per-term truncation toward zero, then clamping."""
    rcr = int(1.4020 * cr - 0.7010 * 255)
    gcb, gcr = int(0.3441 * cb), int(0.7141 * cr - 0.5291 * 255)
    bcb = int(1.7720 * cb - 0.8859 * 255)
    return [min(max(v, 0), 255) for v in (y + rcr, y - gcb - gcr, y + bcb)]


def test_ybr_full_conversion_matches_dcmtk_formula() -> None:
    rng = np.random.default_rng(5)
    ybr = rng.integers(0, 256, size=(1, 50, 3), dtype=np.uint8)
    expected = [[dcmtk_ybr8(*map(int, px)) for px in ybr[0]]]
    assert ybr_to_rgb(ybr).tolist() == expected
    assert ybr_to_rgb(np.array([[[76, 85, 255]]], dtype=np.uint8)).tolist() == [[[254, 0, 1]]]
    assert ybr_to_rgb(ybr, "YBR_FULL_422").shape == ybr.shape


def test_deep_rgb_is_shifted_to_8_bits() -> None:
    assert to_rgb8(np.array([[[65535, 256, 255]]], dtype=np.uint16), 16).tolist() == [[[255, 1, 0]]]
    assert to_rgb8(np.array([[[15, 0, 7]]], dtype=np.uint8), 4).tolist() == [[[255, 0, 119]]]


def test_palette_16_bit_and_big_endian() -> None:
    little = DisplayPipeline.open(data("OBXXXX1A.dcm")).rgb_frame(0)
    big = DisplayPipeline.open(data("OBXXXX1A_expb.dcm")).rgb_frame(0)
    assert np.array_equal(little, big)
    ds = samples.palette16()
    rgb = palette_to_rgb8(np.array([[0, 255, 128]]), ds)
    assert rgb.tolist() == [[[0, 255, 0], [255, 0, 127], [128, 127, 64]]]


def test_segmented_palette() -> None:
    rgb = DisplayPipeline.open(data("gdcm-US-ALOKA-16.dcm")).rgb_frame(0)
    assert rgb.shape == (480, 640, 3) and rgb.max() > 0


def test_overlay_planes_are_drawn(tmp_path: Path) -> None:
    pipe = sample(tmp_path, "overlay_6000")
    planes = pipe.overlays()
    assert [(p.group, p.kind) for p in planes] == [(0x6000, "G"), (0x6002, "R")]
    plain = pipe.grey_frame(0, overlays=False)
    drawn = pipe.grey_frame(0)
    assert drawn[4, 10] == 255 and plain[4, 10] != 255
    roi_outside, roi_inside = (19, 29), (19 + 5, 29 + 6)
    assert drawn[roi_outside] == plain[roi_outside] >> 4
    assert drawn[roi_inside] == plain[roi_inside]


def test_embedded_overlay(tmp_path: Path) -> None:
    pipe = sample(tmp_path, "overlay_embedded")
    (plane,) = pipe.overlays()
    assert plane.embedded and plane.bit_position == 15
    drawn = pipe.grey_frame(0)
    assert drawn[4, 10] == 255 and drawn[20, 20] == 255
    assert pipe.stored_frame(0).max() <= 4095


def test_overlay_frames_and_big_endian_data() -> None:
    ds = samples.overlay_6000()
    swapped = np.frombuffer(ds[0x60003000].value, "<u2").astype(">u2").tobytes()
    ds[0x60003000].value = swapped
    (big,) = overlay_planes(ds, little_endian=False)[:1]
    (little,) = overlay_planes(samples.overlay_6000())[:1]
    assert np.array_equal(big.bitmap(0), little.bitmap(0))
    ds = samples.overlay_6000()
    ds.add_new(0x60000015, "IS", 1)
    ds.add_new(0x60000051, "US", 2)
    plane = overlay_planes(ds)[0]
    assert plane.multiframe and not plane.applies_to(0) and plane.applies_to(1)
    image = np.zeros((samples.ROWS, samples.COLS), dtype=np.uint8)
    assert draw_overlays(image, [plane], 0).max() == 0


def test_open_reads_dataset_header_only() -> None:
    pipe = DisplayPipeline.open(data("emri_small.dcm"))
    assert pipe.frame_count == 10 and pipe.modality == "MR"
    assert pipe.modality_frame(9).shape == (64, 64)
    full = pydicom.dcmread(data("emri_small.dcm")).pixel_array[9]
    assert np.array_equal(pipe.stored_frame(9), full)


def test_pixel_aspect_from_spacing(tmp_path: Path) -> None:
    pipe = sample(tmp_path, "mono1_inverse")
    assert pipe.pixel_spacing() == (0.2, 0.1)
    assert pipe.pixel_aspect() == pytest.approx(2.0)
    ds = pydicom.dcmread(data("CT_small.dcm"))
    del ds.PixelSpacing
    ds.PixelAspectRatio = [3, 2]
    assert DisplayPipeline(ds).pixel_aspect() == pytest.approx(1.5)
