"""-v, -q and --log-file: accepted before or after any command; the log file gets tuipacs'
lines (owner-only, cleaned of controls), -q keeps warnings and progress bars off stderr."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuipacs.cli import build_parser, logs, main
from tuipacs.cli.output import ProgressBar


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), logging.getLogger("tuipacs").level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    logging.getLogger("tuipacs").setLevel(level)
    ProgressBar.quiet = False


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-v", "ls"], (1, False, None)),
        (["ls", "-v"], (1, False, None)),
        (["ls", "--quiet"], (0, True, None)),
        (["--log-file", "x.log", "cache"], (0, False, "x.log")),
        (["cache", "--log-file", "x.log", "-vv"], (2, False, "x.log")),
        (["node", "-q", "list"], (0, True, None)),
    ],
)
def test_options_go_before_or_after_the_command(
    argv: list[str], expected: tuple[int, bool, str | None]
) -> None:
    args = build_parser().parse_args(argv)
    assert (args.verbose, args.quiet, args.log_file) == expected


def test_log_file_gets_tuipacs_lines_cleaned_and_private(
    tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "tuipacs.log"
    args = build_parser().parse_args(["ls", "--log-file", str(log), "-v"])
    logs.setup(args)
    logging.getLogger("tuipacs.test").info("retrieved %s", "study\x1b[2J")
    logging.getLogger("pydicom").debug("not for the log")
    text = log.read_text(encoding="utf-8")
    assert "INFO tuipacs.test: retrieved study" in text and "\x1b" not in text
    assert "not for the log" not in text
    assert log.stat().st_mode & 0o777 == 0o600
    assert "retrieved study" in capsys.readouterr().err  # -v: on stderr too


def test_quiet_shows_errors_only_and_no_progress(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup(build_parser().parse_args(["ls", "-q"]))
    logging.getLogger("tuipacs.test").warning("a warning")
    logging.getLogger("tuipacs.test").error("an error")
    err = capsys.readouterr().err
    assert "a warning" not in err and "tuipacs: an error" in err
    assert ProgressBar("x", enabled=True).enabled is False


def test_verbose_and_quiet_together_is_one_error_line(
    tuipacs_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-v", "ls", "-q"]) == 1
    assert capsys.readouterr().err == "tuipacs: error: --verbose and --quiet do not go together\n"
