"""TID 1500 measurement reports read into per-image drawing lists, on a real report made with
highdicom (tests/srkit.py, checked by dciodvfy) and imported into an archive; and hostile
reports (deep nesting, huge item counts, wrong value types, missing references, NaN and
infinite coordinates, a seeded fuzz of the dataset): problem lines, never a raise."""

from __future__ import annotations

import math
import random
import subprocess
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from annotationkit import SIZE
from helpers import require_binary
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from srkit import FINDINGS, Finding, SrKit, make

from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.store.query import list_instances
from tuipacs.view import annotations_sr
from tuipacs.view.annotation_draw import TEXT_LINE, draw_image_annotations, draw_texts
from tuipacs.view.annotations import ALL_FRAMES, ImageAnnotations, StudyAnnotations
from tuipacs.view.annotations_load import load_study
from tuipacs.view.annotations_sr import SR_COLOUR, add_sr, read_report
from tuipacs.view.format import cell_len
from tuipacs.view.measure_draw import source_mapper
from tuipacs.view.viewport import Orientation

REPEAT = 4
"""Grid pixels per source pixel in the drawing test."""
SHOWN_UNITS = {"mm2": "mm²", "[hnsf'U]": "HU", "mm": "mm"}


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> SrKit:
    return make(tmp_path_factory.mktemp("sr"))


@pytest.fixture
def sr(kit: SrKit) -> Dataset:
    """A fresh copy of the report to damage."""
    return pydicom.dcmread(kit.sr_path)


def uid(kit: SrKit, finding: Finding) -> str:
    return str(kit.cts[finding.slice].SOPInstanceUID)


def label_lines(finding: Finding) -> list[str]:
    return [finding.tracking] + [
        f"{name} {value:g} {SHOWN_UNITS[unit]}" for name, value, unit in finding.measurements
    ]


def scoords(ds: Dataset) -> Iterator[Dataset]:
    """Every SCOORD content item of ``ds`` (test side: recursion is fine on our own file)."""
    for item in ds.get("ContentSequence", []):
        if item.get("ValueType") == "SCOORD":
            yield item
        yield from scoords(item)


def scoord(kind: str, data: list[float], ref: str | None = "1.2.3.4") -> Dataset:
    """A SCOORD content item, SELECTED FROM image ``ref`` (None: no image reference)."""
    item = Dataset()
    item.RelationshipType, item.ValueType, item.GraphicType = "CONTAINS", "SCOORD", kind
    item.GraphicData = data
    if ref is not None:
        image, sop = Dataset(), Dataset()
        sop.ReferencedSOPClassUID, sop.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", ref
        image.RelationshipType, image.ValueType = "SELECTED FROM", "IMAGE"
        image.ReferencedSOPSequence = Sequence([sop])
        item.ContentSequence = Sequence([image])
    return item


def container(children: list[Dataset]) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "CONTAINER"
    item.ContentSequence = Sequence(children)
    return item


# -- a real report ---------------------------------------------------------------------------


def test_report_passes_dciodvfy(kit: SrKit) -> None:
    dciodvfy = require_binary("dciodvfy")
    run = subprocess.run([dciodvfy, str(kit.sr_path)], capture_output=True, text=True, check=False)
    errors = [line for line in (run.stdout + run.stderr).splitlines() if "Error" in line]
    assert errors == []
    assert kit.sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"


def test_regions_and_measurements_equal_what_was_put_in(kit: SrKit) -> None:
    report = read_report(pydicom.dcmread(kit.sr_path))
    assert not report.left_out
    assert len(report.regions) == len(report.groups) == len(FINDINGS)
    for region, group, finding in zip(report.regions, report.groups, FINDINGS, strict=True):
        assert region.kind == finding.kind
        assert region.points == finding.points  # float32 in the file: these are exact
        assert region.images == ((uid(kit, finding), ALL_FRAMES),)
        assert report.groups[region.group] is group and group.tracking == finding.tracking
        found = [(m.concept, m.value, m.unit) for m in group.measurements]
        assert found == [(n, pytest.approx(v), u) for n, v, u in finding.measurements]
        assert group.lines() == label_lines(finding)
    # the MULTIPOINT hangs under its measurement (INFERRED FROM), not the group
    calcs = next(r for r, f in zip(report.regions, FINDINGS, strict=True) if f.inferred)
    assert calcs.measurement is not None and calcs.measurement.concept == "Mean"


