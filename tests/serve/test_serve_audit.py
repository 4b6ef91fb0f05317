"""The server's audit log: who stored, queried and retrieved what, with no patient data.

Real DCMTK tools talk to `tuipacs serve`; the test reads <archive>/audit.jsonl after.
"""

from __future__ import annotations

from pathlib import Path

from peers import SyntheticArchive
from servekit import AET, LOOPBACK, ServerProcess, dcmsend, dcmtk, run, wait_indexed

from tuipacs.audit import read


def test_audit_log_of_a_session(serve_data: SyntheticArchive, tmp_path: Path) -> None:
    study = serve_data.study("CT CHEST")
    files = [p for p in serve_data.files if p.name.startswith(tuple(
        s.uid for s in study.series
    ))]  # fmt: skip
    assert len(files) == study.instance_count
    server = ServerProcess.start(tmp_path / "home")
    try:
        assert dcmsend(server.port, files).returncode == 0
        wait_indexed(server.archive_root, len(files))
        found = run([
            dcmtk("findscu"), "-S", "-aec", AET, "-k", "QueryRetrieveLevel=STUDY",
            "-k", "PatientName=DOE*", "-k", "StudyInstanceUID", LOOPBACK, str(server.port),
        ])  # fmt: skip
        assert found.returncode == 0, found.stderr
        got = run([
            dcmtk("getscu"), "-S", "-aec", AET, "-od", str(tmp_path), "-k",
            "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study.uid}",
            LOOPBACK, str(server.port),
        ])  # fmt: skip
        assert got.returncode == 0, got.stderr
        refused = run([dcmtk("echoscu"), "-aec", "NOTUS", LOOPBACK, str(server.port)])
        assert refused.returncode != 0
        assert server.signal() == 0
    finally:
        server.stop()
    path = server.archive_root / "audit.jsonl"
    assert path.stat().st_mode & 0o777 == 0o600
    lines = read(path)
    events = [line["event"] for line in lines]
    assert events.count("association") >= 4
    (store,) = [line for line in lines if line["event"] == "store"]
    assert store["study_uid"] == study.uid
    assert store["instances"] == len(files) and store["failed"] == 0
    assert store["calling_ae"] == "DCMSEND" and store["address"] == LOOPBACK
    (find,) = [line for line in lines if line["event"] == "find"]
    assert find["level"] == "STUDY" and find["matches"] == 1
    assert find["keys"] == ["PatientName"]
    (get,) = [line for line in lines if line["event"] == "get"]
    assert get["study_uids"] == [study.uid] and get["instances"] == len(files)
    rejected = [line for line in lines if line.get("outcome") == "rejected"]
    assert rejected and "NOTUS" in rejected[0]["reason"]
    raw = path.read_text()
    for secret in (study.patient_name, study.patient_id, "DOE"):
        assert secret not in raw  # no patient names, IDs or query values


def test_audit_can_be_turned_off(serve_data: SyntheticArchive, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("audit = false\n")
    server = ServerProcess.start(home)
    try:
        assert dcmsend(server.port, serve_data.files[:1]).returncode == 0
        assert server.signal() == 0
    finally:
        server.stop()
    assert not (server.archive_root / "audit.jsonl").exists()


def test_command_line_actions_are_audited(serve_data: SyntheticArchive, tmp_path: Path) -> None:
    import subprocess
    import sys

    from servekit import tool_env

    study = serve_data.study("MR BRAIN")
    files = [p for p in serve_data.files if p.name.startswith(study.series[0].uid)]
    server = ServerProcess.start(tmp_path / "server")
    client = tmp_path / "client"
    client.mkdir()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = tool_env() | {"TUIPACS_HOME": str(client)}
        return subprocess.run(
            [sys.executable, "-m", "tuipacs", *args], env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

    try:
        assert cli("import", *map(str, files)).returncode == 0
        sent = cli("send", f"{AET}@{LOOPBACK}:{server.port}", *map(str, files))
        assert sent.returncode == 0, sent.stderr
        evict = cli("cache", "--evict", "--limit", "1", "--yes", "--include-imported")
        assert evict.returncode == 0, evict.stderr
    finally:
        server.stop()
    lines = read(client / "archive" / "audit.jsonl")
    assert [line["event"] for line in lines] == ["import", "send", "delete"]
    assert lines[0]["study_uids"] == [study.uid] and lines[0]["added"] == len(files)
    assert lines[1]["sent"] == len(files) and lines[1]["node"] == f"{AET}@{LOOPBACK}:{server.port}"
    assert lines[2]["study_uids"] == [study.uid] and lines[2]["reason"] == "evict"
    raw = (client / "archive" / "audit.jsonl").read_text()
    assert study.patient_name not in raw and study.patient_id not in raw
