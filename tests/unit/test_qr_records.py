"""tuipacs.server.records.fast_record gives read_record's result, or falls back on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from tuipacs.server.records import _record, _Unsure, fast_record
from tuipacs.store.records import BadDicomError, NotDicomError, read_record


def _files() -> list[Path]:
    """pydicom's test files and pydicom-data's, found locally (no download attempts)."""
    import pydicom
    from pydicom.data.data_manager import external_data_sources

    folders = [Path(pydicom.__file__).parent / "data" / "test_files"]
    folders += [Path(s.data_path) for s in external_data_sources().values()]
    return sorted(p for folder in folders for p in folder.rglob("*.dcm"))


def test_same_record_as_pydicom() -> None:
    fast = readable = 0
    for path in _files():
        try:
            expected = read_record(path)
        except (NotDicomError, BadDicomError):
            with pytest.raises((NotDicomError, BadDicomError)):
                fast_record(path)
            continue
        assert fast_record(path) == expected, path.name
        readable += 1
        try:
            _record(path)
            fast += 1
        except _Unsure:
            pass
    assert readable > 100
    assert fast > 0.7 * readable  # most files take the fast path


def test_latin1_names_take_the_fast_path(tmp_path: Path) -> None:
    source = get_testdata_file("CT_small.dcm")
    assert source is not None
    from pydicom import dcmread

    ds = dcmread(source)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Müller^Jürgen"
    ds.ReferringPhysicianName = "Schröder^Anna"
    path = tmp_path / "latin1.dcm"
    ds.save_as(path)
    record = _record(path)
    assert record == read_record(path)
    assert record.patient_name == "Müller^Jürgen"


def test_truncated_file_is_an_error(tmp_path: Path) -> None:
    source = get_testdata_file("CT_small.dcm")
    assert source is not None
    data = Path(source).read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadDicomError):
        fast_record(path)
    path.write_bytes(b"not dicom at all" * 20)
    with pytest.raises(NotDicomError):
        fast_record(path)