def test_graphics_and_labels_in_source_coordinates(kit: SrKit) -> None:
    study = StudyAnnotations()
    add_sr(study, pydicom.dcmread(kit.sr_path))
    assert study.reports == 1 and study.problems == []
    lesion, nodule, cyst, calcs, tip = FINDINGS
    found = study.of((uid(kit, lesion), 0))  # a single-frame image: frame 0 and every frame
    assert found is not None and found.measurements == 1
    (outline,) = found.graphics
    # the closed polyline: its repeated last point dropped, centres at whole numbers
    assert outline.closed and outline.colour == SR_COLOUR
    assert outline.points == tuple((x - 0.5, y - 0.5) for x, y in lesion.points[:-1])
    assert [(label.text, label.line) for label in found.labels] == list(
        zip(label_lines(lesion), range(3), strict=True)
    )
    assert {label.at for label in found.labels} == {(23.5 + 2, 9.5)}  # right of the box
    slice2 = study.of((uid(kit, nodule), 0))
    assert slice2 is not None and slice2.measurements == 2
    circle, point = slice2.graphics
    centre, radius = (39.5, 39.5), 8.0
    assert circle.closed and all(
        math.isclose(math.dist(p, centre), radius, abs_tol=1e-9) for p in circle.points
    )
    assert (11.5, 11.5) in point.points and not point.closed  # the POINT's cross
    slice0 = study.of((uid(kit, cyst), 0))
    assert slice0 is not None and len(slice0.graphics) == 3  # the ellipse, two point marks
    ellipse = slice0.graphics[0]
    xs, ys = [p[0] for p in ellipse.points], [p[1] for p in ellipse.points]
    assert (min(xs), max(xs)) == pytest.approx((19.5, 43.5))
    assert (min(ys), max(ys)) == pytest.approx((33.5, 45.5))
    assert [label.text for label in slice0.labels] == label_lines(cyst) + label_lines(calcs)
    assert tip.tracking in [label.text for label in slice2.labels]


def test_a_multiframe_reference_names_its_frames(sr: Dataset) -> None:
    item = next(scoords(sr))
    ref = item.ContentSequence[0].ReferencedSOPSequence[0]
    ref.ReferencedFrameNumber = [2, 3]
    (region, *_rest) = read_report(sr).regions
    target = str(ref.ReferencedSOPInstanceUID)
    assert region.images == ((target, 1), (target, 2))


def test_load_study_reads_the_report_with_the_images(kit: SrKit, tmp_path: Path) -> None:
    archive = Archive.open(tmp_path / "archive")
    try:
        assert import_paths(archive, [*kit.ct_paths, kit.sr_path]).added == 4
        loaded = load_study(archive, str(kit.cts[0].StudyInstanceUID))
    finally:
        archive.close()
    study = loaded.study
    assert study.reports == 1 and study.problems == []
    # the report is an annotation object now, not an image of the study
    assert set(loaded.sop_by_path.values()) == {str(ct.SOPInstanceUID) for ct in kit.cts}
    assert sum(found.measurements for found in study.images.values()) == len(FINDINGS)


