"""The benchmark scripts still start: each imports what it needs and prints its usage.

A refactor once moved the shared test peers module and left bench_retrieve.py importing it
from the old place; nothing ran the script, so nothing noticed. These run each one with
``--help`` (no benchmark, no peers started).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "scripts").glob("bench_*.py")) + [ROOT / "scripts" / "stress.py"]


def test_there_are_benchmarks() -> None:
    names = {path.name for path in SCRIPTS}
    assert {"bench_serve.py", "bench_retrieve.py", "bench_viewer.py"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_benchmark_prints_usage(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout.lower()
    assert script.name in result.stdout
