"""The headless CLI over the local archive: import, ls, cache, pin, errors."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_store import make_file

from tuipacs.cli import main
from tuipacs.store.archive import Archive


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", *args], capture_output=True, text=True, timeout=120
    )


def test_import_and_ls_json(
    tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = "1.2.826.0.1.3680043.8.498.1"
    for n in range(3):
        make_file(tmp_path / "in", study=study, series="1.2.826.0.1.3680043.8.498.2", number=n)
    make_file(tmp_path / "in", name="OTHER^PAT", pid="P2", modality="MR")
    (tmp_path / "in" / "notes.txt").write_text("not dicom")
    assert main(["import", str(tmp_path / "in"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["added"], summary["not_dicom"], summary["failed"]) == (4, 1, 0)
    assert main(["ls", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["study_uid"] for r in rows} >= {study}
    assert len(rows) == 2
    assert main(["ls", "--json", "--name", "other*"]) == 0
    assert [r["patient_name"] for r in json.loads(capsys.readouterr().out)] == ["OTHER^PAT"]
    assert main(["ls", "--json", "--study", study]) == 0
    (series,) = json.loads(capsys.readouterr().out)
    assert series["num_instances"] == 3


def test_errors_are_one_line(tuipacs_home: Path) -> None:
    result = run_cli("ls", "--date", "yesterday")
    assert result.returncode == 1
    assert result.stderr.startswith("tuipacs: error: bad date")
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("import", "/nonexistent/folder")
    assert result.returncode == 1 and "no such file" in result.stderr
    result = run_cli("ls", "--study", "1.2.3")
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_bad_config_names_file_line_and_key(tuipacs_home: Path) -> None:
    (tuipacs_home / "config.toml").write_text('ae_title = "X"\n\nport = "eleven"\n')
    result = run_cli("cache")
    assert result.returncode == 1
    assert "config.toml:3: key 'port'" in result.stderr
    (tuipacs_home / "config.toml").write_text("port = [\n")
    result = run_cli("cache")
    assert result.returncode == 1 and "config.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_cache_evict_and_pin(
    tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        make_file(tmp_path / "in", pid=f"P{i}")
    assert main(["import", str(tmp_path / "in")]) == 0
    assert main(["ls", "--json"]) == 0
    capsys.readouterr()
    assert main(["ls", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert main(["pin", rows[0]["study_uid"]]) == 0
    assert main(["cache", "--evict", "--limit", "1", "--yes", "--include-imported", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["evicted_studies"] == 2 and data["studies"] == 1
    assert data["pinned_studies"] == 1


def test_sigkill_during_import_leaves_a_consistent_archive(
    tuipacs_home: Path, tmp_path: Path
) -> None:
    source = tmp_path / "many"
    for n in range(600):
        make_file(source, pid=f"K{n % 7}", number=n)
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuipacs", "import", str(source)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    index = tuipacs_home / "archive" / "index.sqlite"
    deadline = time.monotonic() + 60
    count = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if index.exists():
                try:
                    with sqlite3.connect(index, timeout=5) as conn:
                        count = conn.execute("SELECT count(*) FROM instance").fetchone()[0]
                except sqlite3.OperationalError:
                    count = 0
                if count >= 100:
                    break
            time.sleep(0.01)
        assert proc.poll() is None, "import finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    archive = Archive.open(tuipacs_home / "archive")
    report = archive.verify()
    assert report.ok, report
    indexed = archive.usage().instances
    assert 100 <= indexed < 600
    archive.close()
    result = run_cli("import", str(source), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["added"] + summary["already_present"] == 600
    assert summary["already_present"] >= indexed
    archive = Archive.open(tuipacs_home / "archive")
    assert archive.usage().instances == 600
    assert archive.verify().ok


def test_demo_set_counts_in_ls_json(tuipacs_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--ct-slices", "12", "--json"]) == 0
    demo = json.loads(capsys.readouterr().out)
    assert demo["added"] == demo["files"] == 12 + 50
    assert main(["ls", "--json"]) == 0
    rows = {r["modalities"]: r for r in json.loads(capsys.readouterr().out)}
    assert {m: r["num_instances"] for m, r in rows.items()} == {
        "CT": 12,
        "MR": 48,
        "DX": 1,
        "US": 1,
    }
    assert rows["MR"]["num_series"] == 2
    assert "Müller^Jürgen" in {r["patient_name"] for r in rows.values()}
    assert main(["ls", "--json", "--study", rows["MR"]["study_uid"]]) == 0
    assert [s["num_instances"] for s in json.loads(capsys.readouterr().out)] == [24, 24]
    assert main(["demo", "--ct-slices", "12", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["already_present"] == 62