def test_outline_and_label_drawn_at_the_grid_pixels(kit: SrKit) -> None:
    study = StudyAnnotations()
    add_sr(study, pydicom.dcmread(kit.sr_path))
    lesion = FINDINGS[0]
    found = study.of((uid(kit, lesion), 0))
    assert found is not None
    to_grid = source_mapper((SIZE, SIZE), 1.0, Orientation(), (0, 0), (REPEAT, REPEAT))
    size = SIZE * REPEAT
    rgb = np.zeros((size, size, 3), dtype=np.uint8)
    draw_image_annotations(rgb, ImageAnnotations(graphics=found.graphics), to_grid, lambda m: m)
    green = np.all(rgb == SR_COLOUR, axis=2)
    # the rectangle (8, 10)-(24, 22) in DICOM coordinates: source centres 7.5..23.5, 9.5..21.5
    top, left = int((9.5 + 0.5) * REPEAT), int((7.5 + 0.5) * REPEAT)
    bottom, right = int((21.5 + 0.5) * REPEAT), int((23.5 + 0.5) * REPEAT)
    rows, cols = np.nonzero(green)
    on_edge = (np.isin(rows, (top, bottom)) & (cols >= left) & (cols <= right)) | (
        np.isin(cols, (left, right)) & (rows >= top) & (rows <= bottom)
    )
    assert on_edge.all() and green[top, left:right].all() and green[top:bottom, right].all()
    # the labels: the same pixels as the texts drawn at their lines next to the box
    labelled = np.zeros_like(rgb)
    draw_image_annotations(labelled, found, to_grid, lambda m: m)
    texts = np.zeros_like(rgb)
    row, col = to_grid(found.labels[0].at)
    draw_texts(texts, [(t, (row + n * TEXT_LINE, col), SR_COLOUR) for n, t in enumerate(
        label_lines(lesion))])  # fmt: skip
    inked = np.any(texts != 0, axis=2)
    assert inked.sum() > 100 and np.array_equal(labelled[inked], texts[inked])
    hidden = np.zeros_like(rgb)
    draw_image_annotations(hidden, found, to_grid, lambda m: m, graphics=False)
    assert not hidden.any()  # A: annotations off


# -- hostile ---------------------------------------------------------------------------------


def test_deep_nesting_is_cut_with_one_line() -> None:
    ds = Dataset()
    inner = scoord("POINT", [5.0, 5.0])
    for _level in range(500):
        inner = container([inner])
    ds.ContentSequence = Sequence([scoord("POINT", [1.0, 1.0]), container([container([inner])])])
    study = StudyAnnotations()
    add_sr(study, ds)
    found = study.of(("1.2.3.4", 0))
    assert found is not None and found.graphics[0].points[2] == (0.5, 0.5)  # the rest is kept
    assert len(found.graphics) == 1
    (problem,) = study.problems
    assert "deeper than 32 levels" in problem


def test_huge_item_counts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(annotations_sr, "MAX_ITEMS", 100)  # a lean stand-in for 50 000
    ds = Dataset()
    regions = [scoord("POINT", [float(i), 1.0], f"1.2.3.{i}") for i in range(300)]
    ds.ContentSequence = Sequence([container(regions[:50]), container(regions[50:])])
    report = read_report(ds)
    assert 50 <= len(report.regions) < 100
    study = StudyAnnotations()
    add_sr(study, ds)
    (problem,) = study.problems
    assert "over 100 content items" in problem


def test_too_many_points_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(annotations_sr, "MAX_POINTS", 10)
    ds = Dataset()
    ds.ContentSequence = Sequence(
        [scoord("POLYLINE", [1.0, 1.0, 5.0, 5.0]), scoord("POLYLINE", [1.0] * 40)]
    )
    study = StudyAnnotations()
    add_sr(study, ds)
    found = study.of(("1.2.3.4", 0))
    assert found is not None and len(found.graphics) == 1  # the first is kept
    (problem,) = study.problems
    assert "over 10 points" in problem


def test_nan_inf_and_malformed_coordinates_are_left_out() -> None:
    ds = Dataset()
    ds.ContentSequence = Sequence(
        [
            scoord("POLYLINE", [1.0, float("nan"), 3.0, 4.0]),
            scoord("POINT", [float("inf"), 1.0]),
            scoord("POLYLINE", [1.0, 2.0, 3.0]),  # an odd count
            scoord("CIRCLE", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),  # three points
            scoord("SPIRAL", [1.0, 2.0, 3.0, 4.0]),
            scoord("POLYLINE", [2.0, 2.0, 9.0, 9.0]),
        ]
    )
    study = StudyAnnotations()
    add_sr(study, ds)
    found = study.of(("1.2.3.4", 0))
    assert found is not None and [g.points for g in found.graphics] == [((1.5, 1.5), (8.5, 8.5))]
    (problem,) = study.problems
    assert "5 malformed region(s)" in problem


