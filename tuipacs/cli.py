"""Headless commands. ``tuipacs`` with no command opens the TUI.

Heavy modules (pydicom, pynetdicom, textual) are imported inside the commands that need them,
so ``tuipacs --help`` and simple commands start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuipacs import __version__, config, locations

if TYPE_CHECKING:
    from tuipacs.store.archive import Archive


class CliError(Exception):
    """An error reported as one line on stderr with a non-zero exit."""


# -- output helpers ----------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _table(rows: list[list[str]], headers: list[str]) -> None:
    """Print an aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    for row in [headers, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, label: str, enabled: bool | None = None) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        percent = done * 100 // total
        if percent == self._last and done != total:
            return
        self._last = percent
        width = 30
        filled = width * done // total
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {done}/{total} {percent:3d}%")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


# -- shared state ------------------------------------------------------------------------------


def _config() -> config.Config:
    try:
        return config.load()
    except config.ConfigError as exc:
        raise CliError(str(exc)) from exc


def open_archive() -> Archive:
    """Open the local archive named by the locations (TUIPACS_HOME or XDG)."""
    from tuipacs.store.archive import Archive, ArchiveError
    from tuipacs.store.schema import SchemaError

    try:
        return Archive.open(locations.archive_dir())
    except (ArchiveError, SchemaError) as exc:
        raise CliError(str(exc)) from exc


# -- commands ----------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    """Import files, folders and DICOMDIRs."""
    from tuipacs.store.archive import ArchiveError
    from tuipacs.store.importer import import_paths

    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CliError(f"no such file or folder: {', '.join(missing)}")
    archive = open_archive()
    try:
        summary = import_paths(
            archive, paths, link=args.link, progress=ProgressBar("importing", None)
        )
    except ArchiveError as exc:
        raise CliError(f"{exc} (nothing half-written was kept; free space and re-run)") from exc
    if args.json:
        _print_json(summary.to_json())
    else:
        for _path, message in summary.errors:
            print(f"error: {message}", file=sys.stderr)
        print(
            f"{summary.added} added, {summary.duplicates} already present, "
            f"{summary.not_dicom} not DICOM skipped, {len(summary.errors)} failed "
            f"({len(summary.studies)} studies, {_human(summary.bytes_added)}, "
            f"{summary.seconds:.1f} s)"
        )
    return 1 if summary.errors and not summary.added and not summary.duplicates else 0


def cmd_ls(args: argparse.Namespace) -> int:
    """List studies, or the series of one study."""
    from tuipacs.store.query import FilterError, StudyFilter, list_series, list_studies

    archive = open_archive()
    if args.study:
        series = list_series(archive, args.study)
        if not series:
            raise CliError(f"no study {args.study} in the archive (see 'tuipacs ls')")
        if args.json:
            _print_json([s.to_json() for s in series])
        else:
            rows = [
                [s.series_number, s.modality, s.description, str(s.num_instances), s.series_uid]
                for s in series
            ]
            _table(rows, ["#", "MOD", "DESCRIPTION", "IMAGES", "SERIES UID"])
        return 0
    flt = StudyFilter(
        patient_name=args.name or "",
        patient_id=args.id or "",
        date=args.date or "",
        modality=args.modality or "",
        accession=args.accession or "",
    )
    try:
        studies = list_studies(archive, flt, limit=args.limit)
    except FilterError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        _print_json([s.to_json() for s in studies])
        return 0
    rows = [
        [
            s.patient_name,
            s.patient_id,
            s.study_date,
            s.modalities.replace("\\", ","),
            s.description,
            s.accession,
            str(s.num_instances),
            s.study_uid,
        ]
        for s in studies
    ]
    _table(rows, ["PATIENT", "ID", "DATE", "MOD", "DESCRIPTION", "ACCESSION", "IMAGES", "UID"])
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    """Show archive usage; ``--evict`` applies the size limit now."""
    cfg = _config()
    archive = open_archive()
    limit = args.limit if args.limit is not None else cfg.archive_limit
    evicted = None
    if args.evict:
        if not limit:
            raise CliError('no archive limit set: put archive_limit = "20 GB" in config.toml')
        evicted = archive.evict(limit)
    usage = archive.usage()
    data = {
        "archive": str(archive.root),
        "bytes": usage.bytes,
        "limit": limit,
        "studies": usage.studies,
        "series": usage.series,
        "instances": usage.instances,
        "pinned_studies": usage.pinned_studies,
    }
    if evicted is not None:
        data["evicted_studies"] = evicted.studies
        data["bytes_freed"] = evicted.bytes_freed
    if args.json:
        _print_json(data)
        return 0
    print(f"archive   {archive.root}")
    limit_text = _human(limit) if limit else "none"
    print(f"usage     {_human(usage.bytes)} of {limit_text} limit")
    print(f"holds     {usage.studies} studies, {usage.series} series, {usage.instances} images")
    print(f"pinned    {usage.pinned_studies} studies")
    if evicted is not None:
        print(f"evicted   {evicted.studies} studies, {_human(evicted.bytes_freed)} freed")
    return 0


