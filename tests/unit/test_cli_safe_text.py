"""Issue 12, finding 3: what the CLI prints holds no control, C1 or bidi character from the
data (``ls``, ``ls --study``, import errors naming a file, log lines), and ``--json`` keeps
the exact values.

The raw bytes of stdout and stderr are checked, as a terminal would receive them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_text import (
    PAYLOAD,
    HostileStudy,
    index_as_legacy,
    unsafe_characters,
    write_hostile_study,
)

from tuipacs import cli, safe_text


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``python -m tuipacs ARGS`` with its output as bytes."""
    env = {**os.environ, "TUIPACS_HOME": str(home)}
    env.pop("TUIPACS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", *args], capture_output=True, env=env, timeout=120
    )


def terminal_controls(output: bytes) -> list[str]:
    """Controls, format characters and separators a terminal would get (newlines aside)."""
    assert b"\x1b" not in output  # the plainest check first: no ESC byte at all
    return [c for c in unsafe_characters(output.decode("utf-8")) if c != "\n"]


@pytest.fixture(scope="module")
def hostile_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[HostileStudy]]:
    """An archive holding two hostile studies: escape sequences in every text field, and
    in the second one in the study, series and SOP Instance UIDs as well."""
    root = tmp_path_factory.mktemp("hostile")
    studies = [
        write_hostile_study(root / "text"),
        write_hostile_study(root / "uids", hostile_uids=True),
    ]
    home = root / "home"
    home.mkdir()
    imported = run_cli(home, "import", str(root / "text"), str(root / "uids"))
    assert imported.returncode == 1  # UIDs with controls are refused now, one line each
    assert terminal_controls(imported.stdout + imported.stderr) == []
    refused = [line for line in imported.stderr.decode().splitlines() if "valid UID" in line]
    assert len(refused) == len(studies[1].files)
    # an archive indexed before UIDs were checked may hold them: they must show defused
    assert index_as_legacy(home / "archive", root / "uids") == len(studies[1].files)
    return home, studies


def test_ls_prints_no_control_from_the_data(hostile_home: tuple[Path, list[HostileStudy]]) -> None:
    home, studies = hostile_home
    listed = run_cli(home, "ls")
    assert listed.returncode == 0
    assert terminal_controls(listed.stdout + listed.stderr) == []
    text = listed.stdout.decode()
    lines = text.splitlines()
    assert len(lines) == 1 + len(studies)  # the newlines in the data forged no line
    placeholder = safe_text.PLACEHOLDER
    assert f"EVIL^MALLORY{placeholder}]52;c;cm0gLXJmIH4K{placeholder}" in text  # visible


def test_ls_study_prints_no_control_from_the_data(
    hostile_home: tuple[Path, list[HostileStudy]],
) -> None:
    home, studies = hostile_home
    for study in studies:
        listed = run_cli(home, "ls", "--study", study.study_uid)
        assert listed.returncode == 0, listed.stderr.decode(errors="replace")
        assert terminal_controls(listed.stdout + listed.stderr) == []
        assert len(listed.stdout.decode().splitlines()) == 2  # header and one series
        assert "SERIES" in listed.stdout.decode()


def test_unknown_study_error_quotes_the_uid_cleanly(
    hostile_home: tuple[Path, list[HostileStudy]],
) -> None:
    home, _studies = hostile_home
    missing = run_cli(home, "ls", "--study", "1.2.3\x1b]0;title\x07\nforged")
    assert missing.returncode == 1
    assert terminal_controls(missing.stdout + missing.stderr) == []
    assert len(missing.stderr.decode().splitlines()) == 1


def test_ls_json_keeps_the_exact_values(hostile_home: tuple[Path, list[HostileStudy]]) -> None:
    home, studies = hostile_home
    listed = run_cli(home, "ls", "--json")
    assert listed.returncode == 0
    # JSON escapes the controls: the document itself holds none (nor C1 or bidi)
    assert terminal_controls(listed.stdout) == []
    rows = {row["study_uid"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {s.study_uid for s in studies}
    for study in studies:
        row = rows[study.study_uid]
        assert row["patient_name"] == study.values["PatientName"]
        assert row["patient_id"] == study.values["PatientID"]
        assert row["accession"] == study.values["AccessionNumber"]
        assert row["description"] == study.values["StudyDescription"]
        assert PAYLOAD in row["patient_name"]
        series = json.loads(run_cli(home, "ls", "--study", study.study_uid, "--json").stdout)
        assert [s["series_uid"] for s in series] == [study.series_uid]
        assert series[0]["description"] == study.values["SeriesDescription"]


def test_import_error_naming_a_hostile_file_is_one_clean_line(
    tuipacs_home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    # a DICOM preamble and then nothing: a file that fails to import, with a hostile name
    bad = folder / "scan\x1b]0;pwned\x07\nerror: forged\x9b2J.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    result = run_cli(tuipacs_home, "import", str(folder))
    assert result.returncode == 1
    assert terminal_controls(result.stdout + result.stderr) == []
    errors = [
        line for line in result.stderr.decode().splitlines() if line.startswith("tuipacs: error")
    ]
    assert len(errors) == 1 and "scan" in errors[0]


def test_cli_log_lines_are_cleaned(
    tuipacs_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warning logged while a command runs (no handler: logging's last resort writes it)
    is one line without the controls of its arguments."""
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as outside pytest
    last_resort = logging.lastResort
    assert last_resort is not None
    monkeypatch.setattr(last_resort, "filters", [])
    assert cli.main(["ls"]) == 0
    capsys.readouterr()
    uid = "1.2.3\n2024-06-12 10:00:00 WARNING forged\x1b]0;title\x07"
    logging.getLogger("tuipacs.dicom.storage").warning("refusing %s", uid)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\x07" not in err
    assert err.startswith("refusing 1.2.3")
