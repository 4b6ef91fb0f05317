"""Headless commands. ``tuipacs`` with no command opens the TUI.

Heavy modules (pydicom, pynetdicom, textual) are imported inside the commands that need them,
so ``tuipacs --help`` and simple commands start fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import stat
import sys
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuipacs import __version__, config, locations, safe_text
from tuipacs.audit import uid_list
from tuipacs.dicom.errors import DicomError, DicomNetError

if TYPE_CHECKING:
    from tuipacs.store.archive import Archive


class CliError(Exception):
    """An error reported as one line on stderr with a non-zero exit."""


# -- output helpers ----------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    """``data`` as JSON on stdout: exact values, with no raw control or bidi character."""
    sys.stdout.write(safe_text.escape_json(json.dumps(data, indent=2, ensure_ascii=False)))
    sys.stdout.write("\n")


def _say(text: str, err: bool = False) -> None:
    """Print one line (on stderr with ``err``), every control or bidi character in it
    replaced (:func:`tuipacs.safe_text.clean`): values from files and peers, file names
    and error messages that quote them are untrusted."""
    print(safe_text.clean(text), file=sys.stderr if err else sys.stdout)


def _width(text: str) -> int:
    """Terminal columns of ``text`` (East Asian wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _table(rows: list[list[str]], headers: list[str]) -> None:
    """Print an aligned text table (each cell cleaned: :func:`tuipacs.safe_text.clean`)."""
    rows = [[safe_text.clean(str(c)) for c in row] for row in rows]
    widths = [_width(h) for h in headers]
    for row in rows:
        widths = [max(w, _width(c)) for w, c in zip(widths, row, strict=True)]
    for row in [headers, *rows]:
        cells = (c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def _file_error(path: str, message: str) -> str:
    """One error line naming the file by its full path (messages name only the file)."""
    if message.startswith(path):
        return message
    return f"{path}: {message.removeprefix(Path(path).name + ': ')}"


def _size_arg(text: str) -> int:
    """An argparse type for sizes such as ``500M`` or ``20 GB`` (a clear error otherwise)."""
    try:
        return config.parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size; use e.g. 500M, 20G or '20 GB'"
        ) from None


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
    """The config file, applied to this process (the decode limit)."""
    from tuipacs.imaging.limits import set_decode_limit

    try:
        cfg = config.load()
    except config.ConfigError as exc:
        raise CliError(str(exc)) from exc
    set_decode_limit(cfg.decode_limit)
    return cfg


def _audit(cfg: config.Config, event: str, **fields: Any) -> None:
    """One line in the archive's audit log (tuipacs.audit), unless ``audit = false``."""
    from tuipacs.audit import AuditLog

    AuditLog.for_archive(locations.archive_dir(), cfg.audit).record(event, **fields)


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
    """Import files, folders and DICOMDIRs.

    Exit status 1 if any file failed: DICOM files that cannot be read (truncated,
    corrupt, missing UIDs, I/O errors), an unreadable DICOMDIR, files refused by the
    identity rules (a series of another study, a study of another patient) and different
    objects with a SOP Instance UID the archive holds (conflicts); the last two go to the
    quarantine (``tuipacs quarantine``). Files that are not DICOM (no DICOM preamble) and
    DICOMDIRs inside folders are skipped, and files already in the archive (the same
    object) count as present; neither makes the import fail.
    """
    from tuipacs.store.archive import ArchiveError
    from tuipacs.store.importer import import_paths

    cfg = _config()
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
    _audit(
        cfg, "import", files=summary.files, added=summary.added,
        refused=len(summary.refused) + len(summary.conflicts), **uid_list(summary.studies),
    )  # fmt: skip
    if args.json:
        _print_json(summary.to_json())
    else:
        for path, message in summary.errors:
            _say(f"error: {_file_error(path, message)}", err=True)
        for path, message in summary.refused:
            _say(f"refused: {path}: {message}", err=True)
        for path, message in summary.conflicts:
            _say(f"conflict: {path}: {message}", err=True)
        held = len(summary.refused) + len(summary.conflicts)
        _say(
            f"{summary.added} added, {summary.duplicates} already present, "
            f"{summary.not_dicom} not DICOM skipped, {len(summary.errors)} failed"
            + (
                f", {held} quarantined ({len(summary.refused)} refused, "
                f"{len(summary.conflicts)} conflicts: see 'tuipacs quarantine')"
                if held
                else ""
            )
            + f" ({len(summary.studies)} studies, {_human(summary.bytes_added)}, "
            f"{summary.seconds:.1f} s)"
        )
    # as for send: any file that could not be imported makes the exit status 1; files
    # that are not DICOM at all (and DICOMDIRs met in folders) are skipped, not failed
    return 1 if summary.errors or summary.refused or summary.conflicts else 0


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
        _audit(cfg, "delete", reason="evict", **uid_list(evicted.study_uids))
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
    _say(f"archive   {archive.root}")
    limit_text = f"of {_human(limit)} limit" if limit else "(no limit)"
    _say(f"usage     {_human(usage.bytes)} {limit_text}")
    _say(f"holds     {usage.studies} studies, {usage.series} series, {usage.instances} images")
    _say(f"pinned    {usage.pinned_studies} studies")
    if evicted is not None:
        _say(f"evicted   {evicted.studies} studies, {_human(evicted.bytes_freed)} freed")
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
        _say(
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


def _pixels_arg(text: str | None, option: str) -> tuple[int, int] | None:
    """WIDTHxHEIGHT of a render option, or None when not given."""
    if not text:
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise CliError(f"bad {option} {text!r}: use WIDTHxHEIGHT, e.g. 512x512") from exc
    return width, height


def cmd_render(args: argparse.Namespace) -> int:
    """Render one frame of a DICOM file to PNG through the viewer's render path."""
    from tuipacs.imaging.errors import ImagingError, is_fatal, short_reason
    from tuipacs.view.export import render_to_file, view_options

    _config()
    try:
        view = view_options(
            size=_pixels_arg(args.size, "--size"),
            cell=_pixels_arg(args.cell, "--cell"),
            invert=args.invert,
            rotate=args.rotate,
            flip_h="h" in args.flip,
            flip_v="v" in args.flip,
            zoom=args.zoom,
        )
        render_to_file(
            Path(args.file),
            Path(args.output),
            frame=args.frame,
            window=tuple(args.window) if args.window else None,
            preset=args.preset,
            overlays=not args.no_overlays,
            view=view,
        )
    except ImagingError as exc:
        raise CliError(str(exc)) from exc
    except BaseException as exc:  # a decoder's panic (pyo3 PanicException) is no Exception
        if isinstance(exc, Exception) or is_fatal(exc):
            raise
        raise CliError(f"cannot render {Path(args.file).name}: {short_reason(exc)}") from None
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    """Open the terminal user interface."""
    cfg = _config()
    archive = open_archive()
    from tuipacs.store.query import list_studies

    if not list_studies(archive, limit=1):
        _say("first run: generating the demo archive...", err=True)
        load_demo(archive, show_progress=True)
    from tuipacs.app.main import run_app

    if args.serve:
        return run_app(archive, cfg, graphics=args.graphics, theme=args.theme, serve=True)
    return run_app(archive, cfg, graphics=args.graphics, theme=args.theme)


def cmd_send(args: argparse.Namespace) -> int:
    """Send files (or folders) to a node with C-STORE, as stored."""
    from tuipacs.dicom.send import send
    from tuipacs.store.importer import collect_files

    cfg = _config()
    node = cfg.node(args.node)
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CliError(f"no such file or folder: {', '.join(missing)}")
    files = list(collect_files(paths))
    try:
        summary = send(node, cfg.local_ae(), files, progress=ProgressBar("sending"))
    except DicomNetError as exc:
        raise CliError(f"{exc} (nothing was sent)") from exc
    _audit(
        cfg, "send", node=node.name, address=node.address, files=len(files),
        sent=summary.sent, failed=summary.failed,
    )  # fmt: skip
    if args.json:
        _print_json(summary.to_json())
    else:
        for _path, message in summary.errors:
            _say(f"error: {message}", err=True)
        _say(
            f"{summary.sent} sent ({summary.warnings} with warnings), {summary.failed} failed, "
            f"{summary.skipped} skipped, {_human(summary.bytes)} in {summary.seconds:.1f} s"
        )
    return 0 if not summary.failed else 1


def cmd_echo(args: argparse.Namespace) -> int:
    """C-ECHO a node."""
    from tuipacs.dicom.scu import echo

    cfg = _config()
    node = cfg.node(args.node)
    result = echo(node, cfg.local_ae())
    if args.json:
        _print_json(
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
        _say(f"{node.address}: echo {state} in {result.ms:.1f} ms ({result.status})")
    return 0 if result.ok else 1


def _parse_keys(pairs: list[str]) -> dict[str, str]:
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

    cfg = _config()
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
        _print_json(rows)
        return 0
    columns = _FIND_COLUMNS[args.level]
    _table([[r.get(c, "") for c in columns] for r in rows], columns)
    _say(f"{len(rows)} matches", err=True)
    return 0


def cmd_retrieve(args: argparse.Namespace) -> int:
    """Retrieve a study (or series) from a node into the archive."""
    import threading

    from tuipacs.dicom.retrieve import RetrieveProgress, retrieve
    from tuipacs.dicom.storage import ReceivedInstance
    from tuipacs.store.identity import RefusedError

    cfg = _config()
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
    _audit(
        cfg, "retrieve", node=node.name, address=node.address, study_uid=args.study,
        series_uids=list(args.series or []), method=summary.method,
        received=summary.completed, failed=summary.failed, refused=len(refused),
    )  # fmt: skip
    if args.json:
        _print_json(data)
    else:
        for message in summary.errors:
            _say(f"error: {message}", err=True)
        for message in refused:
            _say(f"refused: {message}", err=True)
        _say(
            f"{summary.completed} received, {summary.skipped} already here, "
            f"{summary.failed} failed, {summary.warning} warnings "
            f"({_human(summary.bytes)} in {summary.seconds:.1f} s, {summary.mb_per_s:.0f} MB/s)"
        )
    return 0 if summary.ok and not refused else 1


def cmd_quarantine(args: argparse.Namespace) -> int:
    """List, release or delete quarantined instances (see tuipacs.cli_quarantine)."""
    from tuipacs import cli_quarantine

    return cli_quarantine.run(args, open_archive())


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the archive server in the foreground (Storage, Verification, Q/R SCPs)."""
    from tuipacs.server import ServerError, serve

    cfg = _config()
    archive = open_archive()
    try:
        sync = False if args.no_sync else None
        return serve(archive, cfg, aet=args.aet, port=args.port, bind=args.bind, sync=sync)
    except ServerError as exc:
        raise CliError(str(exc)) from exc


def cmd_node(args: argparse.Namespace) -> int:
    """Add, list or remove configured nodes."""
    from tuipacs.dicom.nodes import Node, parse_node_spec

    cfg = _config()
    nodes = dict(cfg.nodes)
    if args.node_cmd == "add":
        spec = parse_node_spec(args.spec, name=args.name, method=args.method)
        table = spec.to_mapping()
        table.update({"parallel": args.parallel, "timeout": args.timeout})
        Node.from_mapping(args.name, table)  # validate before writing
        nodes[args.name] = {
            k: table[k] for k in ("ae_title", "host", "port", "method", "parallel", "timeout")
        }
        path = config.save_nodes(nodes)
        _say(f"node {args.name} = {spec.address} saved in {path}", err=True)
    elif args.node_cmd == "check":
        from tuipacs.dicom.doctor import check_node

        steps = check_node(cfg.node(args.name), cfg.local_ae())
        if args.json:
            _print_json(
                [
                    {
                        "step": s.name,
                        "ok": s.ok,
                        "skipped": s.skipped,
                        "detail": s.detail,
                        "seconds": round(s.seconds, 3),
                    }
                    for s in steps
                ]
            )
        else:
            for step in steps:
                mark = "skip" if step.skipped else ("ok" if step.ok else "FAIL")
                _say(f"{mark:>4}  {step.name:<16} {step.detail}")
        return 0 if all(s.ok for s in steps) else 1
    elif args.node_cmd == "remove":
        if args.name not in nodes:
            raise CliError(f"no node {args.name!r} (see 'tuipacs node list')")
        del nodes[args.name]
        config.save_nodes(nodes)
    else:
        rows = [cfg.node(name) for name in sorted(nodes)]
        if args.json:
            _print_json([{"name": n.name, **n.to_mapping()} for n in rows])
        else:
            _table(
                [[n.name, n.ae_title, n.host, str(n.port), n.method] for n in rows],
                ["NAME", "AE TITLE", "HOST", "PORT", "METHOD"],
            )
    return 0


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
    parser.add_argument(
        "--serve",
        action="store_true",
        help="also run the Storage/Q-R server in the background (C-MOVE target, live arrivals)",
    )
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
    cache.add_argument("--limit", type=_size_arg, help="size limit, e.g. 500M or '20 GB'")
    cache.add_argument("--json", action="store_true")

    pin = add("pin", cmd_pin, "pin a study so it is never evicted")
    pin.add_argument("study", metavar="STUDY_UID")
    pin.add_argument("--unpin", action="store_true", help="remove the pin")

    from tuipacs import cli_quarantine

    cli_quarantine.add_parser(sub).set_defaults(func=cmd_quarantine)

    demo = add("demo", cmd_demo, "generate the synthetic demo studies into the archive")
    demo.add_argument("--ct-slices", type=int, default=300, help="slices of the demo CT")
    demo.add_argument("--json", action="store_true")

    render = add("render", cmd_render, "render one frame of a DICOM file to PNG, as the viewer")
    render.add_argument("file", metavar="FILE")
    render.add_argument("-o", "--output", required=True, metavar="OUT.png")
    render.add_argument("--frame", type=int, default=1, help="frame number, 1-based")
    group = render.add_mutually_exclusive_group()
    group.add_argument("--window", nargs=2, type=float, metavar=("CENTER", "WIDTH"))
    group.add_argument("--preset", help="window preset, e.g. lung, bone, brain, auto, minmax")
    render.add_argument("--invert", action="store_true", help="invert the grey levels")
    render.add_argument(
        "--rotate", type=int, default=0, choices=(0, 90, 180, 270), help="degrees clockwise"
    )
    render.add_argument(
        "--flip", default="", choices=("h", "v", "hv"), help="mirror after rotating"
    )
    render.add_argument("--size", metavar="WxH", help="output size in pixels (keeps aspect)")
    render.add_argument(
        "--zoom", type=float, default=1.0, help="zoom relative to fit (needs --size)"
    )
    render.add_argument("--cell", metavar="WxH", help="place the picture on cells of WxH pixels")
    render.add_argument("--no-overlays", action="store_true", help="do not draw overlay planes")
    snd = add("send", cmd_send, "send files or folders to a node (C-STORE), as stored")
    snd.add_argument("node", metavar="NODE", help="node name or AE@host:port")
    snd.add_argument("paths", nargs="+", metavar="PATH")
    snd.add_argument("--json", action="store_true")

    node = add("node", cmd_node, "manage the remote archives in config.toml")
    node_sub = node.add_subparsers(dest="node_cmd", metavar="ACTION", required=True)
    node_add = node_sub.add_parser("add", help="add or replace a node")
    node_add.add_argument("name", metavar="NAME")
    node_add.add_argument("spec", metavar="AE@host:port")
    node_add.add_argument("--method", choices=("get", "move"), default="get")
    node_add.add_argument("--parallel", type=int, default=2, help="parallel associations")
    node_add.add_argument("--timeout", type=float, default=30.0, help="seconds per step")
    node_list = node_sub.add_parser("list", help="list nodes")
    node_list.add_argument("--json", action="store_true")
    node_rm = node_sub.add_parser("remove", help="remove a node")
    node_rm.add_argument("name", metavar="NAME")
    node_check = node_sub.add_parser("check", help="diagnose a node: echo, find, retrieve")
    node_check.add_argument("name", metavar="NODE")
    node_check.add_argument("--json", action="store_true")

    echo = add("echo", cmd_echo, "C-ECHO a node (name or AE@host:port)")
    echo.add_argument("node", metavar="NODE")
    echo.add_argument("--json", action="store_true")

    find = add("find", cmd_find, "C-FIND on a node")
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

    srv = add("serve", cmd_serve, "run the archive server: store, query and retrieve SCPs")
    srv.add_argument("--aet", help="our AE title (default: config ae_title)")
    srv.add_argument("--port", type=int, help="port to listen on (default: config port)")
    srv.add_argument("--bind", help="address to listen on (default: all interfaces)")
    srv.add_argument(
        "--no-sync",
        action="store_true",
        help="answer before each image is fsynced (faster; a power cut may lose the last images)",
    )

    ret = add("retrieve", cmd_retrieve, "retrieve a study or series into the archive")
    ret.add_argument("node", metavar="NODE")
    ret.add_argument("--study", required=True, metavar="UID")
    ret.add_argument("--series", action="append", metavar="UID", help="only these series")
    ret.add_argument("--method", choices=("get", "move"), help="default: the node's method")
    ret.add_argument("--json", action="store_true")
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
        code = int(args.func(args))
        sys.stdout.flush()  # short outputs meet a closed pipe only here
        return code
    except BrokenPipeError as exc:
        if _stdout_is_pipe():
            return _closed_pipe()
        return _unexpected(exc)
    except (CliError, DicomError, config.ConfigError) as exc:
        _say(f"tuipacs: error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        _say("tuipacs: interrupted", err=True)
        return 130
    except Exception as exc:  # last resort: never show a traceback
        return _unexpected(exc)


def _unexpected(exc: Exception) -> int:
    """Report an unexpected exception in one line (re-raised with TUIPACS_DEBUG set)."""
    if os.environ.get("TUIPACS_DEBUG"):
        raise exc
    _say(
        f"tuipacs: error: unexpected {type(exc).__name__}: {exc} (set TUIPACS_DEBUG=1 for details)",
        err=True,
    )
    return 2
