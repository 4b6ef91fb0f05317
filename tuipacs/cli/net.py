"""The commands that talk to a remote node: ``echo``, ``retrieve`` and ``send`` (``find`` is
in :mod:`tuipacs.cli.find`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuipacs.cli.common import (
    CliError,
    Interrupted,
    add_command,
    client,
    ctrl_c_cancels,
    load_config,
    missing_paths,
    open_archive,
    uid_arg,
)
from tuipacs.cli.output import ProgressBar, count, error_line, human, print_json, say, tidy

if TYPE_CHECKING:
    from tuipacs.cli.common import Subparsers
    from tuipacs.remote import EchoResult, RetrieveResult, SendResult


def register(sub: Subparsers) -> None:
    """Add the network commands."""
    echo = add_command(sub, "echo", cmd_echo, "C-ECHO a node (name or AE@host:port)")
    echo.add_argument("node", metavar="NODE")
    echo.add_argument("--json", action="store_true")

    ret = add_command(sub, "retrieve", cmd_retrieve, "retrieve a study or series into the archive")
    ret.add_argument("node", metavar="NODE")
    ret.add_argument("--study", required=True, metavar="UID", type=uid_arg)
    ret.add_argument(
        "--series", action="append", metavar="UID", type=uid_arg, help="only these series"
    )
    ret.add_argument("--method", choices=("get", "move"), help="default: the node's method")
    ret.add_argument("--json", action="store_true")

    snd = add_command(
        sub,
        "send",
        cmd_send,
        "send files, folders or a study of the archive to a node (C-STORE), as stored",
    )
    snd.add_argument("node", metavar="NODE", help="node name or AE@host:port")
    snd.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to send")
    snd.add_argument(
        "--study", metavar="UID", type=uid_arg, help="send this study from the archive"
    )
    snd.add_argument(
        "--series",
        action="append",
        metavar="UID",
        type=uid_arg,
        help="only these series of --study (repeatable)",
    )
    snd.add_argument("--json", action="store_true")


def cmd_echo(args: argparse.Namespace) -> int:
    """Verify a node (C-ECHO)."""
    cfg = load_config()
    result = client(cfg, cfg.node(args.node)).echo()
    if not result.ok:
        message = f"{result.address}: echo answered {result.status}"
        if args.json:
            print_json(EchoFailure(result, message))
            say(f"tuipacs: error: {message}", err=True)
            return 1
        raise CliError(message)
    if args.json:
        print_json(result)
    else:
        say(f"{result.address}: echo ok in {result.ms:.1f} ms ({result.status})")
    return 0


@dataclass(frozen=True)
class EchoFailure:
    """``echo --json`` when the node answered with a failure status."""

    result: EchoResult
    error: str

    def to_json(self) -> dict[str, Any]:
        """The echo's object with ``ok: false`` and ``error``."""
        return {**self.result.to_json(), "ok": False, "error": self.error}


def cmd_retrieve(args: argparse.Namespace) -> int:
    """Retrieve a study (or series) from a node into the archive."""
    import threading

    from tuipacs.remote import RetrieveProgress

    cfg = load_config()
    node = cfg.node(args.node)
    archive = open_archive()
    remote = client(cfg, node, archive, method=args.method)
    bar = ProgressBar("retrieving")

    def progress(p: RetrieveProgress) -> None:
        bar(p.completed + p.failed + p.skipped + p.warning, max(p.total, 1))

    cancel = threading.Event()
    with ctrl_c_cancels(cancel, bar.stop):
        result = remote.retrieve(args.study, args.series, progress=progress, cancel=cancel)
    if cancel.is_set():
        raise Interrupted(
            f"{result.completed} images kept, the others not fetched; "
            "run the same command again to fetch the rest"
        )
    errors = list(result.errors)
    if args.series and result.total == 0 and not result.completed + result.skipped:
        # the node's answer names only the study; the series asked for is what is missing
        which = ", ".join(args.series)
        errors = [
            f"{node.name} lists no instances for series {which} of study {args.study}: "
            f"check the UIDs (tuipacs find {args.node} --level series "
            f"-k StudyInstanceUID={args.study})"
        ]
    if not result.ok and not result.completed + result.skipped and errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        if args.json:
            print_json(RetrieveFailure(result, errors[0] + more))
            say(f"tuipacs: error: {tidy(errors[0])}{more}", err=True)
            return 1
        raise CliError(errors[0] + more)
    if args.json:
        print_json(RetrieveFailure(result, errors[0]) if errors else result)
    else:
        for message in errors:
            error_line(message)
        for message in result.refused:
            error_line(message, "refused")
        say(
            f"{count(result.completed, 'image')} received, {result.skipped} already here, "
            f"{result.failed} failed, {count(result.warning, 'warning')} "
            f"({human(result.bytes)} in {result.seconds:.1f} s, {result.mb_per_s:.0f} MB/s)"
        )
    return 0 if result.ok else 1