def test_missing_references_and_3d_regions_are_counted(sr: Dataset) -> None:
    regions = list(scoords(sr))
    del regions[0].ContentSequence  # no SELECTED FROM
    regions[1].ContentSequence[0].RelationshipType = "CONTAINS"  # not SELECTED FROM
    del regions[2].ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    regions[3].ValueType = "SCOORD3D"
    study = StudyAnnotations()
    add_sr(study, sr)
    drawn = [graphic for found in study.images.values() for graphic in found.graphics]
    assert len(drawn) == 1 and (11.5, 11.5) in drawn[0].points  # the POINT is kept
    assert sorted(study.problems) == [
        "a measurement report has 1 3D region(s) (SCOORD3D): not drawn (open the report's "
        "series to read them)",
        "a measurement report has 3 image region(s) that name no image: left out",
    ]


def test_wrong_value_types_give_lines_not_raises(kit: SrKit, sr: Dataset) -> None:
    regions = list(scoords(sr))
    regions[0].add(DataElement(0x00700022, "FL", ["abc", 1.0], validation_mode=0))
    regions[1].add(DataElement(0x0040A730, "LO", "not a sequence", validation_mode=0))
    nums = [item for group in sr.ContentSequence[-1].ContentSequence
            for item in group.ContentSequence if item.ValueType == "NUM"]  # fmt: skip
    cyst, calcs = nums[3], nums[4]
    measured = cyst.MeasuredValueSequence[0]
    measured.add(DataElement(0x0040A30A, "LO", "\x1b[2Jabc", validation_mode=0))
    calcs.ConceptNameCodeSequence[0].CodeMeaning = "Mean\x1b[31m" + "x" * 50
    study = StudyAnnotations()
    add_sr(study, sr)
    texts = [label.text for found in study.images.values() for label in found.labels]
    assert all(text.isprintable() and cell_len(text) <= 40 for text in texts)
    found = study.of((uid(kit, FINDINGS[2]), 0))
    assert found is not None
    assert [label.text for label in found.labels] == [
        "Cyst",  # its measurement is left out
        "Calcs",
        "Mean\ufffd[31m" + "x" * 30 + "…",  # cleaned, clipped to 40 cells
    ]
    assert sorted(study.problems) == [
        "a measurement report has 1 image region(s) that name no image: left out",
        "a measurement report has 1 malformed region(s) or item(s) (coordinates not finite "
        "numbers, wrong type): left out",
        "a measurement report has 1 measurement(s) whose value is not a number: left out",
    ]


def test_an_unreadable_report_file_is_one_line(kit: SrKit, tmp_path: Path) -> None:
    archive = Archive.open(tmp_path / "archive")
    try:
        import_paths(archive, [*kit.ct_paths, kit.sr_path])
        (row,) = list_instances(archive, str(kit.sr.SeriesInstanceUID))
        row.path.write_bytes(b"\x1b[2J not a DICOM file any more")  # damaged in the archive
        loaded = load_study(archive, str(kit.cts[0].StudyInstanceUID))
    finally:
        archive.close()
    assert all(not found.graphics for found in loaded.study.images.values())
    (problem,) = loaded.study.problems
    assert problem.startswith("a measurement report cannot be read")


# -- fuzz ------------------------------------------------------------------------------------

CASES = 80
HOSTILE: list[Any] = [
    "",
    "\x1b[2J\x07",
    "nan",
    "inf",
    "-1e999",
    "abc\\def",
    "0",
    "-5",
    "99999999999",
    [float("nan")] * 3,
    [1.0] * 1001,
    [],
    "POLYGON",
    "MULTIPOINT",
    "SCOORD",
    "CONTAINER",
    "NUM",
    "SELECTED FROM",
]


Path_ = tuple[tuple[tuple[int, int], ...], int]
"""An element of the report: the (sequence tag, item index) steps to its dataset, its tag."""


