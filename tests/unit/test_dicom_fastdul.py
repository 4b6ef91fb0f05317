"""Fast-path encoders/decoders agree with pydicom, and job planning."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from tuipacs.dicom import retrieve_plan
from tuipacs.dicom.retrieve_plan import Instance, parse_row, plan_jobs
from tuipacs.dicom.storage import MAX_CONTEXTS, storage_contexts
from tuipacs.dicom.transport.codec import (
    file_preamble,
    header_uids,
    parse_command,
    store_response,
    us,
)
from tuipacs.elements import scan_elements


def test_store_response_decodes_with_pydicom() -> None:
    raw = store_response(CTImageStorage, "1.2.3.4", 7, 0xA700)
    ds = read_dataset(BytesIO(raw), is_implicit_VR=True, is_little_endian=True)
    assert ds.CommandField == 0x8001 and ds.MessageIDBeingRespondedTo == 7
    assert ds.Status == 0xA700 and ds.AffectedSOPInstanceUID == "1.2.3.4"
    assert ds.CommandGroupLength == len(raw) - 12
    parsed = parse_command(memoryview(raw))
    assert us(parsed, 0x0900) == 0xA700


def test_file_preamble_is_valid_part10(tmp_path: object) -> None:
    head = file_preamble(CTImageStorage, "1.2.3.45", ExplicitVRLittleEndian, "ORTHANC")
    ds = dcmread(BytesIO(head + b"\x08\x00\x18\x00UI\x08\x001.2.3.45"))
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.file_meta.MediaStorageSOPInstanceUID == "1.2.3.45"
    assert ds.file_meta.SourceApplicationEntityTitle == "ORTHANC"
    assert ds.SOPInstanceUID == "1.2.3.45"


def test_storage_contexts_respect_the_budget() -> None:
    classes = [f"1.2.840.10008.5.1.4.1.1.{i}" for i in range(1, 200)]
    contexts, roles = storage_contexts(classes)
    assert len(contexts) <= MAX_CONTEXTS - 2
    assert all(c.scp_role for c in contexts)
    few, few_roles = storage_contexts([CTImageStorage])
    assert len(few_roles) == 1 and len(few) > 5  # compressed syntaxes get their own context


def test_plan_jobs_splits_a_big_series_and_keeps_partial_ones_as_uid_lists() -> None:
    big = [Instance(f"1.{i}", CTImageStorage, "S1") for i in range(100)]
    jobs = plan_jobs(big, parallel=2, complete={"S1"})
    assert len(jobs) == 2 and sum(j.expected for j in jobs) == 100
    assert not any(j.whole for j in jobs)
    single = plan_jobs(big[:10], parallel=2, complete={"S1"})
    assert len(single) == 1 and single[0].whole
    partial = plan_jobs(big[:10], parallel=1, complete=set())
    assert len(partial) == 1 and not partial[0].whole


def _encoded(explicit: bool, undefined: bool = True) -> bytes:
    """A dataset with a nested sequence before the Study/Series UIDs, as pydicom writes it."""
    nested = Dataset()
    nested.CodeValue = "X"
    item = Dataset()
    item.ReferencedSOPInstanceUID = "9.8.7"
    item.PurposeOfReferenceCodeSequence = [nested]
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.ReferencedImageSequence = [item, item]
    ds.StudyInstanceUID = "1.2.3"
    ds.SeriesInstanceUID = "1.2.3.4"
    ds.Rows = 2
    for element in (ds["ReferencedImageSequence"], item["PurposeOfReferenceCodeSequence"]):
        element.is_undefined_length = undefined
        for sub in element.value:
            sub.is_undefined_length_sequence_item = undefined
    out = DicomBytesIO()
    out.is_little_endian = True
    out.is_implicit_VR = not explicit
    write_dataset(out, ds)
    return bytes(out.getvalue())


def test_scan_elements_walks_sequences_in_both_vrs() -> None:
    wanted = frozenset({0x00080018, 0x0020000E, 0x00280010})
    for explicit in (True, False):
        for undefined in (True, False):
            raw = _encoded(explicit, undefined)
            values, done = scan_elements(raw, explicit, wanted)
            assert done
            assert values[0x00080018].rstrip(b"\x00") == b"1.2.3.4.5"
            assert values[0x0020000E].rstrip(b"\x00") == b"1.2.3.4"
            assert values[0x00280010] == b"\x02\x00"


def test_header_uids_from_the_first_bytes_only() -> None:
    raw = _encoded(True)
    cut = raw.index(b"1.2.3.4\x00") if b"1.2.3.4\x00" in raw else len(raw) - 10
    assert header_uids(raw, ExplicitVRLittleEndian) == ("1.2.3", "1.2.3.4")
    assert header_uids(_encoded(False), ImplicitVRLittleEndian) == ("1.2.3", "1.2.3.4")
    assert header_uids(raw[:cut], ExplicitVRLittleEndian) is None  # needs more bytes
    values, done = scan_elements(raw[:cut], True, frozenset({0x0020000E}))
    assert not done and not values
    assert header_uids(raw, "1.2.840.10008.1.2.2") is None  # big endian: not ours


def test_parse_row_reads_identifiers_and_falls_back_on_pydicom(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parse_row(_encoded(True), True, None) == Instance("1.2.3.4.5", CTImageStorage, "1.2.3.4")
    assert parse_row(_encoded(False), False, None) == Instance(
        "1.2.3.4.5", CTImageStorage, "1.2.3.4"
    )

    def unwalkable(*_args: object) -> None:
        raise ValueError("not a sequence item")

    monkeypatch.setattr(retrieve_plan, "scan_elements", unwalkable)
    assert parse_row(_encoded(False), False, None) == Instance(
        "1.2.3.4.5", CTImageStorage, "1.2.3.4"
    )
