"""The synthetic demo data set: determinism, structure, plausibility and conformance."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pydicom
import pytest
from helpers import require_binary
from pydicom.dataset import Dataset
from pydicom.pixels import apply_rescale
from pydicom.uid import (
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
    UltrasoundMultiFrameImageStorage,
)

from tuipacs import demo

CT_SLICES = 5
UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo set (5 CT slices), generated once for the module."""
    out = tmp_path_factory.mktemp("demo")
    demo.generate(out, ct_slices=CT_SLICES)
    return out


@pytest.fixture(scope="module")
def headers(demo_dir: Path) -> dict[Path, Dataset]:
    """Every file's header (no pixel data), by path."""
    paths = sorted(demo_dir.rglob("*.dcm"))
    return {path: pydicom.dcmread(path, stop_before_pixels=True) for path in paths}


def _by_modality(headers: dict[Path, Dataset], modality: str) -> list[tuple[Path, Dataset]]:
    items = [(p, d) for p, d in headers.items() if d.Modality == modality]
    return sorted(items, key=lambda item: (int(item[1].SeriesNumber), int(item[1].InstanceNumber)))


def _first_of_each_series(headers: dict[Path, Dataset]) -> list[Path]:
    firsts: dict[str, tuple[int, Path]] = {}
    for path, dataset in headers.items():
        number = int(dataset.InstanceNumber)
        current = firsts.get(dataset.SeriesInstanceUID)
        if current is None or number < current[0]:
            firsts[dataset.SeriesInstanceUID] = (number, path)
    return sorted(path for _number, path in firsts.values())


def test_file_count_matches_files_written(demo_dir: Path) -> None:
    files = sorted(demo_dir.rglob("*.dcm"))
    assert len(files) == demo.file_count(CT_SLICES) == CT_SLICES + 2 * 24 + 2
    assert demo.file_count() == 300 + 50


def test_same_input_gives_identical_bytes(tmp_path: Path) -> None:
    first = demo.generate(tmp_path / "a", ct_slices=2)
    second = demo.generate(tmp_path / "b", ct_slices=2)
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second
    ]
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes(), one.name


