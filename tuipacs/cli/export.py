"""``tuipacs export``: a study of the archive to a folder, a DICOMDIR, a zip or PNGs, as
stored or de-identified (DICOM PS3.15 Basic Profile; see :mod:`tuipacs.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tuipacs.cli.common import (
    CliError,
    Interrupted,
    add_command,
    ctrl_c_cancels,
    load_config,
    open_archive,
    uid_arg,
)
from tuipacs.cli.output import ProgressBar, count, error_line, human, print_json, say

if TYPE_CHECKING:
    from tuipacs.cli.common import Subparsers


def _name_arg(text: str) -> str:
    """A new patient name or ID: printable, at most 64 characters."""
    if not text.strip() or len(text) > 64 or not text.isprintable() or "\\" in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} cannot be used: give 1 to 64 printable characters, no backslash"
        )
    return text.strip()


def register(sub: Subparsers) -> None:
    """Add ``export``."""
    exp = add_command(
        sub, "export", cmd_export, "export a study of the archive, optionally anonymized"
    )
    exp.add_argument("--study", required=True, metavar="UID", type=uid_arg)
    exp.add_argument(
        "--series", action="append", metavar="UID", type=uid_arg, help="only these series"
    )
    exp.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="a folder (or OUT.zip for zip)"
    )
    exp.add_argument(
        "--format",
        default="dicom",
        choices=("dicom", "dicomdir", "zip", "png"),
        help="default: dicom (the files, a folder per series)",
    )
    exp.add_argument("--force", action="store_true", help="write into a folder not empty")
    exp.add_argument(
        "--anonymize", action="store_true", help="de-identify (DICOM PS3.15 Basic Profile)"
    )
    exp.add_argument(
        "--dates",
        default="shift",
        choices=("shift", "remove", "keep"),
        help="with --anonymize: shift dates per patient (default), remove or keep them",
    )
    exp.add_argument("--patient-id", metavar="NEW", type=_name_arg, help="with --anonymize")
    exp.add_argument("--patient-name", metavar="NEW", type=_name_arg, help="with --anonymize")
    exp.add_argument(
        "--allow-burned-in",
        action="store_true",
        help="with --anonymize: export images that may show patient data in their pixels",
    )
    view = exp.add_mutually_exclusive_group()
    view.add_argument("--window", nargs=2, type=float, metavar=("CENTER", "WIDTH"), help="for png")
    view.add_argument("--preset", help="for png: window preset, e.g. lung, bone, brain")
    exp.add_argument("--json", action="store_true")


def cmd_export(args: argparse.Namespace) -> int:
    """Export a study (or some of its series); exit status 1 if a file was left out."""
    import threading

    from tuipacs.export import (
        AnonymizeOptions,
        ExportError,
        ExportOptions,
        plan_export,
        run_export,
    )

    anonymizing = (args.dates != "shift", args.patient_id, args.patient_name, args.allow_burned_in)
    if any(anonymizing) and not args.anonymize:
        raise CliError(
            "--dates, --patient-id, --patient-name and --allow-burned-in go with --anonymize"
        )
    if args.format != "png" and (args.window or args.preset):
        raise CliError("--window and --preset are for --format png")
    load_config()
    anonymize = None
    if args.anonymize:
        anonymize = AnonymizeOptions(
            dates=args.dates,
            patient_id=args.patient_id,
            patient_name=args.patient_name,
            allow_burned_in=args.allow_burned_in,
        )
    options = ExportOptions(
        Path(args.output),
        args.format,
        force=args.force,
        anonymize=anonymize,
        window=tuple(args.window) if args.window else None,
        preset=args.preset,
    )
    bar = ProgressBar("exporting")
    cancel = threading.Event()
    try:
        plan = plan_export(open_archive(), args.study, args.series)
        with ctrl_c_cancels(cancel, bar.stop):
            result = run_export(plan, options, progress=bar, cancel=cancel)
    except ExportError as exc:
        bar.stop()
        raise CliError(str(exc)) from None
    if result.cancelled:
        raise Interrupted("nothing kept (the files written were removed)")
    if args.json:
        print_json(result)
    else:
        for message in result.errors:
            error_line(message)
        extra = f", {result.skipped} not images skipped" if result.skipped else ""
        say(
            f"{count(result.count, 'file')} written to {result.output} "
            f"({human(result.bytes)} in {result.seconds:.1f} s{extra}, {result.failed} failed)"
        )
    return 1 if result.failed else 0
