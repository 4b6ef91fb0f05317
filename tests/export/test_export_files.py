"""`tuipacs export` as stored: files, zip, DICOMDIR and PNG, private output, refusals."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import zipfile
from pathlib import Path

import pydicom
import pytest
from exportkit import STUDY, Study, make_instance
from helpers import require_binary

from tuipacs.cli import main


def _archived(home: Path) -> dict[str, bytes]:
    """The archive's files by SOP Instance UID."""
    files = [p for p in home.rglob("*.dcm") if "quarantine" not in p.parts]
    return {
        pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID: p.read_bytes() for p in files
    }


def _export(*args: str) -> int:
    return main(["export", "--study", STUDY, *args])


def test_dicom_export_is_byte_identical_and_private(
    study: Study, tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _export("-o", str(out), "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert summary["count"] == len(files) == 6
    assert summary["bytes"] == sum(p.stat().st_size for p in files)
    assert {p.parent.name for p in files} == {"series-001", "series-002"}
    archived = _archived(tuipacs_home)
    for path in files:
        uid = pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID
        assert path.read_bytes() == archived[uid]
    for path in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_series_option_and_unknown_series(
    study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "one"
    assert _export("-o", str(out), "--series", study.series_uids[1]) == 0
    assert {p.parent.name for p in out.rglob("*.dcm")} == {"series-001"}
    assert len(list(out.rglob("*.dcm"))) == 3
    capsys.readouterr()
    assert _export("-o", str(tmp_path / "two"), "--series", "1.2.3") == 1
    err = capsys.readouterr().err
    assert "series 1.2.3 is not in study" in err and err.count("\n") == 1
    assert not (tmp_path / "two").exists()


def test_non_empty_folder_refused_unless_force(
    study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert _export("-o", str(out)) == 1
    err = capsys.readouterr().err
    assert "is not empty" in err and "--force" in err and err.count("\n") == 1
    assert os.listdir(out) == ["mine.txt"]
    assert _export("-o", str(out), "--force") == 0
    assert (out / "mine.txt").read_text() == "keep me"
    assert len(list(out.rglob("*.dcm"))) == 6


def test_unwritable_output_is_one_line(
    study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert _export("-o", str(blocker / "sub")) == 1
    err = capsys.readouterr().err
    assert err.startswith("tuipacs: error: cannot write to") and err.count("\n") == 1


def test_zip_holds_the_same_files(study: Study, tmp_path: Path) -> None:
    folder, named = tmp_path / "plain", tmp_path / "named.zip"
    assert _export("-o", str(folder)) == 0
    assert _export("-o", str(named), "--format", "zip") == 0
    assert _export("-o", str(tmp_path / "zips"), "--format", "zip") == 0
    assert stat.S_IMODE(named.stat().st_mode) == 0o600
    expected = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.dcm")}
    for archive in (named, tmp_path / "zips" / f"{STUDY}.zip"):
        with zipfile.ZipFile(archive) as zf:
            assert {name: zf.read(name) for name in zf.namelist()} == expected
    assert not list(tmp_path.rglob("*.part"))
    assert _export("-o", str(named), "--format", "zip") == 1  # exists: refused


def test_dicomdir_passes_dcmftest_and_lists_the_records(study: Study, tmp_path: Path) -> None:
    dcmftest, dcmdump = require_binary("dcmftest"), require_binary("dcmdump")
    out = tmp_path / "media"
    assert _export("-o", str(out), "--format", "dicomdir") == 0
    check = subprocess.run([dcmftest, str(out / "DICOMDIR")], capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.startswith("yes:"), check.stdout
    dump = subprocess.run([dcmdump, str(out / "DICOMDIR")], capture_output=True, text=True)
    assert dump.returncode == 0
    records = [
        line.split("[")[1].split("]")[0].strip()
        for line in dump.stdout.splitlines()
        if "DirectoryRecordType" in line
    ]
    assert records.count("PATIENT") == 1 and records.count("STUDY") == 1
    assert records.count("SERIES") == 2 and records.count("IMAGE") == 5
    assert records.count("SR DOCUMENT") == 1
    for path in out.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600)


def test_png_one_per_frame_and_non_images_counted(
    study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "png"
    assert _export("-o", str(out), "--format", "png", "--window", "600", "1200", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    pngs = sorted(out.rglob("*.png"))
    assert len(pngs) == summary["count"] == 6  # series 1: 1 + 1 + 2 frames; series 2: 1 + 1
    assert summary["skipped"] == 1  # the report


def test_png_matches_tuipacs_render(study: Study, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    out = tmp_path / "png"
    assert _export("-o", str(out), "--format", "png", "--preset", "bone") == 0
    made = study.folder / f"{study.sop_uids[2]}.dcm"  # the two-frame image
    for frame in (1, 2):
        ref = tmp_path / f"ref{frame}.png"
        assert (
            main(["render", str(made), "-o", str(ref), "--preset", "bone", "--frame", str(frame)])
            == 0
        )
        got = out / "series-001" / f"000003-{frame:04d}.png"
        assert np.array_equal(np.asarray(Image.open(got)), np.asarray(Image.open(ref)))


def test_hostile_name_stays_inside_and_off_the_terminal(
    tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "made"
    folder.mkdir()
    hostile = "../../../escape/\x1b]0;pwned\x07\x1b[31mEVIL"
    ds = make_instance(1, 1, name=hostile)
    ds.save_as(folder / "a.dcm", enforce_file_format=True)
    assert main(["import", str(folder), "-q"]) == 0
    out = tmp_path / "deep" / "out"
    for fmt in ("dicom", "dicomdir", "png"):
        target = out / fmt
        assert _export("-o", str(target), "--format", fmt, "--json") == 0
        assert all(p.resolve().is_relative_to(target.resolve()) for p in target.rglob("*"))
        assert not any("EVIL" in p.name or "escape" in p.name for p in target.rglob("*"))
    assert not (tmp_path / "escape").exists() and not (tmp_path / "deep" / "escape").exists()
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err and "\x07" not in captured.out


def test_cancel_takes_back_what_was_written(study: Study, tmp_path: Path) -> None:
    from tuipacs.cli.common import open_archive
    from tuipacs.export import ExportOptions, plan_export, run_export

    plan = plan_export(open_archive(), STUDY)
    cancel = threading.Event()
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 2:
            cancel.set()

    out = tmp_path / "cancelled"
    result = run_export(plan, ExportOptions(out), progress=progress, cancel=cancel)
    assert result.cancelled and seen == [(1, 6), (2, 6)]
    assert not out.exists()
