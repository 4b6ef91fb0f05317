"""Decoded frames for the viewer, from the demo archive, and the tag tree of a dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tuipacs.app.screens.tags import count_entries, dataset_entries, filter_entries
from tuipacs.imaging.errors import ImagingError
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_instances, list_series, list_studies
from tuipacs.view.frames import FrameStore, ImageRef
from tuipacs.view.render import RenderRequest, render
from tuipacs.view.viewport import Orientation


def first_images(archive: Archive, modality: str) -> list[ImageRef]:
    """The images of the first series of the study with ``modality``."""
    study = [s for s in list_studies(archive) if modality in s.modalities][0]
    series = list_series(archive, study.study_uid)[0]
    rows = list_instances(archive, series.series_uid)
    return [ImageRef(r.path, f) for r in rows for f in range(r.frames)]


def test_ct_frame_in_hounsfield_units(archive: Archive) -> None:
    store = FrameStore(first_images(archive, "CT"))
    frame = store.get(0)
    assert frame.values.shape == (512, 512)
    assert frame.info.unit == "HU" and frame.info.modality == "CT"
    assert frame.values.min() >= -1024 and frame.values.max() > 100
    assert frame.default_window().center == 40
    assert frame.info.orientation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    cached = store.cached(0)
    assert cached is not None and cached.values is frame.values
    assert store.cached(1) is None


@pytest.mark.parametrize(
    ("modality", "rescale_type", "unit"),
    [
        ("CT", "", "HU"),
        ("CT", "HU", "HU"),
        ("DX", "US", ""),
        ("PT", "BQML", "BQML"),
        ("MR", "", ""),
    ],
)
def test_probe_unit_from_rescale_type(modality: str, rescale_type: str, unit: str) -> None:
    from tuipacs.view.info import rescale_unit

    assert rescale_unit(modality, rescale_type) == unit


def test_monochrome1_is_inverted_and_rgb_bypasses_window(archive: Archive) -> None:
    dx = FrameStore(first_images(archive, "DX")).get(0)
    assert dx.invert and not dx.color
    assert dx.info.orientation is None and dx.info.patient_orientation == ("L", "F")
    us_images = first_images(archive, "US")
    assert len(us_images) > 1
    us = FrameStore(us_images).get(1)
    assert us.color and us.values.dtype == np.uint8 and us.values.shape[2] == 3
    rendered = render(us, request())
    assert rendered.window is None and rendered.array.ndim == 3


def request(**changes: object) -> RenderRequest:
    """A render request at fit with no changes."""
    values: dict[str, object] = {
        "seq": 1,
        "index": 0,
        "window": None,
        "invert": False,
        "orientation": Orientation(),
        "zoom": 1.0,
        "pan": (0.0, 0.0),
        "view_px": (940.0, 1600.0),
    }
    values.update(changes)
    return RenderRequest(**values)  # type: ignore[arg-type]


def test_render_windows_like_the_formula(archive: Archive) -> None:
    frame = FrameStore(first_images(archive, "CT")).get(0)
    out = render(frame, request()).array
    values = frame.values.astype(np.float64)
    expected = np.clip(((values - 39.5) / 399 + 0.5) * 255, 0, 255)
    assert np.abs(out.astype(np.float64) - expected).max() <= 1.0


def test_big_images_are_reduced_for_display(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuipacs.view import frames

    monkeypatch.setattr(frames, "MAX_DISPLAY", 512)
    frame = FrameStore(first_images(archive, "DX")).get(0)
    assert max(frame.values.shape) == 512
    assert frame.scale == pytest.approx(0.25)


@pytest.mark.filterwarnings("ignore:VR lookup failed")
def test_missing_and_broken_files_raise_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "x.dcm"
    broken.write_bytes(b"not dicom at all")
    store = FrameStore([ImageRef(tmp_path / "gone.dcm"), ImageRef(broken)])
    for index in (0, 1):
        with pytest.raises(ImagingError) as info:
            store.get(index)
        assert "\n" not in str(info.value)
    with pytest.raises(ImagingError, match="out of range"):
        store.get(5)


def test_cache_drops_least_recently_used(archive: Archive) -> None:
    store = FrameStore(first_images(archive, "CT"), max_bytes=3 * 512 * 512 * 2)
    for index in range(5):
        store.get(index)
    assert store.cached(0) is None and store.cached(4) is not None


def tag_dataset() -> Dataset:
    ds = Dataset()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "ID1"
    ds.Modality = "CT"
    item = Dataset()
    item.CodeValue = "T-D1100"
    item.CodeMeaning = "Head"
    ds.AnatomicRegionSequence = Sequence([item])
    return ds


def test_tag_entries_nest_sequences_and_filter() -> None:
    entries = dataset_entries(tag_dataset())
    assert count_entries(entries) == 6
    seq = [e for e in entries if e.keyword == "AnatomicRegionSequence"][0]
    assert seq.value == "1 item(s)"
    assert seq.children[0].value == "Item 1"
    assert [c.keyword for c in seq.children[0].children] == ["CodeValue", "CodeMeaning"]
    found = filter_entries(entries, "head")
    assert [e.keyword for e in found] == ["AnatomicRegionSequence"]
    assert found[0].children[0].children[0].keyword == "CodeMeaning"
    assert [e.keyword for e in filter_entries(entries, "0010,0020")] == ["PatientID"]
    assert "(0010,0010)" in filter_entries(entries, "patientname")[0].label().plain


def test_tag_entries_mask_identity() -> None:
    entries = dataset_entries(tag_dataset(), mask=True)
    values = {e.keyword: e.value for e in entries}
    assert values["PatientName"] == "***" and values["PatientID"] == "***"
    assert values["Modality"] == "CT"


def test_file_voi_lut_applies_until_a_window_is_chosen() -> None:
    from tuipacs.imaging.luts import LookupTable
    from tuipacs.imaging.voi import VoiFunction, Window
    from tuipacs.view.frames import Frame
    from tuipacs.view.info import FrameInfo

    lut = LookupTable(first_mapped=0, bits=8, table=np.arange(255, -1, -1, dtype=np.uint16))
    values = np.array([[0, 128, 255]], dtype=np.int16)
    frame = Frame(values, False, False, 1.0, [], VoiFunction.LINEAR, FrameInfo(), voi_lut=lut)
    through_lut = render(frame, request())
    assert through_lut.window is None
    assert through_lut.array.tolist() == [[255, 127, 0]]
    windowed = render(frame, request(window=Window(128, 256)))
    assert windowed.window == Window(128, 256)
    assert windowed.array[0, 0] < windowed.array[0, 2]
