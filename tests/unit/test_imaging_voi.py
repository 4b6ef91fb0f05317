"""VOI: window formulas, truncation, inversion, stored windows and VOI LUTs."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tuipacs.imaging.luts import LookupTable
from tuipacs.imaging.voi import (
    VoiFunction,
    Window,
    file_voi_luts,
    file_windows,
    lut_to_uint8,
    to_uint8,
    to_uint8_exact,
)

X = np.arange(-600.0, 601.0, 0.25)


def linear_reference(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 with ymin=0, ymax=255 (float)."""
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    y = np.where(x <= c - 0.5 - (w - 1) / 2, 0, y)
    return np.where(x > c - 0.5 + (w - 1) / 2, 255, y)


def test_linear_exact_path_truncates_the_standard_formula() -> None:
    expected = np.floor(linear_reference(X, 40, 400) + 1e-9)
    assert np.array_equal(to_uint8_exact(X, Window(40, 400)), expected.astype(np.uint8))


def test_inversion_happens_before_truncation() -> None:
    y = linear_reference(X, 40, 400)
    got = to_uint8_exact(X, Window(40, 400), invert=True)
    assert np.array_equal(got, np.floor(255 - y + 1e-9).astype(np.uint8))
    assert not np.array_equal(got, (255 - np.floor(y)).astype(np.uint8))


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize(
    "window",
    [
        Window(40, 400),
        Window(-600, 1500),
        Window(128, 100, function=VoiFunction.LINEAR_EXACT),
        Window(0, 300, function=VoiFunction.SIGMOID),
        Window(10.5, 1),
    ],
)
def test_fast_path_within_one_level_of_exact(window: Window, invert: bool) -> None:
    values = X.astype(np.float32)
    fast = to_uint8(values, window, invert=invert).astype(int)
    exact = to_uint8_exact(values, window, invert=invert).astype(int)
    assert np.abs(fast - exact).max() <= 1
    assert np.mean(fast == exact) > 0.97


def test_linear_exact_formula() -> None:
    c, w = 128.0, 100.0
    y = ((X - c) / w + 0.5) * 255
    y = np.clip(np.where(X <= c - w / 2, 0, np.where(X > c + w / 2, 255, y)), 0, 255)
    got = to_uint8_exact(X, Window(c, w, function=VoiFunction.LINEAR_EXACT))
    assert np.abs(got.astype(int) - np.floor(y)).max() <= 1
    assert got[X <= c - w / 2].max() == 0 and got[X > c + w / 2].min() == 255


def test_sigmoid_formula() -> None:
    c, w = 50.0, 200.0
    y = 255 / (1 + np.exp(-4 * (X - c) / w))
    got = to_uint8_exact(X, Window(c, w, function=VoiFunction.SIGMOID))
    assert np.array_equal(got, np.floor(y).astype(np.uint8))
    assert got[0] < 5 and got[-1] > 250


def test_function_argument_overrides_window_function() -> None:
    linear = to_uint8(X, Window(0, 300))
    sigmoid = to_uint8(X, Window(0, 300), function="SIGMOID")
    assert not np.array_equal(linear, sigmoid)
    assert np.array_equal(sigmoid, to_uint8(X, Window(0, 300, function=VoiFunction.SIGMOID)))


def test_width_one_is_a_threshold() -> None:
    grey = to_uint8(np.array([9.0, 10.0, 10.4, 10.6, 12.0]), Window(11, 1))
    assert grey.tolist() == [0, 0, 0, 255, 255]


def test_to_uint8_writes_into_out_and_accepts_int16_and_tuples() -> None:
    values = np.array([[-1000, 0, 40], [240, 1000, 3000]], dtype=np.int16)
    out = np.zeros(values.shape, dtype=np.uint8)
    result = to_uint8(values, (40, 400), out=out)
    assert result is out
    assert out.tolist() == [[0, 102, 127], [255, 255, 255]]


def test_voi_function_parse() -> None:
    assert VoiFunction.parse("linear_exact") is VoiFunction.LINEAR_EXACT
    assert VoiFunction.parse("") is VoiFunction.LINEAR
    assert VoiFunction.parse("bogus") is VoiFunction.LINEAR


def test_every_stored_window_with_explanation() -> None:
    ds = Dataset()
    ds.WindowCenter = [40, -600, 5]
    ds.WindowWidth = [400, 1500, 0.5]
    ds.WindowCenterWidthExplanation = ["SOFT", "LUNG"]
    ds.VOILUTFunction = "SIGMOID"
    windows = file_windows(ds)
    assert [(w.center, w.width, w.explanation) for w in windows] == [
        (40.0, 400.0, "SOFT"),
        (-600.0, 1500.0, "LUNG"),
    ]
    assert all(w.function is VoiFunction.SIGMOID for w in windows)


def test_frame_voi_lut_macro_wins_over_top_level() -> None:
    ds = Dataset()
    ds.WindowCenter, ds.WindowWidth = 1, 2
    frames = []
    for k in range(2):
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = 100 + k, 50
        item = Dataset()
        item.FrameVOILUTSequence = Sequence([voi])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    assert file_windows(ds, 1)[0].center == 101
    assert file_windows(ds, 0)[0].center == 100


def test_window_helpers() -> None:
    window = Window(40, 400, "BRAIN")
    assert (window.low, window.high) == (-160, 240)
    assert window.adjusted(10, -500).width == 1
    assert window.label() == "C 40 W 400 (BRAIN)"
    assert not Window(0, 0.5).is_valid
    assert Window(0, 0.5, function=VoiFunction.LINEAR_EXACT).is_valid


def test_voi_lut_sequence_is_parsed_and_applied() -> None:
    item = Dataset()
    item.LUTDescriptor = [4, 10, 12]
    item.LUTData = [0, 1000, 2000, 4095]
    item.LUTExplanation = "HARD"
    ds = Dataset()
    ds.VOILUTSequence = Sequence([item])
    (lut,) = file_voi_luts(ds)
    assert (lut.first_mapped, lut.bits, lut.explanation) == (10, 12, "HARD")
    grey = lut_to_uint8(np.array([0, 10, 11, 12, 13, 99]), lut)
    assert grey.tolist() == [0, 0, 62, 125, 255, 255]
    inverted = lut_to_uint8(np.array([0, 13]), lut, invert=True)
    assert inverted.tolist() == [255, 0]


def test_lookup_table_clamps_indices() -> None:
    lut = LookupTable(first_mapped=-2, bits=8, table=np.array([5, 6, 7]))
    assert lut.apply(np.array([-10, -2, -1, 0, 50])).tolist() == [5, 5, 6, 7, 7]
