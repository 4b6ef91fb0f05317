"""Write-back of key images (KOS) and measurements (GSPS) built from the demo studies: the
objects pass dciodvfy, carry the measurements' geometry in PIXEL units and the reader's
window, land in the archive through the normal import path in new series, and the key
images are read back from the archive's KOS (hostile references ignored)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from helpers import require_binary
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

from tuipacs import demo
from tuipacs.imaging.voi import Window
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.store.query import list_instances, list_series, list_studies
from tuipacs.view.measure import Measurement
from tuipacs.writeback.build import WriteBackError, graphic_points
from tuipacs.writeback.keyimages import (
    KEY_SERIES_UID,
    kos_keys,
    study_keys,
    with_key_series,
)
from tuipacs.writeback.store import next_series_number, write_back

KOS_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"
GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
FRAME_NUMBER = 0x00081160
LENGTH = Measurement("length", ((10.0, 10.0), (40.0, 12.0)))
ELLIPSE = Measurement("ellipse", ((20.0, 30.0), (59.0, 39.0)))
RECT = Measurement("rect", ((5.0, 5.0), (9.0, 9.0)))
ANGLE = Measurement("angle", ((1.0, 1.0), (20.0, 20.0), (40.0, 1.0)))


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    """The demo studies (4 CT slices) in a fresh archive."""
    files = demo.generate(tmp_path / "demo", ct_slices=4)
    opened = Archive.open(tmp_path / "archive")
    assert import_paths(opened, files).added == len(files)
    yield opened
    opened.close()


def study_of(archive: Archive, modality: str) -> str:
    return next(s.study_uid for s in list_studies(archive) if modality in s.modalities)


def images(archive: Archive, study_uid: str) -> list[tuple[str, int, str]]:
    """(path, frames, series UID) of every instance of the study."""
    found = []
    for series in list_series(archive, study_uid):
        for row in list_instances(archive, series.series_uid):
            found.append((str(row.path), row.frames, series.series_uid))
    return found


def dciodvfy_errors(path: Path) -> tuple[list[str], str]:
    result = subprocess.run(
        [require_binary("dciodvfy"), str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    output = result.stdout + result.stderr
    return [line for line in output.splitlines() if "Error" in line], output


def test_kos_and_gsps_pass_dciodvfy_and_land_in_new_series(archive: Archive) -> None:
    study = study_of(archive, "CT")
    ct = images(archive, study)
    before = next_series_number(archive, study)
    keys = [(ct[0][0], 0), (ct[2][0], 0)]
    measured = {(ct[1][0], 0): (LENGTH, ELLIPSE, RECT, ANGLE)}
    windows = {ct[1][2]: Window(40.0, 400.0, "soft tissue")}
    done = write_back(archive, study, keys, measured, windows)
    assert (done.key_images, done.presentation_states, done.measured_images) == (2, 1, 1)
    assert done.summary() == "saved a KOS of 2 key images and 1 GSPS (1 image measured)"
    classes = []
    for path in done.paths:
        errors, output = dciodvfy_errors(path)
        assert errors == [], output
        ds = pydicom.dcmread(path)
        classes.append(ds.SOPClassUID)
        source = pydicom.dcmread(ct[0][0], stop_before_pixels=True)
        assert ds.StudyInstanceUID == study
        assert ds.PatientID == source.PatientID and ds.PatientName == source.PatientName
        assert int(ds.SeriesNumber) >= before
    assert sorted(classes) == sorted([KOS_CLASS, GSPS_CLASS])
    series = {s.modality: s for s in list_series(archive, study)}
    assert series["KO"].num_instances == 1 and series["PR"].num_instances == 1
    assert int(series["KO"].series_number) == before
    assert int(series["PR"].series_number) == before + 1
    assert next_series_number(archive, study) == before + 2


def test_gsps_holds_the_geometry_text_and_window(archive: Archive) -> None:
    study = study_of(archive, "CT")
    ct = images(archive, study)
    measured = {(ct[0][0], 0): (LENGTH, ELLIPSE)}
    window = Window(55.0, 350.0, "mine")
    done = write_back(archive, study, [], measured, {ct[0][2]: window})
    assert done.key_images == 0 and len(done.paths) == 1
    ds = pydicom.dcmread(done.paths[0])
    annotation = ds.GraphicAnnotationSequence[0]
    assert annotation.ReferencedImageSequence[0].ReferencedSOPInstanceUID == (
        pydicom.dcmread(ct[0][0], stop_before_pixels=True).SOPInstanceUID
    )
    graphics = annotation.GraphicObjectSequence
    assert graphics[0].GraphicType == "POLYLINE" and graphics[0].GraphicAnnotationUnits == "PIXEL"
    assert [float(v) for v in graphics[0].GraphicData] == [10.5, 10.5, 40.5, 12.5]
    # the ellipse's box runs from the outer edge of (20, 30) to that of (59, 39)
    assert graphics[1].GraphicType == "ELLIPSE"
    assert [float(v) for v in graphics[1].GraphicData] == [20, 35, 60, 35, 40, 30, 40, 40]
    texts = [t.UnformattedTextValue for t in annotation.TextObjectSequence]
    assert texts[0].startswith("Length ") and texts[0].endswith(" mm")
    assert texts[1].startswith("Ellipse ")
    voi = ds.SoftcopyVOILUTSequence[0]
    assert (float(voi.WindowCenter), float(voi.WindowWidth)) == (55.0, 350.0)


def test_points_outside_the_image_are_kept_inside() -> None:
    far = Measurement("length", ((-50.0, 3.0), (900.0, 1e6)))
    kind, points = graphic_points(far, 64, 32)
    assert kind == "POLYLINE"
    assert points.tolist() == [[0.0, 3.5], [64.0, 32.0]]


def test_nothing_to_save_is_one_line(archive: Archive) -> None:
    study = study_of(archive, "CT")
    with pytest.raises(WriteBackError, match="nothing to save"):
        write_back(archive, study, [], {}, {})
    other = images(archive, study_of(archive, "MR"))
    with pytest.raises(WriteBackError, match="nothing to save"):  # not this study's images
        write_back(archive, study, [(other[0][0], 0)], {(other[0][0], 0): (LENGTH,)}, {})


def test_key_images_read_back_from_the_archive_with_frames(archive: Archive) -> None:
    study = study_of(archive, "US")
    us = images(archive, study)
    path, frames, _series = us[0]
    assert frames > 3
    keys = [(path, 1), (path, 3)]
    done = write_back(archive, study, keys, {}, {})
    errors, output = dciodvfy_errors(done.paths[0])
    assert errors == [], output
    ref = pydicom.dcmread(done.paths[0]).ContentSequence[-1].ReferencedSOPSequence[0]
    assert [int(v) for v in ref.ReferencedFrameNumber] == [2, 4]
    assert kos_keys(archive, study) == keys
    assert study_keys(archive, study, {}) == keys
    assert study_keys(archive, study, {(path, 3): False, (path, 0): True}) == [
        (path, 0),
        (path, 1),
    ]
    rows = with_key_series(archive, study, list_series(archive, study), {})
    assert rows[-1].series_uid == KEY_SERIES_UID
    assert rows[-1].description == "Key images (2)" and rows[-1].num_instances == 2


def test_a_study_without_key_images_has_no_virtual_series(archive: Archive) -> None:
    study = study_of(archive, "CT")
    rows = list_series(archive, study)
    assert with_key_series(archive, study, rows, {}) == rows


def test_hostile_kos_references_are_ignored(archive: Archive, tmp_path: Path) -> None:
    study = study_of(archive, "US")
    path, frames, _series = images(archive, study)[0]
    done = write_back(archive, study, [(path, 0)], {}, {})
    kos = pydicom.dcmread(done.paths[0])
    kos.SOPInstanceUID = pydicom.uid.generate_uid()
    refs = kos.ContentSequence[-1].ReferencedSOPSequence
    numbers = f"0\\{frames + 5}\\-3 ".encode()  # none of them a frame of the image
    refs[0][FRAME_NUMBER] = RawDataElement(
        Tag(FRAME_NUMBER), "IS", len(numbers), numbers, 0, False, True
    )
    bad = pydicom.Dataset()  # a frame number that is not a number at all
    bad.ReferencedSOPInstanceUID = refs[0].ReferencedSOPInstanceUID
    bad[FRAME_NUMBER] = RawDataElement(Tag(FRAME_NUMBER), "IS", 2, b"x ", 0, False, True)
    broken = pydicom.Dataset()
    broken.ValueType = "IMAGE"
    broken.ReferencedSOPSequence = [bad]
    kos.ContentSequence.append(broken)
    unknown = pydicom.Dataset()
    unknown.ValueType = "IMAGE"
    unknown.ReferencedSOPSequence = [pydicom.Dataset()]
    unknown.ReferencedSOPSequence[0].ReferencedSOPInstanceUID = "1.2.3.4.5.6.7"
    kos.ContentSequence.append(unknown)
    hostile = tmp_path / "hostile.dcm"
    kos.save_as(hostile)
    archive.add_file(hostile)
    assert kos_keys(archive, study) == [(path, 0)]  # the first KOS still counts
    # a KOS cut short on disk marks nothing and breaks nothing
    archived = archive.instance_path(str(kos.SOPInstanceUID))
    assert archived is not None
    archived.chmod(0o600)
    archived.write_bytes(archived.read_bytes()[:200])
    assert kos_keys(archive, study) == [(path, 0)]


def test_measurements_on_a_colour_image_make_a_colour_presentation_state(
    archive: Archive,
) -> None:
    """A grayscale PS cannot reference RGB images: the US cine's measurements go into a
    Color Softcopy Presentation State (with a profile), and the KOS is written as well."""
    study = study_of(archive, "US")
    path, _frames, _series = images(archive, study)[0]
    done = write_back(archive, study, [(path, 0)], {(path, 2): (LENGTH, RECT)}, {})
    assert (done.key_images, done.presentation_states) == (1, 1)
    classes = {}
    for written in done.paths:
        errors, output = dciodvfy_errors(written)
        assert errors == [], output
        ds = pydicom.dcmread(written)
        classes[ds.SOPClassUID] = ds
    colour = classes["1.2.840.10008.5.1.4.1.1.11.2"]
    assert colour.ICCProfile
    annotation = colour.GraphicAnnotationSequence[0]
    assert int(annotation.ReferencedImageSequence[0].ReferencedFrameNumber) == 3
    assert KOS_CLASS in classes
