"""The local archive's commands: ``import``, ``ls``, ``pin`` and ``quarantine`` (``cache`` is
in :mod:`tuipacs.cli.cache`).

``quarantine`` lists, releases or deletes the instances the archive refused (see
:mod:`tuipacs.store.quarantine` for what is kept and why). Its listing shows UIDs and
reasons, never patient names or IDs (inspect a kept file with ``dcmdump`` at the path
``--json`` gives).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tuipacs.audit import uid_list
from tuipacs.cli.common import (
    CliError,
    add_command,
    audit,
    load_config,
    missing_paths,
    open_archive,
)
from tuipacs.cli.output import ProgressBar, count, error_line, human, print_json, say, table
from tuipacs.cli.shapes import ImportReport

if TYPE_CHECKING:
    from tuipacs.cli.common import Subparsers
    from tuipacs.store.query import StudyRow


def register(sub: Subparsers) -> None:
    """Add the archive's commands."""
    imp = add_command(
        sub, "import", cmd_import, "import DICOM files, folders or DICOMDIRs into the archive"
    )
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument("--link", action="store_true", help="index files in place instead of copying")
    imp.add_argument("--json", action="store_true", help="print a JSON summary")

    ls = add_command(sub, "ls", cmd_ls, "list studies in the archive (or the series of one study)")
    ls.add_argument("--name", help="patient name, * and ? wildcards, case-insensitive")
    ls.add_argument("--id", help="patient ID")
    ls.add_argument("--date", help="study date YYYYMMDD or range FROM-TO (either side optional)")
    ls.add_argument("--modality", help="modality in study, e.g. CT")
    ls.add_argument("--accession", help="accession number")
    # local UIDs are not checked: an archive may hold studies with odd ones (imported files)
    ls.add_argument("--study", metavar="UID", help="list the series of this study")
    ls.add_argument("--series", metavar="UID", help="list the instances (and files) of a series")
    ls.add_argument("--limit", type=int, default=0, help="at most this many studies")
    ls.add_argument("--json", action="store_true", help="machine-readable rows with UIDs")

    pin = add_command(sub, "pin", cmd_pin, "pin a study so it is never evicted")
    pin.add_argument("study", metavar="STUDY_UID")
    pin.add_argument("--unpin", action="store_true", help="remove the pin")

    text = "list the instances the archive refused (wrong patient/study, conflicts)"
    quarantine = add_command(sub, "quarantine", cmd_quarantine, text)
    group = quarantine.add_mutually_exclusive_group()
    group.add_argument(
        "--release",
        type=int,
        nargs="+",
        metavar="ID",
        help="add these entries to the archive again (still refused: they stay)",
    )
    group.add_argument("--delete", type=int, nargs="+", metavar="ID", help="delete these entries")
    group.add_argument("--delete-all", action="store_true", help="delete every entry")
    quarantine.add_argument(
        "--json", action="store_true", help="machine-readable entries with paths"
    )


def _file_error(path: str, message: str) -> str:
    """One error line naming the file by its full path (messages name only the file)."""
    if message.startswith(path):
        return message
    return f"{path}: {message.removeprefix(Path(path).name + ': ')}"


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
    from tuipacs.server.records import fast_record  # the headers without pydicom, if safe
    from tuipacs.store.archive import ArchiveError
    from tuipacs.store.importer import import_paths

    cfg = load_config()
    missing_paths(args.paths)
    paths = [Path(p) for p in args.paths]
    archive = open_archive()
    try:
        summary = import_paths(
            archive,
            paths,
            link=args.link,
            progress=ProgressBar("importing", None),
            reader=fast_record,
        )
    except ArchiveError as exc:
        raise CliError(f"{exc} (nothing half-written was kept; free space and re-run)") from exc
    audit(
        cfg, "import", files=summary.files, added=summary.added,
        refused=len(summary.refused) + len(summary.conflicts), **uid_list(summary.studies),
    )  # fmt: skip
    if args.json:
        print_json(ImportReport(summary))
    else:
        for path, message in summary.errors:
            error_line(_file_error(path, message))
        for path, message in summary.refused:
            error_line(f"{path}: {message}", "refused")
        for path, message in summary.conflicts:
            error_line(f"{path}: {message}", "conflict")
        held = len(summary.refused) + len(summary.conflicts)
        present = (
            f"{summary.duplicates} already present (same SOP Instance UID)"
            if summary.duplicates
            else "0 already present"
        )
        say(
            f"{summary.added} added, {present}, "
            f"{summary.not_dicom} not DICOM skipped, {len(summary.errors)} failed"
            + (
                f", {held} quarantined ({len(summary.refused)} refused, "
                f"{count(len(summary.conflicts), 'conflict')}: see 'tuipacs quarantine')"
                if held
                else ""
            )
            + f" ({count(len(summary.studies), 'study')}, {human(summary.bytes_added)}, "
            f"{summary.seconds:.1f} s)"
        )
    # as for send: any file that could not be imported makes the exit status 1; files
    # that are not DICOM at all (and DICOMDIRs met in folders) are skipped, not failed
    return 1 if summary.errors or summary.refused or summary.conflicts else 0


