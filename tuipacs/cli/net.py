"""The commands that talk to a remote node: ``echo``, ``find``, ``retrieve`` and ``send``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tuipacs.cli.common import (
    CliError,
    add_command,
    audit,
    load_config,
    missing_paths,
    open_archive,
)
from tuipacs.cli.output import ProgressBar, human, print_json, say, table
from tuipacs.dicom.errors import DicomNetError

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
    """C-ECHO a node."""
    from tuipacs.dicom.scu import echo

    cfg = load_config()
    node = cfg.node(args.node)
    result = echo(node, cfg.local_ae())
    if args.json:
        print_json(
            {
                "node": node.name,
                "address": node.address,
                "ok": result.ok,
                "ms": round(result.ms, 2),
                "total_ms": round(result.total_ms, 2),
                "status": result.status,
            }
        )
    else:
        state = "ok" if result.ok else "FAILED"
        say(f"{node.address}: echo {state} in {result.ms:.1f} ms ({result.status})")
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
    """C-FIND on a node."""
    from tuipacs.dicom.scu import find

    cfg = load_config()
    node = cfg.node(args.node)
    rows = find(
        node,
        cfg.local_ae(),
        level=args.level,
        root=args.root,
        keys=_parse_keys(args.key),
        limit=args.limit or None,
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

    from tuipacs.dicom.retrieve import RetrieveProgress, retrieve
    from tuipacs.dicom.storage import ReceivedInstance
    from tuipacs.store.identity import RefusedError

    cfg = load_config()
    node = cfg.node(args.node)
    archive = open_archive()
    bar = ProgressBar("retrieving")

    def progress(p: RetrieveProgress) -> None:
        bar(p.completed + p.failed + p.skipped + p.warning, max(p.total, 1))

    refused: list[str] = []

    def sink(path: Path, _info: ReceivedInstance) -> None:
        try:
            archive.add_file(path, move=True, source=f"retrieve from {node.name}")
        except RefusedError as exc:  # answered as a failure; reported below
            refused.append(str(exc))
            raise

    cancel = threading.Event()
    try:
        summary = retrieve(
            node,
            cfg.local_ae(),
            args.study,
            sink=sink,
            series_uids=args.series or None,
            method=args.method,
            have=archive.has_instance,
            have_any=archive.has_study,
            progress=progress,
            cancel=cancel,
        )
    except KeyboardInterrupt:
        cancel.set()
        raise
    data = {
        "node": node.name,
        "study_uid": args.study,
        "method": summary.method,
        "total": summary.total,
        "completed": summary.completed,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "warning": summary.warning,
        "bytes": summary.bytes,
        "seconds": round(summary.seconds, 3),
        "mb_per_s": round(summary.mb_per_s, 1),
        "first_image_seconds": summary.first_image_seconds,
        "cancelled": summary.cancelled,
        "errors": summary.errors,
        "refused": refused,
        "ok": summary.ok and not refused,
    }
    audit(
        cfg, "retrieve", node=node.name, address=node.address, study_uid=args.study,
        series_uids=list(args.series or []), method=summary.method,
        received=summary.completed, failed=summary.failed, refused=len(refused),
    )  # fmt: skip
    if args.json:
        print_json(data)
    else:
        for message in summary.errors:
            say(f"error: {message}", err=True)
        for message in refused:
            say(f"refused: {message}", err=True)
        say(
            f"{summary.completed} received, {summary.skipped} already here, "
            f"{summary.failed} failed, {summary.warning} warnings "
            f"({human(summary.bytes)} in {summary.seconds:.1f} s, {summary.mb_per_s:.0f} MB/s)"
        )
    return 0 if summary.ok and not refused else 1


def cmd_send(args: argparse.Namespace) -> int:
    """Send files (or folders) to a node with C-STORE, as stored."""
    from tuipacs.dicom.send import send
    from tuipacs.store.importer import collect_files

    cfg = load_config()
    node = cfg.node(args.node)
    missing_paths(args.paths)
    paths = [Path(p) for p in args.paths]
    files = list(collect_files(paths))
    try:
        summary = send(node, cfg.local_ae(), files, progress=ProgressBar("sending"))
    except DicomNetError as exc:
        raise CliError(f"{exc} (nothing was sent)") from exc
    audit(
        cfg, "send", node=node.name, address=node.address, files=len(files),
        sent=summary.sent, failed=summary.failed,
    )  # fmt: skip
    if args.json:
        print_json(summary.to_json())
    else:
        for _path, message in summary.errors:
            say(f"error: {message}", err=True)
        say(
            f"{summary.sent} sent ({summary.warnings} with warnings), {summary.failed} failed, "
            f"{summary.skipped} skipped, {human(summary.bytes)} in {summary.seconds:.1f} s"
        )
    return 0 if not summary.failed else 1
