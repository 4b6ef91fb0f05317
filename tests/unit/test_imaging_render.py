"""render_to_file / ``tuipacs render``: output format, window choice, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from ref import samples

from tuipacs.imaging.errors import FrameRangeError, ImagingError, NoPixelDataError, NotDicomError
from tuipacs.imaging.pipeline import DisplayPipeline
from tuipacs.imaging.render import render_image, render_to_file
from tuipacs.imaging.voi import Window, to_uint8_exact
from tuipacs.view.export import view_options


def data(name: str) -> Path:
    """Path of a pydicom / pydicom-data test file."""
    path = get_testdata_file(name)
    assert isinstance(path, str)
    return Path(path)


def read_png(path: Path) -> tuple[str, np.ndarray]:
    """(mode, pixels) of a PNG."""
    with Image.open(path) as image:
        return image.mode, np.asarray(image)


def test_grey_png_with_explicit_window(tmp_path: Path) -> None:
    out = tmp_path / "ct.png"
    render_to_file(data("CT_small.dcm"), out, window=(40, 400))
    mode, pixels = read_png(out)
    pipe = DisplayPipeline.open(data("CT_small.dcm"))
    expected = to_uint8_exact(pipe.exact_modality_frame(0), Window(40, 400))
    assert mode == "L" and np.array_equal(pixels, expected)


def test_colour_png_is_rgb(tmp_path: Path) -> None:
    out = tmp_path / "us.png"
    render_to_file(data("US1_UNCR.dcm"), out, window=(1, 2))
    mode, pixels = read_png(out)
    assert mode == "RGB" and pixels.shape == (480, 640, 3)


def test_default_is_first_stored_window_else_minmax() -> None:
    mr = DisplayPipeline.open(data("MR_small.dcm"))
    assert np.array_equal(
        render_image(data("MR_small.dcm")),
        to_uint8_exact(mr.exact_modality_frame(0), Window(600, 1600)),
    )
    ct = render_image(data("CT_small.dcm"))
    assert ct.min() == 0 and ct.max() == 255


def test_frames_are_one_based(tmp_path: Path) -> None:
    path = data("emri_small.dcm")
    first = render_image(path, frame=1, window=(300, 600))
    last = render_image(path, frame=10, window=(300, 600))
    pipe = DisplayPipeline.open(path)
    assert np.array_equal(last, to_uint8_exact(pipe.exact_modality_frame(9), (300, 600)))
    assert not np.array_equal(first, last)
    with pytest.raises(FrameRangeError, match="frame 11 is out of range"):
        render_to_file(path, tmp_path / "x.png", frame=11)
    with pytest.raises(FrameRangeError, match="frame 0 is out of range"):
        render_to_file(path, tmp_path / "x.png", frame=0)


def test_presets(tmp_path: Path) -> None:
    lung = render_image(data("CT_small.dcm"), preset="lung")
    assert np.array_equal(lung, render_image(data("CT_small.dcm"), window=(-600, 1500)))
    assert render_image(data("CT_small.dcm"), preset="auto").dtype == np.uint8
    with pytest.raises(ImagingError, match="unknown preset 'nope': choose one of"):
        render_image(data("CT_small.dcm"), preset="nope")
    with pytest.raises(ImagingError, match="either a window or a preset"):
        render_image(data("CT_small.dcm"), preset="lung", window=(1, 2))
    with pytest.raises(ImagingError, match="stores no window"):
        render_image(data("CT_small.dcm"), preset="file")


def test_size_fits_keeping_aspect(tmp_path: Path) -> None:
    path = samples.write(samples.mono1_inverse(), tmp_path / "cr.dcm")
    out = tmp_path / "small.png"
    render_to_file(path, out, size=(100, 100))
    mode, pixels = read_png(out)
    assert mode == "L" and pixels.shape == (100, 100)
    # 64 x 48 pixels of 0.1 x 0.2 mm: displayed 64 wide, 96 high -> fitted to 67 x 100
    assert pixels[:, :10].max() == 0 and pixels[:, 20:80].max() > 0
    with pytest.raises(ImagingError, match="invalid size"):
        render_image(path, size=(0, 10))


def test_rotation_flip_and_inversion_of_the_whole_frame(tmp_path: Path) -> None:
    """Without a size the frame stays at full resolution, turned clockwise, then mirrored."""
    path = data("CT_small.dcm")
    plain = render_image(path, window=(40, 400))
    turned = render_image(path, window=(40, 400), view=view_options(rotate=90, flip_h=True))
    assert np.array_equal(turned, np.rot90(plain, k=-1)[:, ::-1])
    inverted = render_image(path, window=(40, 400), view=view_options(invert=True))
    assert np.array_equal(
        inverted.astype(int),
        to_uint8_exact(
            DisplayPipeline.open(path, header_only=False).exact_modality_frame(0),
            Window(40, 400),
            None,
            True,
        ).astype(int),
    )


def test_zoom_cuts_the_middle_out(tmp_path: Path) -> None:
    path = data("CT_small.dcm")  # 128 x 128
    fit = render_image(path, window=(40, 400), view=view_options(size=(128, 128)))
    assert np.array_equal(fit, render_image(path, window=(40, 400)))
    zoomed = render_image(path, window=(40, 400), view=view_options(size=(128, 128), zoom=2.0))
    assert zoomed.shape == (128, 128)
    assert np.abs(zoomed[::2, ::2].astype(int) - fit[32:96, 32:96]).mean() < 8
    out = render_image(path, window=(40, 400), view=view_options(size=(128, 128), zoom=0.5))
    assert out[:32].max() == 0 and out[:, :32].max() == 0 and out[32:96, 32:96].max() > 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rotate": 45}, "invalid rotation"),
        ({"zoom": 2.0}, "a zoom needs an output size"),
        ({"size": (100, 100), "zoom": 100.0}, "invalid zoom"),
        ({"size": (100, 100), "zoom": float("nan")}, "invalid zoom"),
        ({"size": (105, 100), "cell": (10, 20)}, "not whole cells"),
        ({"size": (100, 100), "cell": (0, 20)}, "invalid cell size"),
    ],
)
def test_bad_view_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ImagingError, match=message):
        view_options(**options)  # type: ignore[arg-type]


def test_overlays_switch(tmp_path: Path) -> None:
    path = samples.write(samples.overlay_6000(), tmp_path / "ov.dcm")
    with_overlays = render_image(path)
    without = render_image(path, overlays=False)
    assert with_overlays[4, 10] == 255 and without[4, 10] != 255


@pytest.mark.parametrize(
    ("window", "message"), [((40, 0.5), "invalid window width"), ((40, float("nan")), "invalid")]
)
def test_bad_window(window: tuple[float, float], message: str) -> None:
    with pytest.raises(ImagingError, match=message):
        render_image(data("CT_small.dcm"), window=window)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(NotDicomError, match="file not found"):
        render_to_file(tmp_path / "missing.dcm", tmp_path / "o.png")
    text = tmp_path / "notes.txt"
    text.write_text("hello " * 100)
    with pytest.raises(NotDicomError, match="not a DICOM file: notes.txt"):
        render_to_file(text, tmp_path / "o.png")
    with pytest.raises(NoPixelDataError):
        render_to_file(data("rtplan.dcm"), tmp_path / "o.png")
    with pytest.raises(ImagingError, match="cannot write"):
        render_to_file(data("CT_small.dcm"), tmp_path / "no" / "such" / "dir.png")
    with pytest.raises(ImagingError, match="frames are numbered from 1"):
        render_image(data("CT_small.dcm"), frame="2")  # type: ignore[arg-type]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tuipacs render ...``."""
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", "render", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_writes_png(tmp_path: Path) -> None:
    out = tmp_path / "cli.png"
    run = run_cli(str(data("CT_small.dcm")), "-o", str(out), "--preset", "bone", "--size", "64x32")
    assert run.returncode == 0, run.stderr
    mode, pixels = read_png(out)
    assert mode == "L" and pixels.shape == (32, 64)


