"""`tuipacs export --anonymize`: no patient data left (by DCMTK's dcmdump), UIDs remapped
consistently, dates shifted by one constant (or removed), still renders, re-imports as a
separate patient; burned-in annotation refused."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from exportkit import DATES, FRAME_OF_REFERENCE, PHI, PRIVATE_VALUE, ROOT, STUDY, Study
from helpers import require_binary
from PIL import Image

from tuipacs.cli import main


def _export(*args: str) -> int:
    return main(["export", "--study", STUDY, "--anonymize", *args])


def _files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file())


def _day(text: str) -> datetime.date:
    return datetime.datetime.strptime(text[:8], "%Y%m%d").date()


def test_anonymized_export_leaves_no_phi_by_dcmdump(
    study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dcmdump = require_binary("dcmdump")
    out = tmp_path / "anon"
    assert _export("-o", str(out), "--json") == 0
    captured = capsys.readouterr()
    files = _files(out)
    assert len(files) == 6 and json.loads(captured.out)["count"] == 6
    secrets = [
        *PHI.values(),
        "SECRETNAME",
        "ALICE",
        "DRWHO",
        PRIVATE_VALUE,
        "ACME",
        "SECRETSTATION",
        ROOT,
    ]
    for path in files:
        dump = subprocess.run([dcmdump, "+L", str(path)], capture_output=True, text=True)
        assert dump.returncode == 0, dump.stderr
        for secret in secrets:
            assert secret not in dump.stdout, (secret, path)
        assert "PatientIdentityRemoved" in dump.stdout and "[YES]" in dump.stdout
    for secret in secrets:  # nor in what the command printed
        assert secret not in captured.out + captured.err


def test_uids_remapped_consistently_and_references_follow(study: Study, tmp_path: Path) -> None:
    out = tmp_path / "anon"
    assert _export("-o", str(out)) == 0
    datasets = [pydicom.dcmread(p) for p in _files(out)]
    assert len({ds.StudyInstanceUID for ds in datasets}) == 1
    assert datasets[0].StudyInstanceUID != STUDY
    assert len({ds.FrameOfReferenceUID for ds in datasets}) == 1
    assert datasets[0].FrameOfReferenceUID != FRAME_OF_REFERENCE
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 2
    new_sops = {ds.SOPInstanceUID for ds in datasets}
    assert len(new_sops) == 6 and not new_sops & set(study.sop_uids)
    for ds in datasets:
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.SOPClassUID in ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.88.11")
        if ds.InstanceNumber > 1:  # refers to image 1 of its series, by its new UID
            first = next(
                d
                for d in datasets
                if d.SeriesInstanceUID == ds.SeriesInstanceUID and d.InstanceNumber == 1
            )
            ref = ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID
            assert ref == first.SOPInstanceUID
    # a second export maps the same study to other UIDs (a new secret each time)
    again = tmp_path / "again"
    assert _export("-o", str(again)) == 0
    assert pydicom.dcmread(_files(again)[0]).StudyInstanceUID != datasets[0].StudyInstanceUID


def test_dates_shift_by_one_constant_per_patient(study: Study, tmp_path: Path) -> None:
    out = tmp_path / "anon"
    assert _export("-o", str(out)) == 0
    shifts = set()
    for path in _files(out):
        ds = pydicom.dcmread(path)
        for keyword, original in DATES.items():
            shifts.add((_day(original) - _day(ds.data_element(keyword).value)).days)
        shifts.add((_day("20240115") - _day(ds.AcquisitionDateTime)).days)
        assert str(ds.AcquisitionDateTime)[8:] == "101112.5"  # the time of day is kept
        assert (
            ds.PatientBirthDate == "" and ds.LongitudinalTemporalInformationModified == "MODIFIED"
        )
    assert len(shifts) == 1 and 62 <= shifts.pop() <= 730


def test_dates_remove_and_keep(study: Study, tmp_path: Path) -> None:
    removed, kept = tmp_path / "removed", tmp_path / "kept"
    assert _export("-o", str(removed), "--dates", "remove") == 0
    assert _export("-o", str(kept), "--dates", "keep") == 0
    for path in _files(removed):
        ds = pydicom.dcmread(path)
        assert ds.StudyDate == "" and ds.StudyTime == "" and ds.ContentDate == ""
        assert "SeriesDate" not in ds  # X/D in the table: removed
        assert ds.AcquisitionDateTime == ""  # X/Z/D: emptied
        assert ds.LongitudinalTemporalInformationModified == "REMOVED"
    for path in _files(kept):
        ds = pydicom.dcmread(path)
        assert ds.StudyDate == DATES["StudyDate"] and ds.PatientBirthDate == ""


def test_anonymized_files_render_as_the_originals(study: Study, tmp_path: Path) -> None:
    out = tmp_path / "anon"
    assert _export("-o", str(out), "--series", study.series_uids[0]) == 0
    by_number = {int(pydicom.dcmread(p).InstanceNumber): p for p in _files(out)}
    for number, sop in enumerate(study.sop_uids[:3], start=1):
        for frame in (1, 2) if number == 3 else (1,):
            ours, theirs = tmp_path / "a.png", tmp_path / "b.png"
            original = study.folder / f"{sop}.dcm"
            assert main(["render", str(original), "-o", str(theirs), "--frame", str(frame)]) == 0
            assert (
                main(["render", str(by_number[number]), "-o", str(ours), "--frame", str(frame)])
                == 0
            )
            assert np.array_equal(np.asarray(Image.open(ours)), np.asarray(Image.open(theirs)))


def test_reimport_is_a_separate_patient(
    study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "anon"
    assert _export("-o", str(out), "--patient-id", "CASE-7", "--patient-name", "CASE^SEVEN") == 0
    assert main(["import", str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["ls", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2
    new = next(r for r in rows if r["study_uid"] != STUDY)
    assert new["patient_id"] == "CASE-7" and new["patient_name"] == "CASE^SEVEN"
    assert new["num_instances"] == 6 and new["birth_date"] == ""
    old = next(r for r in rows if r["study_uid"] == STUDY)
    assert old["patient_id"] == PHI["PatientID"] and old["num_instances"] == 6


def test_generated_identity_is_consistent_within_an_export(study: Study, tmp_path: Path) -> None:
    out = tmp_path / "anon"
    assert _export("-o", str(out), "--format", "zip") == 0
    import zipfile

    with zipfile.ZipFile(out / "export.zip") as zf:
        names = zf.namelist()
        datasets = [pydicom.dcmread(zf.open(name)) for name in names]
    assert len({(str(ds.PatientName), ds.PatientID) for ds in datasets}) == 1
    assert datasets[0].PatientID.startswith("ANON") and not any(
        name.startswith(STUDY) for name in names
    )


def test_burned_in_refused_by_default(
    tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from exportkit import make_instance

    folder = tmp_path / "us"
    folder.mkdir()
    ds = make_instance(1, 1)
    ds.Modality = "US"
    del ds.BurnedInAnnotation  # ultrasound that does not say: assume burned in
    ds.save_as(folder / "us.dcm", enforce_file_format=True)
    assert main(["import", str(folder), "-q"]) == 0
    out = tmp_path / "out"
    assert _export("-o", str(out)) == 1
    err = capsys.readouterr().err
    assert "burned into the pixels" in err and "--allow-burned-in" in err
    assert err.count("\n") == 1 and not out.exists()
    assert _export("-o", str(out), "--allow-burned-in") == 0
    assert len(_files(out)) == 1
    assert main(["export", "--study", STUDY, "-o", str(tmp_path / "plain")]) == 0  # as stored


def test_anonymize_options_need_anonymize(
    study: Study, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["export", "--study", STUDY, "-o", str(tmp_path / "x"), "--dates", "keep"])
    assert code == 1 and "go with --anonymize" in capsys.readouterr().err
