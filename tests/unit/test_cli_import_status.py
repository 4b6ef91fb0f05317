"""`tuipacs import` exit status: failed files make it fail, skipped and duplicates do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_store import make_file

from tuipacs.cli import main


def _folder(root: Path) -> tuple[Path, Path]:
    """Two good files, a truncated DICOM file, a text file and a DICOMDIR; (folder, bad)."""
    folder = root / "in"
    good = make_file(folder, pid="P1", number=1)
    make_file(folder, pid="P1", number=2)
    bad = folder / "sub" / "broken.dcm"
    bad.parent.mkdir()
    bad.write_bytes(good.read_bytes()[:-8])  # pixel data ends past the end of the file
    (folder / "README.txt").write_text("not dicom")
    (folder / "DICOMDIR").write_bytes(b"\x00" * 200)  # skipped when a folder is walked
    return folder, bad


def test_import_fails_when_a_file_cannot_be_read(
    tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, bad = _folder(tmp_path)
    assert main(["import", str(folder), "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["added"], summary["not_dicom"], summary["failed"]) == (2, 1, 1)
    (error,) = summary["errors"]
    assert error["path"] == str(bad) and "truncated" in error["error"]
    assert len(summary["study_uids"]) == 2  # make_file: a new study per file

    # again, as text: the good files are now present, the broken one still fails
    assert main(["import", str(folder)]) == 1
    captured = capsys.readouterr()
    assert "0 added, 2 already present (same SOP Instance UID), 1 not DICOM skipped, 1 failed" in (
        captured.out
    )
    assert captured.err.startswith(f"tuipacs: error: {bad}: truncated (pixel data ends")
    assert len(captured.err.splitlines()) == 1


def test_skipped_and_duplicate_files_are_not_failures(
    tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, bad = _folder(tmp_path)
    bad.unlink()
    assert main(["import", str(folder), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["added"], summary["not_dicom"], summary["failed"]) == (2, 1, 0)
    assert main(["import", str(folder), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["added"], summary["already_present"], summary["failed"]) == (0, 2, 0)


def test_a_file_that_is_only_broken_fails(
    tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, bad = _folder(tmp_path)
    assert main(["import", str(bad)]) == 1
    assert "1 failed" in capsys.readouterr().out