@dataclass(frozen=True)
class RetrieveFailure:
    """``retrieve --json`` after a failure: the result with ``ok: false`` and ``error``."""

    result: RetrieveResult
    error: str

    def to_json(self) -> dict[str, Any]:
        """The result's object plus the first error."""
        return {**self.result.to_json(), "ok": False, "error": self.error}


def cmd_send(args: argparse.Namespace) -> int:
    """Send files (or folders) to a node with C-STORE, as stored; exit status 1 if a file
    failed or nothing was sent (files that are not DICOM are skipped, as by import)."""
    from tuipacs.remote import RemoteNetError
    from tuipacs.store.importer import collect_files

    cfg = load_config()
    if args.series and not args.study:
        raise CliError("--series needs --study")
    if bool(args.paths) == bool(args.study):
        raise CliError("give files or folders to send, or --study UID (not both)")
    if args.study:
        files = archived_files(args.study, args.series or [])
        remote = client(cfg, cfg.node(args.node))
    else:
        remote = client(cfg, cfg.node(args.node))
        missing_paths(args.paths)
        files = list(collect_files([Path(p) for p in args.paths]))
    try:
        result = remote.send(files, progress=ProgressBar("sending"))
    except RemoteNetError as exc:
        raise CliError(f"{exc} (nothing was sent)") from exc
    # a file the node refused or that could not be read fails the send; a file that is not
    # DICOM is skipped (as by import), but a send that sent nothing at all has failed
    failed = bool(result.failed or (not result.sent and (result.skipped or result.errors)))
    if failed and not result.sent and len(result.errors) == 1:
        path, message = result.errors[0]
        raise CliError(_with_path(path, message) + " (nothing was sent)")
    if args.json:
        if failed:
            error = _with_path(*result.errors[0]) if result.errors else "not every file was sent"
            print_json(SendFailure(result, tidy(error)))
        else:
            print_json(result)
    else:
        for path, message in result.errors:
            error_line(_with_path(path, message))
        say(
            f"{result.sent} sent ({result.warnings} with warnings), {result.failed} failed, "
            f"{result.skipped} skipped, {human(result.bytes)} in {result.seconds:.1f} s"
        )
    return 1 if failed else 0


def archived_files(study_uid: str, series_uids: list[str]) -> list[Path]:
    """The archive's files of ``study_uid`` (only ``series_uids`` when given), series by
    series in reading order; CliError naming what is missing."""
    from tuipacs.store.query import get_study, list_instances, list_series

    archive = open_archive()
    if get_study(archive, study_uid) is None:
        raise CliError(f"study {study_uid} is not in the archive (`tuipacs ls` lists them)")
    series = [row.series_uid for row in list_series(archive, study_uid)]
    for uid in series_uids:
        if uid not in series:
            raise CliError(f"series {uid} is not in study {study_uid} (`tuipacs ls {study_uid}`)")
    chosen = [uid for uid in series if not series_uids or uid in series_uids]
    return [row.path for uid in chosen for row in list_instances(archive, uid)]


def _with_path(path: str, message: str) -> str:
    """``message`` naming the file by its full path (messages name only the file)."""
    if message.startswith(path):
        return message
    return f"{path}: {message.removeprefix(Path(path).name + ': ')}"


@dataclass(frozen=True)
class SendFailure:
    """``send --json`` after a failure: the result with ``ok: false`` and ``error``."""

    result: SendResult
    error: str

    def to_json(self) -> dict[str, Any]:
        """The result's object plus ``ok`` and the first error."""
        return {**self.result.to_json(), "ok": False, "error": self.error}
