"""A file cut short says so on import, whatever element the cut falls in (it was refused for
"not a valid UID ('1.2.826.')" or "missing study, series or SOP instance UID")."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from tuipacs.store.instance import BadDicomError
from tuipacs.store.records import read_record


def _source() -> bytes:
    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    return Path(path).read_bytes()


def _in_sop_uid(data: bytes, which: int) -> int:
    """An offset inside the SOP Instance UID: 0 in the file meta, 1 in the dataset."""
    uid = b"1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
    first = data.index(uid)
    return (first if which == 0 else data.index(uid, first + 1)) + 10


def _offsets(data: bytes) -> list[int]:
    """Where the UIDs' values are, and seeded cuts anywhere in the header."""
    rng = random.Random(20261204)
    inside = [_in_sop_uid(data, 0), _in_sop_uid(data, 1)]
    return inside + sorted(rng.sample(range(140, 2400), 60))


@pytest.mark.parametrize("offset", _offsets(_source()))
def test_a_cut_file_is_called_truncated(tmp_path: Path, offset: int) -> None:
    data = _source()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[:offset])
    with pytest.raises(BadDicomError) as caught:
        read_record(path)
    message = str(caught.value)
    # a cut on an element boundary leaves a valid, shorter file: then the missing UID is named
    assert "truncated" in message or message.endswith("missing study, series or SOP instance UID")
    assert "not a valid UID" not in message


def test_a_cut_inside_a_value_names_the_element(tmp_path: Path) -> None:
    data = _source()
    offset = _in_sop_uid(data, 1)
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[:offset])
    with pytest.raises(BadDicomError, match=r"truncated \(the file ends inside SOPInstanceUID\)"):
        read_record(path)


def test_the_whole_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "whole.dcm"
    path.write_bytes(_source())
    assert read_record(path).sop_uid.startswith("1.3.6.1.4.1.5962")
