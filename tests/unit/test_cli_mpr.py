"""``tuipacs render --series UID --mpr PLANE``: reformats of series in the archive, through the
viewer's render path, with one error line for everything that cannot be reformatted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from mprkit import StackSpec, expected_plane, make_stack, unique, voxel_centres
from PIL import Image

from tuipacs import locations
from tuipacs.cli import main
from tuipacs.imaging.mpr import reformat
from tuipacs.imaging.resample import resize, square_pixel_size
from tuipacs.imaging.voi import to_uint8_exact
from tuipacs.imaging.volume import build_volume
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_instances, list_series, list_studies


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An archive with the demo set (a 30-slice CT) and two synthetic stacks: one with cubic
    voxels, one tilted."""
    home = tmp_path_factory.mktemp("mpr-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TUIPACS_HOME", str(home))
        assert main(["demo", "--ct-slices", "30"]) == 0
        for name, spec in {
            "cubic": StackSpec(pixel_spacing=(0.8, 0.8), step=0.8, rows=9, columns=11, slices=7),
            "tilted": StackSpec(
                orientation=(1, 0, 0, 0, 0.98, -0.198997487), steps_along=(0, 0, 1), slices=5
            ),
        }.items():
            folder = home / name
            folder.mkdir()
            for n, ds in enumerate(make_stack(spec)):
                ds.SeriesDescription = name
                ds.save_as(folder / f"{n}.dcm", enforce_file_format=True)
            assert main(["import", str(folder)]) == 0
        yield home


def series_uid(home: Path, modality: str, description: str = "") -> str:
    """The UID of the first series of ``modality`` (and description) in the archive."""
    archive = Archive.open(home / locations.archive_dir().relative_to(home))
    try:
        for study in list_studies(archive):
            for series in list_series(archive, study.study_uid):
                if series.modality == modality and description in series.description:
                    return series.series_uid
    finally:
        archive.close()
    raise AssertionError(f"no {modality} series")


def series_paths(home: Path, uid: str) -> list[Path]:
    archive = Archive.open(home / locations.archive_dir().relative_to(home))
    try:
        return [row.path for row in list_instances(archive, uid)]
    finally:
        archive.close()


def render(home: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("TUIPACS_HOME", str(home))
    return main(["render", *args])


def test_cubic_voxels_render_the_stack_s_own_values(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Square pixels (slice step = pixel spacing): the PNG is the plane itself, each grey level
    the window of the stack's voxel at that point (found from the files' IPP/IOP/spacing)."""
    monkeypatch.setenv("TUIPACS_HOME", str(home))
    uid = series_uid(home, "CT", "cubic")
    from pydicom import dcmread

    datasets = [dcmread(p) for p in series_paths(home, uid)]
    for plane, axis in (("sagittal", 0), ("coronal", 1)):
        at = unique(voxel_centres(datasets)[:, axis])[2]
        out = tmp_path / f"{plane}.png"
        args = ["--series", uid, "--mpr", plane, "--position", str(at)]
        assert render(home, monkeypatch, *args, "--window", "40", "400", "-o", str(out)) == 0
        expected, _, _ = expected_plane(datasets, plane, at)
        png = np.asarray(Image.open(out))
        np.testing.assert_array_equal(png, to_uint8_exact(expected, (40.0, 400.0)))


def test_demo_sagittal_png_has_the_aspect_of_the_volume(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 slices of 15 mm and 512 rows of 0.879 mm: square pixels make it 512 x 512; the
    pixels are the windowed reformat (the file's first window, 40/400) resampled."""
    uid = series_uid(home, "CT", "Thorax")
    out = tmp_path / "sag.png"
    assert render(home, monkeypatch, "--series", uid, "--mpr", "sagittal", "-o", str(out)) == 0
    png = np.asarray(Image.open(out))
    ref = reformat(build_volume(series_paths(home, uid)), "sagittal")
    assert ref.values.shape == (30, 512) and ref.spacing == pytest.approx((15.0, 450 / 512))
    assert png.shape == square_pixel_size(ref.values.shape, ref.aspect) == (512, 512)
    grey = to_uint8_exact(ref.values, (40.0, 400.0))
    np.testing.assert_array_equal(png, resize(grey, png.shape))


def test_slab_and_size(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uid = series_uid(home, "CT", "Thorax")
    out = tmp_path / "cor.png"
    args = ["--series", uid, "--mpr", "coronal", "--slab", "20", "--mode", "avg", "--size"]
    assert render(home, monkeypatch, *args, "300x200", "--preset", "lung", "-o", str(out)) == 0
    assert Image.open(out).size == (300, 200)
    mr = series_uid(home, "MR")
    out = tmp_path / "mr.jpg"
    assert render(home, monkeypatch, "--series", mr, "--mpr", "coronal", "-o", str(out)) == 0
    assert Image.open(out).format == "JPEG"


ERRORS = {
    "unknown series": (["--series", "1.2.3.4", "--mpr", "sagittal"], "no series 1.2.3.4"),
    "one image": (["--series", "DX", "--mpr", "coronal"], "1 slice: a reformat needs at least 3"),
    "tilted": (["--series", "tilted", "--mpr", "sagittal"], "gantry tilt of about 11."),
    "outside": (
        ["--series", "Thorax", "--mpr", "sagittal", "--position", "400"],
        "position 400 mm is outside the volume",
    ),
    "nan slab": (["--series", "Thorax", "--mpr", "coronal", "--slab", "nan"], "slab thickness"),
    "no plane": (["--series", "Thorax"], "--series needs --mpr"),
    "no series": (["--mpr", "sagittal"], "--mpr needs --series UID"),
    "file too": (["x.dcm", "--series", "Thorax", "--mpr", "sagittal"], "not both"),
    "frame": (["--series", "Thorax", "--mpr", "sagittal", "--frame", "2"], "--frame does not"),
    "mode alone": (["--series", "Thorax", "--mpr", "sagittal", "--mode", "mip"], "--mode needs"),
    "slab alone": (["x.dcm", "--slab", "3"], "--slab needs --series"),
    "nothing": ([], "give a FILE to render"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_are_one_line(
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    args, expected = ERRORS[name]
    named = {"DX": ("DX", ""), "tilted": ("CT", "tilted"), "Thorax": ("CT", "Thorax")}
    args = [series_uid(home, *named[a]) if a in named else a for a in args]
    out = tmp_path / "out.png"
    assert render(home, monkeypatch, *args, "-o", str(out)) == 1
    err = capsys.readouterr().err
    assert err.startswith("tuipacs: error: ") and err.count("\n") == 1, err
    assert expected in err
    assert not out.exists()
