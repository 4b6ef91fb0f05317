"""The commands that talk to a remote node: ``echo``, ``find``, ``retrieve`` and ``send``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tuipacs.cli.common import (
    CliError,
    Interrupted,
    add_command,
    client,
    ctrl_c_cancels,
    load_config,
    missing_paths,
    open_archive,
)
from tuipacs.cli.output import ProgressBar, human, print_json, say, table

if TYPE_CHECKING:
    from tuipacs.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    """Add the network commands."""
    echo = add_command(sub, "echo", cmd_echo, "C-ECHO a node (name or AE@host:port)")
    echo.add_argument("node", metavar="NODE")
    echo.add_argument("--json", action="store_true")

    find = add_command(sub, "find", cmd_find, "C-FIND on a node")
    find.add_argument("node", metavar="NODE")
    find.add_argument("--level", choices=("patient", "study", "series", "image"), default="study")
    find.add_argument("--root", choices=("study", "patient"), default="study")
    find.add_argument(
        "-k",
        "--key",
        action="append",
        default=[],
        metavar="Keyword=Value",
        help="matching key, e.g. PatientName='DOE*' StudyDate=20240101-20241231",
    )
    find.add_argument("--limit", type=int, default=0, help="stop after this many matches")
    find.add_argument("--json", action="store_true")

    ret = add_command(sub, "retrieve", cmd_retrieve, "retrieve a study or series into the archive")
    ret.add_argument("node", metavar="NODE")
    ret.add_argument("--study", required=True, metavar="UID")
    ret.add_argument("--series", action="append", metavar="UID", help="only these series")
    ret.add_argument("--method", choices=("get", "move"), help="default: the node's method")
    ret.add_argument("--json", action="store_true")

    snd = add_command(sub, "send", cmd_send, "send files or folders to a node (C-STORE), as stored")
    snd.add_argument("node", metavar="NODE", help="node name or AE@host:port")
    snd.add_argument("paths", nargs="+", metavar="PATH")
    snd.add_argument("--json", action="store_true")


def cmd_echo(args: argparse.Namespace) -> int:
    """Verify a node (C-ECHO)."""
    cfg = load_config()
    result = client(cfg, cfg.node(args.node)).echo()
    if args.json:
        print_json(result)
    else:
        state = "ok" if result.ok else "FAILED"
        say(f"{result.address}: echo {state} in {result.ms:.1f} ms ({result.status})")
    return 0 if result.ok else 1


def _parse_keys(pairs: list[str]) -> dict[str, str]:
    """``Keyword=Value`` pairs of ``-k`` as a dict (CliError for a pair without ``=``)."""
    keys = {}
    for pair in pairs:
        keyword, sep, value = pair.partition("=")
        if not sep or not keyword:
            raise CliError(f"bad -k {pair!r}: use Keyword=Value, e.g. -k PatientName='DOE*'")
        keys[keyword.strip()] = value
    return keys


_FIND_COLUMNS = {
    "patient": ["PatientName", "PatientID", "PatientBirthDate", "PatientSex"],
    "study": [
        "PatientName",
        "PatientID",
        "StudyDate",
        "ModalitiesInStudy",
        "StudyDescription",
        "AccessionNumber",
        "NumberOfStudyRelatedInstances",
        "StudyInstanceUID",
    ],
    "series": [
        "SeriesNumber",
        "Modality",
        "SeriesDescription",
        "NumberOfSeriesRelatedInstances",
        "SeriesInstanceUID",
    ],
    "image": ["InstanceNumber", "SOPClassUID", "SOPInstanceUID"],
}


def cmd_find(args: argparse.Namespace) -> int:
    """Query a node (C-FIND)."""
    cfg = load_config()
    rows = client(cfg, cfg.node(args.node)).find(
        level=args.level, root=args.root, keys=_parse_keys(args.key), limit=args.limit or None
    )
    if args.json:
        print_json(rows)
        return 0
    columns = _FIND_COLUMNS[args.level]
    table([[r.get(c, "") for c in columns] for r in rows], columns)
    say(f"{len(rows)} matches", err=True)
    return 0


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
    if args.json:
        print_json(result)
    else:
        for message in result.errors:
            say(f"error: {message}", err=True)
        for message in result.refused:
            say(f"refused: {message}", err=True)
        say(
            f"{result.completed} received, {result.skipped} already here, "
            f"{result.failed} failed, {result.warning} warnings "
            f"({human(result.bytes)} in {result.seconds:.1f} s, {result.mb_per_s:.0f} MB/s)"
        )
    return 0 if result.ok else 1


def cmd_send(args: argparse.Namespace) -> int:
    """Send files (or folders) to a node with C-STORE, as stored."""
    from tuipacs.remote import RemoteNetError
    from tuipacs.store.importer import collect_files

    cfg = load_config()
    remote = client(cfg, cfg.node(args.node))
    missing_paths(args.paths)
    files = list(collect_files([Path(p) for p in args.paths]))
    try:
        result = remote.send(files, progress=ProgressBar("sending"))
    except RemoteNetError as exc:
        raise CliError(f"{exc} (nothing was sent)") from exc
    if args.json:
        print_json(result)
    else:
        for _path, message in result.errors:
            say(f"error: {message}", err=True)
        say(
            f"{result.sent} sent ({result.warnings} with warnings), {result.failed} failed, "
            f"{result.skipped} skipped, {human(result.bytes)} in {result.seconds:.1f} s"
        )
    return 0 if not result.failed else 1
