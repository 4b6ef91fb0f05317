"""CLI output: a closed stdout pipe, and the wording of `tuipacs cache`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_store import make_file

from tuipacs.cli import main


def _read_one_line_then_close(home: Path, *args: str) -> tuple[int, str, str]:
    """Run the CLI like ``tuipacs ARGS | head -1``: (exit status, first line, stderr)."""
    env = {**os.environ, "TUIPACS_HOME": str(home)}
    env.pop("TUIPACS_DEBUG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuipacs", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        first = proc.stdout.readline().decode()
        proc.stdout.close()  # the reader goes away while the CLI is still writing
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=300)
    finally:
        proc.kill()
        proc.wait()
    return code, first, err


def test_closed_pipe_ends_quietly(tuipacs_home: Path) -> None:
    # far more output than a pipe buffers, so the CLI is still writing when the reader goes
    lines = ['ae_title = "TUIPACS"']
    for i in range(3000):
        lines += [f"[nodes.n{i:04d}]", 'ae_title = "PACS"', 'host = "127.0.0.1"', f"port = {i + 1}"]
    (tuipacs_home / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for args in (("node", "list", "--json"), ("node", "list")):
        code, first, err = _read_one_line_then_close(tuipacs_home, *args)
        assert first.strip() in ("[", "NAME   AE TITLE  HOST       PORT  METHOD")
        assert err == ""
        assert code == 141


def test_ls_json_into_a_closed_pipe(tuipacs_home: Path, tmp_path: Path) -> None:
    for i in range(300):
        make_file(tmp_path / "in", pid=f"P{i}", number=i)
    assert main(["import", str(tmp_path / "in")]) == 0
    code, first, err = _read_one_line_then_close(tuipacs_home, "ls", "--json")
    assert first.strip() == "["
    assert err == ""
    assert code == 141


def test_cache_without_limit_says_no_limit(
    tuipacs_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache"]) == 0
    usage = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("usage"))
    assert usage.endswith("(no limit)")
    assert "none" not in usage
    assert main(["cache", "--limit", "20G"]) == 0
    assert "of 20.0 GB limit" in capsys.readouterr().out


def test_cache_limit_that_is_not_a_size(
    tuipacs_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["cache", "--limit", "foo"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --limit: 'foo' is not a size; use e.g. 500M, 20G" in err
    assert "parse_size" not in err
