"""Headless commands. ``tuipacs`` with no command opens the TUI.

One module per command group, each adding its commands (``register``) beside their handlers:
``store`` (import, ls, pin, quarantine), ``cache``, ``admin`` (delete, verify), ``find``,
``net`` (echo, retrieve, send), ``node``, ``config_cmd`` (config check/show), ``serve``,
``render``, ``export``, ``demo``, ``docs`` (completion, man) and ``tui`` (no command). ``output``
prints (every value sanitised), ``shapes`` holds the JSON convention, ``common`` the
one-line error, the config and the archive; ``logs`` the -v/-q/--log-file options.

Heavy modules (pydicom, pynetdicom, textual) are imported inside the commands that need them,
so ``tuipacs --help`` and simple commands start fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import stat
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import NoReturn

from tuipacs import __version__, config, safe_text
from tuipacs.cli import (
    admin,
    cache,
    config_cmd,
    demo,
    docs,
    export,
    find,
    logs,
    net,
    node,
    render,
    serve,
    store,
    tui,
)
from tuipacs.cli.common import CliError, Interrupted, close_archives
from tuipacs.cli.output import Failure, print_json, say, tidy
from tuipacs.dicom.errors import DicomError
from tuipacs.remote.results import RemoteError

__all__ = ["EXIT_CLOSED_PIPE", "CliError", "build_parser", "main"]


class Parser(argparse.ArgumentParser):
    """argparse with the one-line error of every other failure (no usage block)."""

    def error(self, message: str) -> NoReturn:
        """``tuipacs: error: ...`` and where to look, then exit status 2."""
        say(f"tuipacs: error: {message} (see '{self.prog} --help')", err=True)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = Parser(
        prog="tuipacs",
        description="A PACS workstation in the terminal. With no command, opens the viewer.",
    )
    parser.add_argument("--version", action="version", version=f"tuipacs {__version__}")
    logs.add_options(parser)
    tui.register(parser)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    groups = (store, cache, admin, render, export, node, config_cmd, find, net, serve, demo, docs)
    for group in groups:
        group.register(sub)
    return parser


#: Exit status after the reader of our output went away: 128 + SIGPIPE (13), as a shell
#: reports a process killed by SIGPIPE.
EXIT_CLOSED_PIPE = 141


def _stdout_is_pipe() -> bool:
    """True if stdout is a pipe or socket (where EPIPE means the reader has gone)."""
    try:
        mode = os.fstat(sys.stdout.fileno()).st_mode
    except (AttributeError, OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _closed_pipe() -> int:
    """Stop quietly after the reader of stdout went away (``tuipacs ls | head -1``).

    As in the recipe of the Python docs (signal module, "Note on SIGPIPE"): point stdout
    at /dev/null so that the flush at exit cannot fail again, and exit with 141.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_CLOSED_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; errors are one line on stderr and a non-zero exit."""
    parser = build_parser()
    args = parser.parse_args(argv)
    safe_text.protect_logging()  # no log line written to stderr carries raw data
    if not os.environ.get("TUIPACS_DEBUG"):
        warnings.simplefilter("ignore")
        # pydicom also logs its warnings, quoting the odd values (names, IDs)
        logging.getLogger("pydicom").setLevel(logging.ERROR)
    try:
        logs.setup(args, serve=args.func is serve.cmd_serve, screen=args.func is tui.cmd_tui)
        code = int(args.func(args))
        sys.stdout.flush()  # short outputs meet a closed pipe only here
        return code
    except BrokenPipeError as exc:
        if _stdout_is_pipe():
            return _closed_pipe()
        return _failed(args, _unexpected(exc), 2)
    except (CliError, DicomError, RemoteError, config.ConfigError) as exc:
        return _failed(args, f"error: {exc}", 1)
    except Interrupted as exc:
        return _failed(args, f"interrupted: {exc}", 130)
    except KeyboardInterrupt:
        threading.excepthook = _quiet_thread  # workers stopped mid-step may still raise
        return _failed(args, "interrupted", 130)
    except Exception as exc:  # last resort: never show a traceback
        return _failed(args, _unexpected(exc), 2)
    finally:
        close_archives()


def _quiet_thread(args: threading.ExceptHookArgs) -> None:
    """After Ctrl-C, a worker thread's error is the interruption's echo: not shown."""
    if os.environ.get("TUIPACS_DEBUG"):
        threading.__excepthook__(args)


def _failed(args: argparse.Namespace, message: str, code: int) -> int:
    """One ``tuipacs:`` line on stderr (and ``{"ok": false, "error": ...}`` on stdout for
    ``--json``); returns the exit status ``code``."""
    text = tidy(message)
    say(f"tuipacs: {text}", err=True)
    if getattr(args, "json", False):
        print_json(Failure(text.removeprefix("error: ")))
    return code


def _unexpected(exc: Exception) -> str:
    """The one-line report of an unexpected exception (re-raised with TUIPACS_DEBUG set)."""
    if os.environ.get("TUIPACS_DEBUG"):
        raise exc
    return f"error: unexpected {type(exc).__name__}: {exc} (set TUIPACS_DEBUG=1 for details)"
