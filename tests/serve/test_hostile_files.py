"""Seeded hostile files through import, render and the Storage SCP of `tuipacs serve`.

Each path must give one line per bad file: no traceback, no hang, bounded memory, and an
archive whose index and files agree header by header. TUIPACS_FUZZ_CASES sets the number
of cases (scripts/stress.py runs many more).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fuzzkit import make_cases, make_wire_cases
from hostile import (
    cli_env,
    index_problems,
    indexed_uids,
    peak_rss_mb,
    render_all,
    run_measured,
    send_all,
)
from servekit import ServerProcess

SEED = 20261204
CASES = int(os.environ.get("TUIPACS_FUZZ_CASES", "1000"))
#: Most memory a tuipacs process may take on these small files (they declare up to GiBs).
RSS_LIMIT_MB = 600

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_cases(tmp_path_factory.mktemp("fuzz"), SEED, CASES)


@pytest.fixture(scope="module")
def wire_cases(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_wire_cases(tmp_path_factory.mktemp("wire"), SEED, CASES)


def test_import_of_hostile_files(cases: list[Path], tmp_path: Path) -> None:
    import sys

    home = tmp_path / "home"
    outcome = run_measured(
        [sys.executable, "-m", "tuipacs", "import", str(cases[0].parent)],
        cli_env(home),
        timeout=240,
    )
    assert not outcome.hung, "import hung"
    assert outcome.tracebacks == 0, outcome.stderr[-3000:]
    assert outcome.returncode in (0, 1), outcome.stderr[-2000:]
    assert outcome.peak_rss_mb < RSS_LIMIT_MB
    assert index_problems(home / "archive") == []
    assert len(indexed_uids(home / "archive")) > CASES // 10  # many damaged files still import


def test_render_of_hostile_files(cases: list[Path], tmp_path: Path) -> None:
    report = render_all(cases, tmp_path / "home", timeout=240)
    assert not report.outcome.hung, "render hung"
    assert report.outcome.returncode == 0, report.outcome.stderr[-3000:]
    assert len(report.cases) == len(cases)
    assert report.crashes == []
    assert report.outcome.peak_rss_mb < RSS_LIMIT_MB
    rendered = sum(1 for case in report.cases if case["code"] == 0)
    assert 0 < rendered < len(cases)


def test_storage_scp_takes_hostile_files(wire_cases: list[Path], tmp_path: Path) -> None:
    server = ServerProcess.start(tmp_path / "server")
    try:
        report = send_all(wire_cases, server.port)
        assert server.alive(), server.log[-3000:]
        peak = peak_rss_mb(server.proc.pid) if server.proc else 0.0
        # a new association still works after all that
        assert send_all(wire_cases[:0], server.port).aborted == 0
        assert server.signal() == 0
    finally:
        server.stop()
    log = server.log
    assert "Traceback" not in log, log[-3000:]
    assert peak < RSS_LIMIT_MB
    assert report.aborted == 0, f"{report.aborted} C-STOREs ended in an abort, not a status"
    assert report.not_sent < len(wire_cases) // 10
    assert report.acknowledged, "nothing was stored"
    stored = indexed_uids(server.archive_root)
    lost = set(report.acknowledged) - set(stored)
    assert not lost, f"{len(lost)} acknowledged instances are not in the archive"
    assert len(stored) == len(set(stored))
    assert index_problems(server.archive_root) == []
