"""The admin's commands: `ls --series` (instances and their files), `delete --study` (asks
first), `verify [--repair]` (index and files agree; a moved file is put back)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from test_store import make_file

from tuipacs.cli import main

STUDY = "1.2.826.0.1.3680043.8.498.71"


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def series_uid(tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    for number in (1, 2):
        make_file(tmp_path / "in", study=STUDY, series=STUDY + ".1", number=number)
    assert main(["import", str(tmp_path / "in")]) == 0
    (series,) = _json(capsys, "ls", "--study", STUDY)  # type: ignore[misc]
    return str(series["series_uid"])


def test_ls_series_lists_instances_with_their_files(
    series_uid: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _json(capsys, "ls", "--series", series_uid)
    assert isinstance(rows, list) and len(rows) == 2
    assert all(Path(r["path"]).is_file() for r in rows)
    assert rows[0]["transfer_syntax"] == "Explicit VR Little Endian"
    assert main(["ls", "--series", series_uid]) == 0
    assert "Explicit VR Little Endian" in capsys.readouterr().out
    assert main(["ls", "--series", "1.2.3.999"]) == 1
    assert "no series 1.2.3.999" in capsys.readouterr().err


def test_delete_asks_first(
    series_uid: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal: no one to ask
    assert main(["delete", "--study", STUDY]) == 1
    assert "add --yes" in capsys.readouterr().err
    assert len(_json(capsys, "ls")) == 1  # type: ignore[arg-type]
    report = _json(capsys, "delete", "--study", STUDY, "--yes")
    assert report == {  # type: ignore[comparison-overlap]
        "ok": True, "deleted_studies": 1, "study_uids": [STUDY],
        "bytes_freed": report["bytes_freed"],  # type: ignore[index]
    }  # fmt: skip
    assert _json(capsys, "ls") == []
    assert main(["delete", "--study", STUDY, "--yes"]) == 1
    assert f"no study {STUDY}" in capsys.readouterr().err


def test_verify_finds_a_moved_file_and_repair_puts_it_back(
    tuipacs_home: Path, series_uid: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _json(capsys, "ls", "--series", series_uid)
    moved = Path(rows[0]["path"])  # type: ignore[index]
    stray = tuipacs_home / "archive" / "files" / "stray.dcm"
    moved.rename(stray)
    capsys.readouterr()
    assert main(["verify"]) == 1
    out = capsys.readouterr().out
    assert f"missing   {moved}" in out and f"orphan    {stray}" in out
    assert main(["verify", "--repair", "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["ok"] is True and outcome["repaired"] == [str(stray)]
    assert moved.is_file() and not stray.exists()
    assert main(["verify"]) == 0
