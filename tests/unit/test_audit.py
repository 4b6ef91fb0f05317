"""The audit log: JSON lines, owner-only, shared by processes, never raises."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

from tuipacs.audit import MAX_UIDS, AuditLog, read, uid_list


def _write_many(path: str, tag: str) -> None:
    log = AuditLog(Path(path))
    for number in range(200):
        log.record("store", calling_ae=tag, instances=number)


def test_lines_are_json_and_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        log = AuditLog.for_archive(tmp_path)
        log.record("find", calling_ae="WS1", address="127.0.0.1", level="STUDY", matches=3)
    finally:
        os.umask(old)
    path = tmp_path / "audit.jsonl"
    assert path.stat().st_mode & 0o777 == 0o600
    (line,) = read(path)
    assert line["event"] == "find" and line["matches"] == 3
    assert line["time"].endswith("Z")


def test_control_characters_cannot_forge_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    log.record("association", calling_ae='X\n{"event": "forged"}\x1b]0;t\x07')
    raw = (tmp_path / "a.jsonl").read_bytes()
    assert raw.count(b"\n") == 1
    assert b"\x1b" not in raw
    assert json.loads(raw)["calling_ae"].startswith("X\n")


def test_two_processes_append_whole_lines(tmp_path: Path) -> None:
    path = str(tmp_path / "a.jsonl")
    procs = [multiprocessing.Process(target=_write_many, args=(path, t)) for t in "AB"]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    lines = read(Path(path))
    assert len(lines) == 400
    assert sorted(line["calling_ae"] for line in lines).count("A") == 200


def test_disabled_log_writes_nothing(tmp_path: Path) -> None:
    log = AuditLog.for_archive(tmp_path, enabled=False)
    log.record("store")
    assert not log.enabled
    assert not (tmp_path / "audit.jsonl").exists()


def test_unwritable_log_does_not_raise(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "missing-folder" / "audit.jsonl")
    log.record("store")
    log.record("store")
    assert not (tmp_path / "missing-folder").exists()


def test_uid_lists_are_cut() -> None:
    many = uid_list(f"1.2.{n}" for n in range(MAX_UIDS + 5))
    assert len(many["study_uids"]) == MAX_UIDS
    assert many["more_study_uids"] == 5
    assert uid_list(["1.2", "1.2"]) == {"study_uids": ["1.2"]}
