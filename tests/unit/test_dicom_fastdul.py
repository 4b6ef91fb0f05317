"""Fast-path encoders/decoders agree with pydicom, and job planning."""

from __future__ import annotations

from io import BytesIO

from pydicom import dcmread
from pydicom.filereader import read_dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from tuipacs.dicom.fastdul import _parse_command, _us, file_preamble, store_response
from tuipacs.dicom.retrieve import _Instance, plan_jobs
from tuipacs.dicom.storage import MAX_CONTEXTS, storage_contexts


def test_store_response_decodes_with_pydicom() -> None:
    raw = store_response(CTImageStorage, "1.2.3.4", 7, 0xA700)
    ds = read_dataset(BytesIO(raw), is_implicit_VR=True, is_little_endian=True)
    assert ds.CommandField == 0x8001 and ds.MessageIDBeingRespondedTo == 7
    assert ds.Status == 0xA700 and ds.AffectedSOPInstanceUID == "1.2.3.4"
    assert ds.CommandGroupLength == len(raw) - 12
    parsed = _parse_command(memoryview(raw))
    assert _us(parsed, 0x0900) == 0xA700


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
    big = [_Instance(f"1.{i}", CTImageStorage, "S1") for i in range(100)]
    jobs = plan_jobs(big, parallel=2, complete={"S1"})
    assert len(jobs) == 2 and sum(j.expected for j in jobs) == 100
    assert not any(j.whole for j in jobs)
    single = plan_jobs(big[:10], parallel=2, complete={"S1"})
    assert len(single) == 1 and single[0].whole
    partial = plan_jobs(big[:10], parallel=1, complete=set())
    assert len(partial) == 1 and not partial[0].whole