def cmd_ls(args: argparse.Namespace) -> int:
    """List studies, or the series of one study."""
    from tuipacs.store.query import FilterError, StudyFilter, list_series, list_studies

    archive = open_archive()
    if args.series:
        from tuipacs.cli.admin import list_series_instances

        return list_series_instances(archive, args.series, args.json)
    if args.study:
        series = list_series(archive, args.study)
        if not series:
            raise CliError(f"no study {args.study} in the archive (see 'tuipacs ls')")
        if args.json:
            print_json(series)
        else:
            rows = [
                [s.series_number, s.modality, s.description, str(s.num_instances), s.series_uid]
                for s in series
            ]
            table(rows, ["#", "MOD", "DESCRIPTION", "IMAGES", "SERIES UID"])
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
        print_json(studies)
        return 0
    rows = [
        [
            s.patient_name,
            s.patient_id,
            s.study_date,
            s.modalities.replace("\\", ","),
            s.description,
            s.accession,
            images_cell(s),
            s.study_uid,
        ]
        for s in studies
    ]
    table(rows, ["PATIENT", "ID", "DATE", "MOD", "DESCRIPTION", "ACCESSION", "IMAGES", "UID"])
    return 0


def images_cell(study: StudyRow) -> str:
    """The IMAGES cell of ``ls``: ``300``, or ``69 of 300`` for a study retrieved only in
    part (fewer here than the node said when it was retrieved)."""
    if study.complete is False:
        return f"{study.num_instances} of {study.known_instances}"
    return str(study.num_instances)


def cmd_pin(args: argparse.Namespace) -> int:
    """Pin or unpin a study (pinned studies are never evicted)."""
    archive = open_archive()
    if not archive.set_pinned(args.study, not args.unpin):
        raise CliError(f"no study {args.study} in the archive (see 'tuipacs ls')")
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    """List, release or delete quarantined instances; the exit status is 1 if an ID is
    unknown or still refused."""
    from tuipacs.store import quarantine
    from tuipacs.store.identity import RefusedError

    archive = open_archive()
    status = 0
    if args.delete_all:
        removed = quarantine.delete_all(archive)
        audit(load_config(), "delete", reason="quarantine", entries="all", count=removed)
        say(f"{removed} entries deleted", err=True)
        return 0
    if args.delete:
        audit(load_config(), "delete", reason="quarantine", entries=list(args.delete))
        for entry_id in args.delete:
            if not quarantine.delete(archive, entry_id):
                error_line(f"no quarantine entry #{entry_id}")
                status = 1
        return status
    if args.release:
        for entry_id in args.release:
            try:
                result = quarantine.release(archive, entry_id)
            except KeyError:
                error_line(f"no quarantine entry #{entry_id}")
                status = 1
            except RefusedError as exc:
                error_line(f"#{entry_id} stays: {exc.refusal.message}")
                status = 1
            else:
                what = "added" if result.status == "added" else "already archived"
                say(f"#{entry_id} released: {what} ({result.sop_uid})", err=True)
        return status
    entries = quarantine.entries(archive)
    if args.json:
        print_json(entries)
        return 0
    rows = [
        [
            str(e.id),
            time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_seen)),
            str(e.times),
            e.source,
            e.reason,
        ]
        for e in entries
    ]
    table(rows, ["ID", "LAST SEEN", "TIMES", "FROM", "REASON"])
    say(f"{len(entries)} quarantined", err=True)
    return 0
