"""Volumes from slice stacks: modality values, order along the normal, and one clear refusal
for every stack that cannot be reformatted; hostile geometry never raises anything else."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
from mprkit import StackSpec, make_stack, stored_of
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, RLELossless

from tuipacs.imaging.pipeline import DisplayPipeline
from tuipacs.imaging.volume import VolumeError, build_volume, volume_from_datasets


def test_values_are_modality_values_sorted_along_the_normal() -> None:
    datasets = make_stack(StackSpec(order="shuffle", seed=4))
    volume = volume_from_datasets(datasets)
    assert volume.values.dtype == np.int16 and volume.shape == (6, 5, 7)
    z = [float(ds.ImagePositionPatient[2]) for ds in datasets]
    by_z = [datasets[i] for i in np.argsort(z)]
    for k, ds in enumerate(by_z):
        np.testing.assert_array_equal(volume.values[k], stored_of(ds).astype(int) - 1024)
    assert volume.positions == pytest.approx(sorted(z))
    assert volume.spacing == pytest.approx((2.0, 0.8, 0.6))
    assert volume.origin == pytest.approx((-10.0, -20.0, 30.0))
    assert volume.windows[0].center == 40 and volume.modality == "CT"
    # voxel (k, i, j) lies where the slice's own IPP/IOP/spacing put it
    point = volume.point(3, 2, 5)
    assert point == pytest.approx([-10.0 + 5 * 0.6, -20.0 + 2 * 0.8, 30.0 + 3 * 2.0])


def test_non_integer_rescale_gives_float_values() -> None:
    datasets = make_stack(slope=0.25, intercept=-1.5)
    volume = volume_from_datasets(datasets)
    assert volume.values.dtype == np.float32
    expected = stored_of(datasets[0]) * 0.25 - 1.5
    np.testing.assert_allclose(volume.values[0], expected)


@pytest.mark.parametrize(
    "syntax", [ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, RLELossless]
)
def test_build_from_files_decodes_the_same_values(tmp_path: Path, syntax: str) -> None:
    """Files read header first, pixel data when decoded: plain, deflated (read whole) and
    compressed files give the values of the datasets themselves."""
    datasets = make_stack(StackSpec(order="reverse"))
    expected = volume_from_datasets(datasets).values
    paths = []
    for n, ds in enumerate(datasets):
        path = tmp_path / f"s{n}.dcm"
        if syntax == RLELossless:
            ds.compress(RLELossless)
        else:
            ds.file_meta.TransferSyntaxUID = syntax
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    from_files = build_volume(paths)
    np.testing.assert_array_equal(from_files.values, expected)
    assert from_files.sources[0] == str(paths[-1])  # the reverse order: last file is lowest
    paths[2].unlink()
    with pytest.raises(VolumeError, match="slice 3: file not found"):
        build_volume(paths)


def raw(ds: Dataset, keyword: str, value: str | list[str], vr: str = "DS") -> None:
    """Set ``keyword`` as raw bytes, as a file would hold them (pydicom does not check them)."""
    text = value if isinstance(value, str) else "\\".join(value)
    data = text.encode("latin-1", "replace")
    tag = Tag(keyword)
    ds[tag] = RawDataElement(tag, vr, len(data), data, 0, False, True)


def _edit(datasets: list[Dataset], index: int, **values: object) -> list[Dataset]:
    for key, value in values.items():
        if value is None:
            delattr(datasets[index], key)
        elif isinstance(value, list):
            raw(datasets[index], key, value)
        else:
            setattr(datasets[index], key, value)
    return datasets


def _duplicated() -> list[Dataset]:
    datasets = make_stack()
    return datasets + [copy.deepcopy(datasets[2])]


def _tilted() -> list[Dataset]:
    datasets = make_stack()
    for k, ds in enumerate(datasets):  # y shifts 0.5 mm a slice: a tilt of ~14 degrees
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [f"{x:g}", f"{y + 0.5 * k:g}", f"{z:g}"]
    return datasets


def _gap() -> list[Dataset]:
    datasets = make_stack(slices=7)
    del datasets[3]
    return datasets


REFUSALS = {
    "too few slices": (lambda: make_stack(slices=2), "2 slices: a reformat needs at least 3"),
    "no position": (
        lambda: _edit(make_stack(), 2, ImagePositionPatient=None),
        "slice 3 has no usable Image Position",
    ),
    "no orientation": (
        lambda: _edit(make_stack(), 0, ImageOrientationPatient=None),
        "no usable Image Orientation",
    ),
    "no spacing": (
        lambda: _edit(make_stack(), 1, PixelSpacing=None),
        "no usable Pixel Spacing",
    ),
    "mixed orientation": (
        lambda: _edit(make_stack(), 4, ImageOrientationPatient=["1", "0", "0", "0", "0", "-1"]),
        "mixed orientation",
    ),
    "gantry tilt": (_tilted, "gantry tilt of about 14.0 degrees"),
    "irregular spacing": (_gap, "irregular (steps of 2, 4 mm"),
    "duplicate slices": (_duplicated, "same position"),
    "different size": (lambda: _edit(make_stack(), 3, Rows=4), "one size"),
    "different spacing": (
        lambda: _edit(make_stack(), 5, PixelSpacing=["0.8", "0.7"]),
        "one spacing",
    ),
    "other frame of reference": (
        lambda: _edit(make_stack(), 5, FrameOfReferenceUID="1.2.3"),
        "frame of reference",
    ),
    "multi-frame": (
        lambda: _edit(make_stack(), 0, NumberOfFrames=2),
        "multi-frame (enhanced) objects cannot be reformatted yet",
    ),
    "colour": (
        lambda: _edit(make_stack(), 0, SamplesPerPixel=3, PhotometricInterpretation="RGB"),
        "colour image",
    ),
    "non-numeric position": (
        lambda: _edit(make_stack(), 1, ImagePositionPatient=["a", "b", "c"]),
        "no usable Image Position",
    ),
    "NaN spacing": (
        lambda: _edit(make_stack(), 1, PixelSpacing=["nan", "0.6"]),
        "no usable Pixel Spacing",
    ),
    "zero spacing": (
        lambda: _edit(make_stack(), 1, PixelSpacing=["0", "0.6"]),
        "impossible Pixel Spacing",
    ),
    "zero orientation": (
        lambda: _edit(make_stack(), 0, ImageOrientationPatient=["0"] * 6),
        "has length 0",
    ),
    "skewed orientation": (
        lambda: _edit(make_stack(), 0, ImageOrientationPatient=["1", "0", "0", "0.6", "0.8", "0"]),
        "not perpendicular",
    ),
    "far away": (
        lambda: _edit(make_stack(), 0, ImagePositionPatient=["1e300", "0", "0"]),
        "implausibly far",
    ),
    "no pixel data": (lambda: _edit(make_stack(), 2, PixelData=None), "slice 3:"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_every_refusal_is_one_line_with_its_reason(name: str) -> None:
    build, reason = REFUSALS[name]
    with pytest.raises(VolumeError) as info:
        volume_from_datasets(build())
    message = str(info.value)
    assert reason in message and "\n" not in message


def test_budget_is_checked_before_anything_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """20 slices of 128 x 128 at 4 bytes are 1.25 MiB: over a 1 MiB limit, refused before a
    single slice is decoded or the volume allocated."""
    datasets = make_stack(slices=20, rows=128, columns=128)

    def no_decoding(self: DisplayPipeline, index: int) -> np.ndarray:
        raise AssertionError("decoded before the budget check")

    monkeypatch.setattr(DisplayPipeline, "modality_frame", no_decoding)
    with pytest.raises(VolumeError, match=r"20 x 128 x 128 voxels = 1\.2 MiB, over the 1\.0 MiB"):
        volume_from_datasets(datasets, limit=1 << 20)
    with pytest.raises(VolumeError, match="decoded before"):  # it fits a larger limit
        volume_from_datasets(datasets, limit=2 << 20)


HOSTILE_NUMBERS = [
    "nan",
    "inf",
    "-inf",
    "1e400",
    "",
    "abc",
    "0",
    "-0",
    "-1",
    "1e-30",
    "1e30",
    " 1 ",
    "1\\2",
    "0x10",
    "١",
    "\x00",
    "1" * 400,
]


def _hostile(rng: np.random.Generator, count: int) -> str | list[str]:
    """A value for a multi-valued DS attribute: random hostile numbers, sometimes the wrong
    count, sometimes a plain string."""
    if rng.random() < 0.1:
        return str(rng.choice(HOSTILE_NUMBERS))
    n = count if rng.random() < 0.7 else int(rng.integers(0, 8))
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            out.append(str(rng.choice(HOSTILE_NUMBERS)))
        else:
            out.append(repr(float(rng.normal(0, 10.0 ** int(rng.integers(-3, 8))))))
    return out


def test_fuzzed_geometry_raises_only_volume_errors() -> None:
    """Seeded hostile values for IPP, IOP, Pixel Spacing, Rows and Columns on a few slices:
    a volume or a VolumeError, never another exception; a built volume has finite geometry."""
    rng = np.random.default_rng(20240316)
    built = refused = 0
    for _ in range(300):
        datasets = make_stack(slices=int(rng.integers(3, 6)), rows=4, columns=3)
        for _ in range(int(rng.integers(1, 4))):
            ds = datasets[int(rng.integers(0, len(datasets)))]
            keyword = str(
                rng.choice(["ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"])
            )
            count = {"ImagePositionPatient": 3, "ImageOrientationPatient": 6}.get(keyword, 2)
            original = ds.get_item(keyword)
            if rng.random() < 0.3 and not isinstance(original, RawDataElement):
                # the same numbers spelled otherwise: must still build
                numbers = [float(v) for v in original.value]
                spelling = str(rng.choice(["{:g}", "{:.9e}", " {} ", "+{}"]))
                raw(ds, keyword, [spelling.format(v) for v in numbers])
            else:
                raw(ds, keyword, _hostile(rng, count))
            if rng.random() < 0.2:
                ds.Rows = int(rng.choice([0, 1, 65535, 4]))
        try:
            volume = volume_from_datasets(datasets)
        except VolumeError as exc:
            assert "\n" not in str(exc)
            refused += 1
            continue
        built += 1
        assert all(math.isfinite(v) and v > 0 for v in volume.spacing)
        assert np.isfinite(volume.axes).all() and np.isfinite(volume.origin).all()
    assert built and refused  # both outcomes were exercised
