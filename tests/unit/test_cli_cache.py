"""`tuipacs cache --evict` shows what it deletes and asks (unless --yes), --dry-run deletes
nothing, and a study not retrieved from a node (maybe the only copy) stays unless
--include-imported."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from test_store import make_file

from tuipacs.audit import AuditLog
from tuipacs.cli import main
from tuipacs.store.archive import Archive


def _studies(capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert main(["ls", "--json"]) == 0
    return sorted(row["study_uid"] for row in json.loads(capsys.readouterr().out))


@pytest.fixture(params=["index", "audit"])
def two_studies(
    tuipacs_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> tuple[str, str]:
    """Two imported studies; the first was also retrieved from a node, as the index records
    it (the node's count, audit off) or as an older archive's audit log says."""
    make_file(tmp_path / "in", pid="P1", study="1.2.826.0.1.3680043.8.498.11")
    make_file(tmp_path / "in", pid="P2", study="1.2.826.0.1.3680043.8.498.22")
    assert main(["import", str(tmp_path / "in")]) == 0
    retrieved, imported = _studies(capsys)
    if request.param == "index":  # what tuipacs.remote's client records after a retrieve
        archive = Archive.open(tuipacs_home / "archive")
        try:
            assert archive.record_expected(retrieved, 1, "pacs")
        finally:
            archive.close()
    else:  # the line a retrieve writes in the audit log
        AuditLog.for_archive(tuipacs_home / "archive").record(
            "retrieve", node="pacs", study_uid=retrieved, received=1
        )
    return retrieved, imported


def test_dry_run_lists_and_deletes_nothing(
    two_studies: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    retrieved, imported = two_studies
    assert main(["cache", "--evict", "--limit", "1", "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert "would delete 1 study" in captured.err and retrieved in captured.out
    assert "kept 1 study not retrieved from a node" in captured.err
    assert _studies(capsys) == [retrieved, imported]


def test_without_yes_and_no_terminal_nothing_is_deleted(
    two_studies: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal: no one to ask
    assert main(["cache", "--evict", "--limit", "1"]) == 1
    assert "add --yes" in capsys.readouterr().err
    assert len(_studies(capsys)) == 2


def test_yes_evicts_only_what_a_node_can_send_again(
    two_studies: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    retrieved, imported = two_studies
    assert main(["cache", "--evict", "--limit", "1", "--yes", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["evicted_studies"] == 1 and report["kept_imported"] == 1
    assert [c["study_uid"] for c in report["candidates"]] == [retrieved]
    assert _studies(capsys) == [imported]
    assert main(["cache", "--evict", "--limit", "1", "--yes", "--include-imported"]) == 0
    assert _studies(capsys) == []
