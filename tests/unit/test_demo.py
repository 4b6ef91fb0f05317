"""The synthetic demo data set: determinism, structure, plausibility and conformance."""

from __future__ import annotations

import io
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pydicom
import pytest
from helpers import require_binary
from pydicom.dataset import Dataset
from pydicom.filewriter import dcmwrite
from pydicom.pixels import apply_rescale
from pydicom.uid import (
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
    UltrasoundMultiFrameImageStorage,
)

from tuipacs import demo
from tuipacs.demo import iods as demo_iods
from tuipacs.demo.ct import CtPhantom
from tuipacs.demo.iods import PRIOR_NODULE_MM, PRIOR_NOISE_SEED
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.view.priors import rank
from tuipacs.view.priors_find import find_local

CT_SLICES = 5
PRIOR_SLICES = 3  # about two thirds of CT_SLICES
CURRENT_DATE, PRIOR_DATE = "20240315", "20230315"
UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo set (5 CT slices) with the prior CT, generated once for the module."""
    out = tmp_path_factory.mktemp("demo")
    demo.generate(out, ct_slices=CT_SLICES, prior=True)
    return out


@pytest.fixture(scope="module")
def headers(demo_dir: Path) -> dict[Path, Dataset]:
    """Every file's header (no pixel data), by path."""
    paths = sorted(demo_dir.rglob("*.dcm"))
    return {path: pydicom.dcmread(path, stop_before_pixels=True) for path in paths}


def _by_modality(
    headers: dict[Path, Dataset], modality: str, date: str = ""
) -> list[tuple[Path, Dataset]]:
    """The files of a modality (of one study date if given), in series and instance order."""
    items = [
        (p, d)
        for p, d in headers.items()
        if d.Modality == modality and (not date or d.StudyDate == date)
    ]
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
    assert len(files) == demo.file_count(CT_SLICES, prior=True)
    assert demo.file_count(CT_SLICES, prior=True) == CT_SLICES + PRIOR_SLICES + 2 * 24 + 2
    assert demo.file_count(CT_SLICES) == CT_SLICES + 2 * 24 + 2
    assert demo.file_count() == 300 + 50
    assert demo.file_count(prior=True) == 300 + 200 + 50


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
    assert total == 1 + 50, "no prior unless asked for"
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
    assert len(studies) == 5
    assert sorted(len(series) for series in studies.values()) == [1, 1, 1, 1, 2]
    assert sorted(modalities.values()) == ["CT", "CT", "DX", "MR", "MR", "US"]
    patients = {d.PatientID for d in headers.values()}
    assert len(patients) == 3
    ct_patient = {d.PatientID for d in headers.values() if d.Modality in {"CT", "DX"}}
    assert len(ct_patient) == 1, "both CTs and the chest film belong to the same patient"


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
    ct = [d for _p, d in _by_modality(headers, "CT", CURRENT_DATE)]
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
    ct = _by_modality(headers, "CT", CURRENT_DATE)
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


def test_prior_ct_is_the_same_patient_a_year_earlier(headers: dict[Path, Dataset]) -> None:
    now = [d for _p, d in _by_modality(headers, "CT", CURRENT_DATE)]
    before = [d for _p, d in _by_modality(headers, "CT", PRIOR_DATE)]
    assert len(now) == CT_SLICES and len(before) == PRIOR_SLICES
    first, prior = now[0], before[0]
    for keyword in ("PatientID", "IssuerOfPatientID", "PatientName", "PatientBirthDate"):
        assert prior.get(keyword) == first.get(keyword), keyword
    assert prior.StudyDescription == first.StudyDescription
    assert prior.SeriesDescription == first.SeriesDescription
    assert prior.BodyPartExamined == first.BodyPartExamined == "CHEST"
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert {d[keyword].value for d in before} == {prior[keyword].value}, keyword
        assert prior[keyword].value != first[keyword].value, keyword
    assert not {d.SOPInstanceUID for d in before} & {d.SOPInstanceUID for d in now}
    assert prior.AccessionNumber != first.AccessionNumber
    # its own slice spacing and z start: synchronising by position is not by image number
    z_now = [float(d.ImagePositionPatient[2]) for d in now]
    z_before = [float(d.ImagePositionPatient[2]) for d in before]
    assert np.allclose(np.diff(z_before), -float(prior.SliceThickness))
    assert float(prior.SliceThickness) == pytest.approx(float(first.SliceThickness) * 5 / 3)
    assert z_before[0] != z_now[0] and z_before[-1] != z_now[-1]
    assert [float(d.SliceLocation) for d in before] == z_before
    assert [int(d.InstanceNumber) for d in before] == list(range(1, PRIOR_SLICES + 1))


def test_prior_ct_is_deterministic() -> None:
    def written() -> list[tuple[str, bytes]]:
        files = []
        for relative, dataset in demo_iods.ct_prior_instances(3):
            buffer = io.BytesIO()
            dcmwrite(buffer, dataset, enforce_file_format=True)
            files.append((str(relative), buffer.getvalue()))
        return files

    first = written()
    assert len(first) == 2 and first == written()


def test_prior_phantom_has_a_smaller_nodule_and_other_noise() -> None:
    now = CtPhantom()
    before = CtPhantom(nodule_mm=PRIOR_NODULE_MM, noise_seed=PRIOR_NOISE_SEED)
    cut = now.grid.region(-120, -40, -40, 20)  # around the right upper lobe nodule
    assert cut is not None
    nodule_now = np.count_nonzero(now.slice_hu(-84.0)[cut] > -200)
    nodule_before = np.count_nonzero(before.slice_hu(-84.0)[cut] > -200)
    assert 0 < nodule_before < nodule_now
    assert not np.array_equal(now.stored_slice(-84.0, 0), before.stored_slice(-84.0, 0))


def test_prior_is_the_nearest_comparable_prior(demo_dir: Path, tmp_path: Path) -> None:
    files = [p for p in demo_dir.rglob("*.dcm") if p.name.startswith(("CT", "DX"))]
    archive = Archive.open(tmp_path / "archive")
    try:
        import_paths(archive, files)
        ct = _study_uids(archive)
        found = find_local(archive, ct[CURRENT_DATE])
    finally:
        archive.close()
    assert found is not None and found.patient_id == "TP-100231"
    ranked = rank(found.current, found.others)
    # the chest film is a day old, the prior CT a year: the comparable one comes first
    assert [p.candidate.study_date for p in ranked] == [PRIOR_DATE, "20240314"]
    best = ranked[0]
    assert best.candidate.study_uid == ct[PRIOR_DATE]
    assert best.tier == 0 and best.candidate.images == PRIOR_SLICES
    assert best.reason.startswith("CT ") and best.reason.endswith(", 1 y earlier")


def _study_uids(archive: Archive) -> dict[str, str]:
    """Study Instance UID by study date of the archive's CT studies."""
    rows = archive.execute("SELECT study_date, study_uid FROM study WHERE modalities = 'CT'")
    return {str(date): str(study_uid) for date, study_uid in rows}


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
    assert sorted(checked) == ["CT", "CT", "DX", "MR", "MR", "US"]