def _paths(ds: Dataset, steps: tuple[tuple[int, int], ...] = ()) -> list[Path_]:
    """Every element of ``ds`` and of its sequences' items (test side, recursive)."""
    found: list[Path_] = []
    for element in ds:
        found.append((steps, int(element.tag)))
        if element.VR == "SQ":
            for index, item in enumerate(element.value):
                found.extend(_paths(item, (*steps, (int(element.tag), index))))
    return found


def _parent(ds: Dataset, steps: tuple[tuple[int, int], ...]) -> Dataset | None:
    """The dataset ``steps`` lead to in ``ds`` (None: an earlier change removed it)."""
    for tag, index in steps:
        try:
            ds = ds[tag].value[index]
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
        if not isinstance(ds, Dataset):
            return None
    return ds


def _mutate(ds: Dataset, paths: list[Path_], rng: random.Random) -> None:
    """One hostile change to one element of the report ``ds``."""
    steps, tag = rng.choice(paths)
    parent = _parent(ds, steps)
    if parent is None or tag not in parent:
        return
    element = parent[tag]
    choice = rng.randrange(5)
    if choice == 0:
        del parent[tag]
    elif choice == 1 and element.VR == "SQ" and len(element.value):
        element.value = Sequence(list(element.value) * rng.choice((0, 2, 50)))
    elif choice == 2 and element.VR == "SQ" and len(element.value):  # an item elsewhere too
        other = _parent(ds, rng.choice(paths)[0])
        if other is not None and other is not parent:
            other.add(DataElement(0x0040A730, "SQ", [element.value[0]], validation_mode=0))
    else:
        vr = rng.choice((element.VR, "LO", "FL", "DS", "SQ", "UN"))
        value = rng.choice(HOSTILE)
        if vr == "SQ":
            value = Sequence([Dataset()] * rng.randrange(3))
        try:
            changed = DataElement(tag, vr, value, validation_mode=0)
        except (TypeError, ValueError):  # pydicom converts DS and IS values when made
            changed = DataElement(tag, "LO", str(value), validation_mode=0)
        parent.add(changed)


def test_seeded_fuzz_of_the_report_never_raises(
    kit: SrKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(annotations_sr, "MAX_ITEMS", 2000)  # a cross-linked item loops
    rng = random.Random(1500)
    data = kit.sr_path.read_bytes()
    content = 0x0040A730
    paths = [p for p in _paths(pydicom.dcmread(BytesIO(data))) if p[0] and p[0][0][0] == content]
    drawn = 0
    for _case in range(CASES):
        ds = pydicom.dcmread(BytesIO(data))
        for _change in range(rng.randrange(1, 6)):
            _mutate(ds, paths, rng)
        study = StudyAnnotations()
        add_sr(study, ds)
        for found in study.images.values():
            points = [p for graphic in found.graphics for p in graphic.points]
            assert all(math.isfinite(x) and math.isfinite(y) for x, y in points)
            assert all(
                label.text.isprintable() and cell_len(label.text) <= 40 for label in found.labels
            )
            drawn += len(found.graphics)
        assert all(isinstance(problem, str) and problem.isprintable() for problem in study.problems)
    assert drawn > CASES  # most reports keep most regions


def test_reports_over_the_study_budget_are_one_line(
    kit: SrKit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from tuipacs.view import annotations_load

    size = kit.sr_path.stat().st_size
    monkeypatch.setattr(annotations_load, "MAX_REPORT_BYTES", 2 * size + 1)  # two fit
    copies = []
    for n in range(4):  # four reports of the same measurements, new SOP Instance UIDs
        ds = pydicom.dcmread(kit.sr_path)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"2.25.{9000 + n}"
        path = tmp_path / f"sr{n}.dcm"
        ds.save_as(path, enforce_file_format=True)
        copies.append(path)
    shutil.rmtree(tmp_path / "archive", ignore_errors=True)
    archive = Archive.open(tmp_path / "archive")
    try:
        assert import_paths(archive, [*kit.ct_paths, *copies]).added == 3 + 4
        loaded = load_study(archive, str(kit.cts[0].StudyInstanceUID))
    finally:
        archive.close()
    assert loaded.study.reports == 2
    assert loaded.study.problems == ["measurement reports over 0 MiB in all: left out"] * 2