@pytest.mark.parametrize(
    "args",
    [
        ["{missing}", "-o", "{out}"],
        ["{ct}", "-o", "{out}", "--frame", "3"],
        ["{ct}", "-o", "{out}", "--preset", "nope"],
        ["{ct}", "-o", "{out}", "--zoom", "2"],
        ["{ct}", "-o", "{out}", "--size", "100x100", "--cell", "7x20"],
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str]) -> None:
    values = {
        "missing": str(tmp_path / "missing.dcm"),
        "out": str(tmp_path / "o.png"),
        "ct": str(data("CT_small.dcm")),
    }
    run = run_cli(*(a.format(**values) for a in args))
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("tuipacs: error:"), run.stderr


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8, np.int32])
def test_viewer_grey_levels_are_dcmtk_arithmetic(dtype: type) -> None:
    """The viewer's table lookup (in chunks) gives to_uint8_exact's levels for every window
    function and inversion, on a frame larger than one chunk."""
    from tuipacs.imaging.voi import VoiFunction
    from tuipacs.view.frames import Frame
    from tuipacs.view.info import FrameInfo
    from tuipacs.view.render import LOOKUP_CHUNK, window_levels

    info = np.iinfo(dtype)
    rng = np.random.default_rng(7)
    low, high = max(info.min, -3000), min(info.max, 5000)
    values = rng.integers(low, high, (300, LOOKUP_CHUNK // 200)).astype(dtype)
    for function in VoiFunction:
        frame = Frame(values, False, False, 1.0, [], function, FrameInfo())
        for window in (Window(40, 400), Window(-600, 1500), Window(0.5, 1), Window(100.3, 2.7)):
            for flip in (False, True):
                expected = to_uint8_exact(values, window, function, flip)
                assert np.array_equal(window_levels(frame, window, flip), expected)
