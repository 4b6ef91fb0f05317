"""Shell completion and the man page are generated from the parser: every command and
option is in both, and bash accepts the script."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tuipacs.cli import build_parser, main
from tuipacs.cli.docs import commands, options


def _every_option() -> set[str]:
    parser = build_parser()
    found = set(options(parser))
    for cmd in commands(parser).values():
        found |= set(options(cmd))
        for sub in commands(cmd).values():
            found |= set(options(sub))
    return found


def test_completion_knows_every_command_and_bash_runs_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    for name in commands(build_parser()):
        assert f"        {name}) words=" in script
    assert "--include-imported" in script and "--repair" in script
    bash = shutil.which("bash")
    assert bash is not None
    probe = script + (
        '\nCOMP_WORDS=(tuipacs cache --dr); COMP_CWORD=2; _tuipacs; echo "${COMPREPLY[@]}"'
        '\nCOMP_WORDS=(tuipacs con); COMP_CWORD=1; _tuipacs; echo "${COMPREPLY[@]}"'
    )
    result = subprocess.run([bash, "-c", probe], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["--dry-run", "config"]


def test_man_page_lists_every_command_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["man"]) == 0
    page = capsys.readouterr().out
    assert page.startswith(".TH TUIPACS 1")
    for name in commands(build_parser()):
        assert f".SS {name.replace('-', chr(92) + '-')}" in page
    for option in _every_option() - {"-h", "--help", "--version"}:
        assert option.replace("-", "\\-") in page, option
    groff = shutil.which("groff")
    if groff:
        check = subprocess.run(
            [groff, "-man", "-Tutf8", "-ww", "-z"], input=page, capture_output=True, text=True
        )
        assert check.returncode == 0 and check.stderr == "", check.stderr