def test_returns_the_files_and_reports_progress(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    paths = demo.generate(tmp_path, ct_slices=1, progress=lambda d, t: calls.append((d, t)))
    total = demo.file_count(1)
    assert calls == [(done, total) for done in range(total + 1)]
    assert len(paths) == total
    assert sorted(paths) == sorted(tmp_path.rglob("*.dcm"))
    assert all(p.is_file() and p.stat().st_size > 1000 for p in paths)


@pytest.mark.parametrize("bad", [0, -3, demo.MAX_CT_SLICES + 1, 2.5, True, "10"])
def test_bad_slice_count_is_a_demo_error(tmp_path: Path, bad: object) -> None:
    with pytest.raises(demo.DemoError, match="ct_slices"):
        demo.generate(tmp_path, ct_slices=bad)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_unwritable_folder_is_a_demo_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(demo.DemoError, match="writable folder"):
        demo.generate(blocker / "demo", ct_slices=1)


def test_studies_series_and_modalities(headers: dict[Path, Dataset]) -> None:
    studies: dict[str, set[str]] = defaultdict(set)
    modalities: dict[str, str] = {}
    for dataset in headers.values():
        studies[dataset.StudyInstanceUID].add(dataset.SeriesInstanceUID)
        modalities[dataset.SeriesInstanceUID] = dataset.Modality
    assert len(studies) == 4
    assert sorted(len(series) for series in studies.values()) == [1, 1, 1, 2]
    assert sorted(modalities.values()) == ["CT", "DX", "MR", "MR", "US"]
    patients = {d.PatientID for d in headers.values()}
    assert len(patients) == 3
    ct_patient = {d.PatientID for d in headers.values() if d.Modality in {"CT", "DX"}}
    assert len(ct_patient) == 1, "the CT and the chest film belong to the same patient"


def test_sop_classes_and_file_meta(demo_dir: Path, headers: dict[Path, Dataset]) -> None:
    expected = {
        "CT": CTImageStorage,
        "MR": MRImageStorage,
        "DX": DigitalXRayImageStorageForPresentation,
        "US": UltrasoundMultiFrameImageStorage,
    }
    for path, dataset in headers.items():
        assert dataset.SOPClassUID == expected[dataset.Modality]
        meta = dataset.file_meta
        assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert meta.MediaStorageSOPClassUID == dataset.SOPClassUID
        assert meta.MediaStorageSOPInstanceUID == dataset.SOPInstanceUID
        assert path.read_bytes()[128:132] == b"DICM"


def test_uids_are_valid_and_unique(headers: dict[Path, Dataset]) -> None:
    instances = [d.SOPInstanceUID for d in headers.values()]
    assert len(set(instances)) == len(instances)
    for dataset in headers.values():
        for keyword in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"):
            value = str(dataset[keyword].value)
            assert len(value) <= 64 and UID_RE.match(value), value


def test_ct_series_geometry_and_windows(headers: dict[Path, Dataset]) -> None:
    ct = [d for _p, d in _by_modality(headers, "CT")]
    assert [int(d.InstanceNumber) for d in ct] == list(range(1, CT_SLICES + 1))
    z = [float(d.ImagePositionPatient[2]) for d in ct]
    steps = np.diff(z)
    assert np.allclose(steps, -float(ct[0].SliceThickness))
    assert [float(d.SliceLocation) for d in ct] == z
    first = ct[0]
    assert (first.Rows, first.Columns) == (512, 512)
    assert [float(v) for v in first.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert float(first.RescaleIntercept) == -1024 and float(first.RescaleSlope) == 1
    assert len(first.WindowCenter) == len(first.WindowWidth) == 2
    assert list(first.WindowCenterWidthExplanation) == ["SOFT TISSUE", "LUNG"]
    assert len({d.FrameOfReferenceUID for d in ct}) == 1


def test_ct_hounsfield_units_are_plausible(headers: dict[Path, Dataset]) -> None:
    ct = _by_modality(headers, "CT")
    volume = []
    for path, _header in ct:
        dataset = pydicom.dcmread(path)
        volume.append(apply_rescale(dataset.pixel_array, dataset))
    hu = np.stack(volume)
    assert abs(float(np.median(hu[:, :40, :40])) + 1000) < 15, "air outside the body"
    chest = hu[1]  # second of five slices: mid chest
    assert np.count_nonzero(chest < -700) > 20_000, "lungs"
    assert 20 < float(np.median(chest[230:280, 230:280])) < 300, "mediastinum"
    assert all(np.count_nonzero(s > 300) > 300 for s in hu), "bone on every slice"
    assert float(hu.max()) > 1000 and float(hu.min()) >= -1100


def test_mr_series_share_geometry_and_differ_in_contrast(headers: dict[Path, Dataset]) -> None:
    mr = _by_modality(headers, "MR")
    series = defaultdict(list)
    for path, dataset in mr:
        series[dataset.SeriesDescription].append((path, dataset))
    assert sorted(series) == ["T1 SE axial", "T2 TSE axial"]
    t1, t2 = series["T1 SE axial"], series["T2 TSE axial"]
    assert len(t1) == len(t2) == 24
    assert [d.ImagePositionPatient for _p, d in t1] == [d.ImagePositionPatient for _p, d in t2]
    assert t1[0][1].FrameOfReferenceUID == t2[0][1].FrameOfReferenceUID
    assert float(t1[0][1].RepetitionTime) < float(t2[0][1].RepetitionTime)
    ventricle = (slice(14, 15), slice(118, 128), slice(133, 143))  # left lateral ventricle
    t1_csf = pydicom.dcmread(t1[14][0]).pixel_array[ventricle[1:]].mean()
    t2_csf = pydicom.dcmread(t2[14][0]).pixel_array[ventricle[1:]].mean()
    assert t2_csf > 3 * t1_csf, "fluid is bright on T2 and dark on T1"


def test_dx_is_monochrome1_with_inverse_lut(headers: dict[Path, Dataset]) -> None:
    [(path, header)] = _by_modality(headers, "DX")
    assert header.PhotometricInterpretation == "MONOCHROME1"
    assert header.PresentationLUTShape == "INVERSE"
    assert header.PresentationIntentType == "FOR PRESENTATION"
    assert [float(v) for v in header.ImagerPixelSpacing] == [0.2, 0.2]
    pixels = pydicom.dcmread(path).pixel_array
    assert pixels.shape == (2048, 2048)
    lung = float(pixels[900:1100, 500:700].mean())  # right lung field
    spine = float(pixels[900:1100, 1010:1040].mean())
    assert lung > spine + 500, "air is stored high (displays dark), bone low (displays white)"


def test_us_is_rgb_multiframe_cine(headers: dict[Path, Dataset]) -> None:
    [(path, header)] = _by_modality(headers, "US")
    assert header.PhotometricInterpretation == "RGB"
    assert header.SamplesPerPixel == 3 and header.PlanarConfiguration == 0
    assert int(header.NumberOfFrames) == 30
    assert float(header.FrameTime) == 40 and int(header.CineRate) == 25
    frames = pydicom.dcmread(path).pixel_array
    assert frames.shape == (30, 480, 640, 3) and frames.dtype == np.uint8
    colour = np.abs(frames[..., 0].astype(int) - frames[..., 2].astype(int)) > 60
    assert np.count_nonzero(colour) > 1000, "colour Doppler and annotations"
    assert not np.array_equal(frames[0], frames[15]), "the heart moves"


EXPECTED_NAMES = {
    "CT": ("ISO_IR 100", "Müller^Jürgen"),
    "DX": ("ISO_IR 100", "Müller^Jürgen"),
    "MR": ("ISO_IR 192", "Yamada^Tarou=山田^太郎=やまだ^たろう"),
    "US": ("ISO_IR 192", "Núñez García^Zoë"),
}


@pytest.mark.parametrize("modality", sorted(EXPECTED_NAMES))
def test_non_ascii_names_round_trip(headers: dict[Path, Dataset], modality: str) -> None:
    charset, name = EXPECTED_NAMES[modality]
    path, dataset = _by_modality(headers, modality)[0]
    assert dataset.SpecificCharacterSet == charset
    assert str(dataset.PatientName) == name
    encoding = "latin-1" if charset == "ISO_IR 100" else "utf-8"
    assert name.encode(encoding) in path.read_bytes()


def test_mr_name_has_three_component_groups(headers: dict[Path, Dataset]) -> None:
    _path, dataset = _by_modality(headers, "MR")[0]
    name = dataset.PatientName
    assert (name.family_name, name.given_name) == ("Yamada", "Tarou")
    assert name.ideographic == "山田^太郎" and name.phonetic == "やまだ^たろう"


def test_dcmdump_reads_every_file(demo_dir: Path) -> None:
    dcmdump = require_binary("dcmdump")
    files = [str(p) for p in sorted(demo_dir.rglob("*.dcm"))]
    result = subprocess.run(
        [dcmdump, "-q", *files],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "E:" not in result.stderr and "W:" not in result.stderr


IODS = {"CT": "CTImage", "MR": "MRImage", "DX": "DXImageForPresentation", "US": "USMultiFrame"}


def test_dciodvfy_finds_no_errors(headers: dict[Path, Dataset]) -> None:
    dciodvfy = require_binary("dciodvfy")
    checked = []
    for path in _first_of_each_series(headers):
        result = subprocess.run(
            [dciodvfy, str(path)], capture_output=True, text=True, errors="replace", check=False
        )
        output = result.stdout + result.stderr
        errors = [line for line in output.splitlines() if "Error" in line]
        assert errors == [], f"{path.name}: {errors}"
        assert IODS[headers[path].Modality] in output, output
        checked.append(headers[path].Modality)
    assert sorted(checked) == ["CT", "DX", "MR", "MR", "US"]
