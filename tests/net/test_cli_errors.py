"""Every failure of a network command is one `tuipacs:` line and a non-zero exit; `--json`
prints {"ok": false, "error": ...} on failure too (against a real Orthanc)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import free_port
from peers import OrthancPeer, SyntheticArchive

pytestmark = pytest.mark.net

TRANSPORT = {k: v for k, v in os.environ.items() if k == "TUIPACS_TRANSPORT"}


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"TUIPACS_HOME": str(home), "PATH": "/usr/bin:/bin", **TRANSPORT}
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command."""
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tuipacs: "), result.stderr
    return lines[0]


@pytest.fixture
def pacs(tuipacs_home: Path, orthanc: OrthancPeer) -> str:
    return f"{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}"


def test_retrieve_of_a_missing_series_names_the_series(
    tuipacs_home: Path, pacs: str, test_data: SyntheticArchive
) -> None:
    study = test_data.studies[0]
    missing = "1.2.3.4.5.6.7.8.9"
    result = run_cli(tuipacs_home, "retrieve", pacs, "--study", study.uid, "--series", missing)
    line = one_line(result)
    print(line)
    assert "series" in line and missing in line
    assert result.stdout == ""
    as_json = run_cli(
        tuipacs_home, "retrieve", pacs, "--study", study.uid, "--series", missing, "--json"
    )
    data = json.loads(as_json.stdout)
    assert data["ok"] is False and missing in data["error"]


def test_a_bad_uid_is_refused_before_any_connection(tuipacs_home: Path) -> None:
    port = free_port()  # nothing listens: the check must come first
    result = run_cli(tuipacs_home, "retrieve", f"X@127.0.0.1:{port}", "--study", "not-a-uid")
    line = one_line(result)
    assert "not-a-uid" in line and "UID" in line and "connection" not in line


def test_echo_json_reports_a_failure(tuipacs_home: Path) -> None:
    result = run_cli(tuipacs_home, "echo", f"X@127.0.0.1:{free_port()}", "--json")
    one_line(result)
    data = json.loads(result.stdout)
    assert data["ok"] is False and "connection refused" in data["error"]


def test_find_json_reports_a_failure(tuipacs_home: Path) -> None:
    result = run_cli(tuipacs_home, "find", f"X@127.0.0.1:{free_port()}", "--json")
    one_line(result)
    assert json.loads(result.stdout)["ok"] is False


def test_send_of_a_file_that_is_not_dicom_fails_in_one_line(
    tuipacs_home: Path, pacs: str, tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n", encoding="utf-8")
    result = run_cli(tuipacs_home, "send", pacs, str(text))
    line = one_line(result)
    print(line)
    assert "notes.txt" in line and "not a DICOM" in line and "force=True" not in line


def test_find_takes_keys_as_findscu_does(
    tuipacs_home: Path, pacs: str, test_data: SyntheticArchive
) -> None:
    study = test_data.studies[0]
    by_tag = run_cli(
        tuipacs_home, "find", pacs, "-k", f"0010,0020={study.patient_id}", "-k", "StudyTime"
    )
    assert by_tag.returncode == 0, by_tag.stderr
    header = by_tag.stdout.splitlines()[0].split()
    assert header[-1] == "StudyTime"  # a return key asked for is shown
    assert study.uid in by_tag.stdout
    matches = sum(1 for s in test_data.studies if s.patient_id == study.patient_id)
    assert by_tag.stderr.strip() == ("1 match" if matches == 1 else f"{matches} matches")

    patients = run_cli(
        tuipacs_home, "find", pacs, "--level", "patient", "-k", f"PatientID={study.patient_id}",
        "--json",
    )  # fmt: skip
    assert patients.returncode == 0, patients.stderr
    assert [r["dicom"]["PatientID"] for r in json.loads(patients.stdout)] == [study.patient_id]

    series = run_cli(
        tuipacs_home, "find", pacs, "--level", "series", "-k", f"StudyInstanceUID={study.uid}"
    )
    assert series.returncode == 0, series.stderr
    assert "StudyInstanceUID" in series.stdout.splitlines()[0]
    assert all(study.uid in line for line in series.stdout.splitlines()[1:])


def test_find_checks_dates_before_asking(tuipacs_home: Path) -> None:
    port = free_port()  # nothing listens: the check comes first
    line = one_line(run_cli(tuipacs_home, "find", f"X@127.0.0.1:{port}", "-k", "StudyDate=2022"))
    assert "YYYYMMDD" in line and "20220101-20221231" in line
    bad_tag = run_cli(tuipacs_home, "find", f"X@127.0.0.1:{port}", "-k", "7777,0001=x")
    assert "not a tag" in one_line(bad_tag)


def test_a_failed_node_check_ends_with_one_error_line(tuipacs_home: Path) -> None:
    added = run_cli(tuipacs_home, "node", "add", "dead", f"X@127.0.0.1:{free_port()}")
    assert added.returncode == 0, added.stderr
    check = run_cli(tuipacs_home, "node", "check", "dead")
    assert check.returncode == 1 and "FAIL  echo" in check.stdout
    assert check.stderr == "tuipacs: error: node dead: echo failed\n"


def test_find_names_sop_classes_in_the_table(
    tuipacs_home: Path, pacs: str, test_data: SyntheticArchive
) -> None:
    series = test_data.studies[0].series[0]
    found = run_cli(
        tuipacs_home, "find", pacs, "--level", "image", "-k", f"SeriesInstanceUID={series.uid}"
    )
    assert found.returncode == 0, found.stderr
    assert "Image Storage" in found.stdout and "1.2.840.10008.5.1.4" not in found.stdout
