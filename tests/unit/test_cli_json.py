"""``--json`` outputs come from reports' ``to_json()`` and keep their shapes: cache (with and
without an eviction), node list, and the seam's results as the network commands print them."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from test_store import make_file

from tuipacs.cli import main
from tuipacs.remote import CheckStep, EchoResult, QueryRow, RetrieveResult, SendResult

CLI = Path(__file__).resolve().parents[2] / "tuipacs" / "cli"


def test_cache_json(tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_file(tmp_path / "in", study="1.2.826.0.1.3680043.8.498.1", number=1)
    assert main(["import", str(tmp_path / "in")]) == 0
    capsys.readouterr()
    assert main(["cache", "--json"]) == 0
    usage = json.loads(capsys.readouterr().out)
    assert list(usage) == [
        "archive", "bytes", "limit", "studies", "series", "instances", "pinned_studies",
    ]  # fmt: skip
    assert (usage["studies"], usage["instances"], usage["limit"]) == (1, 1, 0)  # 0: none
    assert main(["cache", "--evict", "--limit", "1", "--yes", "--include-imported", "--json"]) == 0
    evicted = json.loads(capsys.readouterr().out)
    assert list(evicted)[-2:] == ["evicted_studies", "bytes_freed"]
    assert (evicted["evicted_studies"], evicted["studies"], evicted["limit"]) == (1, 0, 1)
    assert evicted["bytes_freed"] == usage["bytes"]


def test_node_list_json(tuipacs_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["node", "add", "pacs", "PACS@127.0.0.1:104", "--method", "move"]) == 0
    capsys.readouterr()
    assert main(["node", "list", "--json"]) == 0
    (node,) = json.loads(capsys.readouterr().out)
    assert node["name"] == "pacs" and node["ae_title"] == "PACS" and node["method"] == "move"
    assert "tls" not in node  # TLS keys only for TLS nodes, as before


def test_network_results_keep_their_keys() -> None:
    """The keys ``echo``, ``find``, ``retrieve``, ``send`` and ``node check`` printed before
    the seam."""
    echo = EchoResult("n", "A@h:1", True, 1.234, 5.678, "Success").to_json()
    assert echo == {
        "node": "n", "address": "A@h:1", "ok": True, "ms": 1.23, "total_ms": 5.68,
        "status": "Success",
    }  # fmt: skip
    assert QueryRow({"PatientID": "X"}).to_json() == {"PatientID": "X"}
    retrieved = RetrieveResult("n", "1.2", "get", total=2, completed=2, bytes=10**6, seconds=2)
    assert list(retrieved.to_json()) == [
        "node", "study_uid", "method", "total", "completed", "skipped", "failed", "warning",
        "bytes", "seconds", "mb_per_s", "first_image_seconds", "cancelled", "errors",
        "refused", "ok",
    ]  # fmt: skip
    assert retrieved.to_json()["ok"] and retrieved.to_json()["mb_per_s"] == 0.5
    refused = RetrieveResult("n", "1.2", refused=["series of another study"])
    assert not refused.ok and refused.to_json()["ok"] is False
    sent = SendResult(sent=1, errors=[("a.dcm", "refused")]).to_json()
    assert sent["errors"] == [{"path": "a.dcm", "error": "refused"}]
    step = CheckStep("echo", True, "ok", 0.12345).to_json()
    assert step == {"step": "echo", "ok": True, "skipped": False, "detail": "ok", "seconds": 0.123}


def test_no_command_assembles_json() -> None:
    """Every print_json call in tuipacs/cli passes reports (a name or a list of reports),
    never a dict literal, a dict comprehension or a list of to_json() results."""
    offenders = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print_json"):
                continue
            (arg,) = node.args
            if isinstance(arg, ast.Dict | ast.DictComp) or "to_json" in ast.unparse(arg):
                offenders.append(f"{path.name}:{node.lineno}: {ast.unparse(arg)}")
    assert offenders == []


def test_one_json_convention() -> None:
    """snake_case keys, numbers as numbers, DICOM attributes under "dicom" by keyword, and
    "already_present" where demo says it too (import once said "duplicates")."""
    from tuipacs.cli.shapes import FindRow, ImportReport
    from tuipacs.store.importer import ImportSummary

    row = QueryRow(
        {
            "StudyInstanceUID": "1.2.3",
            "NumberOfStudyRelatedInstances": "12",
            "ModalitiesInStudy": "CT\\MR",
            "PatientName": "DOE^JANE",
            "NumberOfStudyRelatedSeries": "",
        }
    )
    assert FindRow("study", row).to_json() == {
        "level": "study",
        "dicom": {
            "StudyInstanceUID": "1.2.3",
            "NumberOfStudyRelatedInstances": 12,
            "ModalitiesInStudy": ["CT", "MR"],
            "PatientName": "DOE^JANE",
            "NumberOfStudyRelatedSeries": None,
        },
    }
    report = ImportReport(ImportSummary(files=2, added=1, duplicates=1)).to_json()
    assert report["already_present"] == 1 and "duplicates" not in report
    assert all(key == key.lower() and " " not in key for key in report)