def cmd_pin(args: argparse.Namespace) -> int:
    """Pin or unpin a study (pinned studies are never evicted)."""
    archive = open_archive()
    if not archive.set_pinned(args.study, not args.unpin):
        raise CliError(f"no study {args.study} in the archive (see 'tuipacs ls')")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the synthetic demo studies into the archive."""
    summary = load_demo(open_archive(), ct_slices=args.ct_slices, show_progress=True)
    if args.json:
        _print_json(summary)
    else:
        print(
            f"demo archive ready: {summary['files']} files "
            f"({summary['added']} added, {summary['already_present']} already present)"
        )
    return 0


def load_demo(
    archive: Archive, *, ct_slices: int = 300, show_progress: bool = False
) -> dict[str, Any]:
    """Generate the demo set in the archive's temporary area and import it (moving files)."""
    import tempfile

    from tuipacs import demo
    from tuipacs.store.importer import import_paths

    enabled = None if show_progress else False
    with tempfile.TemporaryDirectory(dir=archive.root / "tmp", prefix="demo-") as tmp:
        files = demo.generate(
            Path(tmp), ct_slices=ct_slices, progress=ProgressBar("generating demo", enabled)
        )
        summary = import_paths(archive, files, progress=ProgressBar("importing", enabled))
    return {
        "files": len(files),
        "added": summary.added,
        "already_present": summary.duplicates,
        "studies": len(summary.studies),
    }


def cmd_render(args: argparse.Namespace) -> int:
    """Render one frame of a DICOM file to PNG with the display pipeline."""
    from tuipacs.imaging.errors import ImagingError
    from tuipacs.imaging.render import render_to_file

    size = None
    if args.size:
        try:
            width, height = (int(v) for v in args.size.lower().split("x"))
            size = (width, height)
        except ValueError as exc:
            raise CliError(f"bad --size {args.size!r}: use WIDTHxHEIGHT, e.g. 512x512") from exc
    try:
        render_to_file(
            Path(args.file),
            Path(args.output),
            frame=args.frame,
            window=tuple(args.window) if args.window else None,
            preset=args.preset,
            size=size,
            overlays=not args.no_overlays,
        )
    except ImagingError as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    """Open the terminal user interface."""
    cfg = _config()
    archive = open_archive()
    from tuipacs.store.query import list_studies

    if not list_studies(archive, limit=1):
        print("first run: generating the demo archive...", file=sys.stderr)
        load_demo(archive, show_progress=True)
    from tuipacs.app.main import run_app

    return run_app(archive, cfg, graphics=args.graphics, theme=args.theme)


# -- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tuipacs",
        description="A PACS workstation in the terminal. With no command, opens the viewer.",
    )
    parser.add_argument("--version", action="version", version=f"tuipacs {__version__}")
    parser.add_argument("--graphics", choices=config.GRAPHICS, help="image protocol")
    parser.add_argument("--theme", help="colour theme (reading-room, light, high-contrast)")
    parser.set_defaults(func=cmd_tui)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> Any:
        cmd = sub.add_parser(name, help=help_, description=help_)
        cmd.set_defaults(func=func)
        return cmd

    imp = add("import", cmd_import, "import DICOM files, folders or DICOMDIRs into the archive")
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument("--link", action="store_true", help="index files in place instead of copying")
    imp.add_argument("--json", action="store_true", help="print a JSON summary")

    ls = add("ls", cmd_ls, "list studies in the archive (or the series of one study)")
    ls.add_argument("--name", help="patient name, * and ? wildcards, case-insensitive")
    ls.add_argument("--id", help="patient ID")
    ls.add_argument("--date", help="study date YYYYMMDD or range FROM-TO (either side optional)")
    ls.add_argument("--modality", help="modality in study, e.g. CT")
    ls.add_argument("--accession", help="accession number")
    ls.add_argument("--study", metavar="UID", help="list the series of this study")
    ls.add_argument("--limit", type=int, default=0, help="at most this many studies")
    ls.add_argument("--json", action="store_true", help="machine-readable rows with UIDs")

    cache = add("cache", cmd_cache, "show archive usage; --evict applies the size limit")
    cache.add_argument("--evict", action="store_true", help="evict least recently opened studies")
    cache.add_argument("--limit", type=config.parse_size, help="size limit, e.g. '20 GB'")
    cache.add_argument("--json", action="store_true")

    pin = add("pin", cmd_pin, "pin a study so it is never evicted")
    pin.add_argument("study", metavar="STUDY_UID")
    pin.add_argument("--unpin", action="store_true", help="remove the pin")

    demo = add("demo", cmd_demo, "generate the synthetic demo studies into the archive")
    demo.add_argument("--ct-slices", type=int, default=300, help="slices of the demo CT")
    demo.add_argument("--json", action="store_true")

    render = add("render", cmd_render, "render one frame of a DICOM file to PNG")
    render.add_argument("file", metavar="FILE")
    render.add_argument("-o", "--output", required=True, metavar="OUT.png")
    render.add_argument("--frame", type=int, default=1, help="frame number, 1-based")
    group = render.add_mutually_exclusive_group()
    group.add_argument("--window", nargs=2, type=float, metavar=("CENTER", "WIDTH"))
    group.add_argument("--preset", help="window preset, e.g. lung, bone, brain, auto, minmax")
    render.add_argument("--size", metavar="WxH", help="output size in pixels (keeps aspect)")
    render.add_argument("--no-overlays", action="store_true", help="do not draw overlay planes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; errors are one line on stderr and a non-zero exit."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not os.environ.get("TUIPACS_DEBUG"):
        warnings.simplefilter("ignore")
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"tuipacs: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tuipacs: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: never show a traceback
        if os.environ.get("TUIPACS_DEBUG"):
            raise
        print(
            f"tuipacs: error: unexpected {type(exc).__name__}: {exc} "
            "(set TUIPACS_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 2
