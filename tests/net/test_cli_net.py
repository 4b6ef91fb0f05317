"""The admin's view: `tuipacs node/echo/find/retrieve` as subprocesses against real archives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from peers import RemoteArchive as Archive
from peers import SyntheticArchive

from tuipacs.dicom.nodes import LocalAE

#: The transport under test goes to the command too (see scripts/test.sh).
TRANSPORT = {k: v for k, v in os.environ.items() if k == "TUIPACS_TRANSPORT"}


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"TUIPACS_HOME": str(home), "PATH": "/usr/bin:/bin", **TRANSPORT}
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture
def home(tuipacs_home: Path, local_ae: LocalAE) -> Path:
    (tuipacs_home / "config.toml").write_text(
        f'ae_title = "{local_ae.ae_title}"\nport = {local_ae.port}\n', encoding="utf-8"
    )
    return tuipacs_home


def test_node_echo_find_retrieve_resume(
    home: Path, archive: Archive, test_data: SyntheticArchive
) -> None:
    node = archive.node
    added = run_cli(home, "node", "add", "pacs", f"{node.ae_title}@127.0.0.1:{node.port}")
    assert added.returncode == 0, added.stderr
    listed = json.loads(run_cli(home, "node", "list", "--json").stdout)
    assert listed[0]["name"] == "pacs" and listed[0]["port"] == node.port

    echo = run_cli(home, "echo", "pacs", "--json")
    assert echo.returncode == 0 and json.loads(echo.stdout)["ok"] is True

    study = test_data.studies[0]
    found = run_cli(home, "find", "pacs", "-k", f"PatientID={study.patient_id}", "--json")
    assert found.returncode == 0, found.stderr
    rows = [r["dicom"] for r in json.loads(found.stdout)]
    assert {r["StudyInstanceUID"] for r in rows} >= {study.uid}

    series = run_cli(
        home, "find", "pacs", "--level", "series", "-k", f"StudyInstanceUID={study.uid}", "--json"
    )
    assert {r["dicom"]["SeriesInstanceUID"] for r in json.loads(series.stdout)} == {
        s.uid for s in study.series
    }

    first = run_cli(home, "retrieve", "pacs", "--study", study.uid, "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["completed"] == study.instance_count and summary["failed"] == 0

    ls = json.loads(run_cli(home, "ls", "--json").stdout)
    assert [(r["study_uid"], r["num_instances"]) for r in ls] == [(study.uid, study.instance_count)]

    again = json.loads(run_cli(home, "retrieve", "pacs", "--study", study.uid, "--json").stdout)
    assert again["skipped"] == study.instance_count and again["completed"] == 0


def test_retrieve_by_move_into_the_archive(
    home: Path, archive: Archive, test_data: SyntheticArchive
) -> None:
    node = archive.node
    study = test_data.studies[-1]
    spec = f"{node.ae_title}@127.0.0.1:{node.port}"
    result = run_cli(home, "retrieve", spec, "--study", study.uid, "--method", "move", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["completed"] == study.instance_count
    check = run_cli(home, "ls", "--study", study.uid, "--json")
    assert sum(s["num_instances"] for s in json.loads(check.stdout)) == study.instance_count


def test_node_check_and_unknown_node(home: Path, archive: Archive) -> None:
    node = archive.node
    run_cli(home, "node", "add", "pacs", f"{node.ae_title}@127.0.0.1:{node.port}")
    check = run_cli(home, "node", "check", "pacs", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert [s["ok"] for s in json.loads(check.stdout)] == [True, True, True]
    unknown = run_cli(home, "echo", "nowhere")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("tuipacs: error: unknown node 'nowhere'")
