"""``--verbose``, ``--quiet`` and ``--log-file``: the options every command takes, and the
logging they set up.

Without them, nothing changes: a warning logged while a command runs is one line on stderr
(logging's last resort), ``tuipacs serve`` logs as it always did. ``-v`` shows tuipacs'
informational lines (``-vv`` its debug lines), with time and source; ``-q`` shows errors
only and draws no progress bar; ``--log-file PATH`` appends the same lines (informational,
or debug with ``-vv``) to PATH, created readable by this user only. pynetdicom logs only
its warnings whatever the level (its debug lines dump datasets: patient data). Every line
goes through :func:`tuipacs.safe_text.protect_handler`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from tuipacs import safe_text
from tuipacs.cli.common import CliError

#: The format of ``tuipacs serve`` and of ``-v`` lines.
LONG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def add_options(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """Add ``-v``, ``-q`` and ``--log-file`` to ``parser`` (``suppress``: for a command's
    parser, so that an option given before the command is not reset by it)."""
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("output and logging")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS if suppress else 0,
        help="informational log lines on stderr (-vv: debug lines)",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="errors only, no progress bar",
    )
    group.add_argument(
        "--log-file", metavar="PATH", default=default, help="append log lines to this file"
    )


def setup(args: argparse.Namespace, serve: bool = False, screen: bool = False) -> None:
    """Set up logging as the options ask (nothing when none is given). ``serve``: the
    server's log format on stderr; ``screen``: the viewer owns the terminal, so log lines
    go only to ``--log-file``."""
    verbose = int(getattr(args, "verbose", 0) or 0)
    quiet = bool(getattr(args, "quiet", False))
    log_file = getattr(args, "log_file", None)
    if quiet:
        from tuipacs.cli import output

        output.ProgressBar.quiet = True
    if not (verbose or quiet or log_file):
        return
    if verbose and quiet:
        raise CliError("--verbose and --quiet do not go together")
    level = logging.DEBUG if verbose > 1 else logging.INFO
    root = logging.getLogger()
    handlers: list[logging.Handler] = []
    stderr = logging.StreamHandler(sys.stderr)
    if quiet:
        stderr.setLevel(logging.ERROR)
        stderr.setFormatter(logging.Formatter("tuipacs: %(message)s"))
    elif verbose or serve:
        stderr.setLevel(level if verbose else logging.INFO)
        stderr.setFormatter(logging.Formatter(LONG_FORMAT))
    else:  # only --log-file: stderr shows what it showed before
        stderr.setLevel(logging.WARNING)
        stderr.setFormatter(logging.Formatter("%(message)s"))
    if not screen:
        handlers.append(stderr)
    if log_file:
        path = Path(log_file).expanduser()
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
            file_handler = logging.FileHandler(path, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write the log file {path}: {exc.strerror}") from None
        file_handler.setLevel(level)
        file_handler.setFormatter(logging.Formatter(LONG_FORMAT))
        handlers.append(file_handler)
    if not handlers:
        return
    for handler in handlers:
        safe_text.protect_handler(handler)
        root.addHandler(handler)
    # only tuipacs' own loggers go below WARNING: other libraries stay at the root's level
    logging.getLogger("tuipacs").setLevel(min(h.level for h in handlers))
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
