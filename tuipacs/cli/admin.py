"""Archive maintenance: ``delete --study`` (asks first), ``verify [--repair]`` and the
instances of one series for ``ls --series`` (their files' paths included)."""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuipacs.audit import uid_list
from tuipacs.cli.common import CliError, add_command, audit, load_config, open_archive
from tuipacs.cli.output import count, human, print_json, say, table, tidy

if TYPE_CHECKING:
    from tuipacs.cli.common import Subparsers
    from tuipacs.store.archive import Archive
    from tuipacs.store.query import InstanceRow


def register(sub: Subparsers) -> None:
    """Add ``delete`` and ``verify``."""
    delete = add_command(sub, "delete", cmd_delete, "delete a study from the archive (asks first)")
    delete.add_argument("--study", required=True, metavar="UID", action="append")
    delete.add_argument("--yes", action="store_true", help="delete without asking")
    delete.add_argument("--json", action="store_true")

    verify = add_command(
        sub, "verify", cmd_verify, "check that the archive's index and files agree"
    )
    verify.add_argument(
        "--repair", action="store_true", help="index the files the index does not know"
    )
    verify.add_argument("--json", action="store_true")


@dataclass(frozen=True)
class InstanceListing:
    """One instance of ``ls --series``: its UIDs, names and file."""

    row: InstanceRow

    def to_json(self) -> dict[str, Any]:
        """{"sop_uid", "sop_class", "sop_class_uid", "instance_number", "transfer_syntax",
        "transfer_syntax_uid", "rows", "columns", "frames", "bytes", "path"}."""
        r = self.row
        return {
            "sop_uid": r.sop_uid,
            "sop_class": tidy(r.sop_class_uid),
            "sop_class_uid": r.sop_class_uid,
            "instance_number": r.instance_number,
            "transfer_syntax": tidy(r.transfer_syntax),
            "transfer_syntax_uid": r.transfer_syntax,
            "rows": r.rows,
            "columns": r.columns,
            "frames": r.frames,
            "bytes": r.file_size,
            "path": str(r.path),
        }


def list_series_instances(archive: Archive, series_uid: str, as_json: bool) -> int:
    """``ls --series UID``: the series' instances in reading order, with their files."""
    from tuipacs.store.query import list_instances

    rows = list_instances(archive, series_uid)
    if not rows:
        raise CliError(f"no series {series_uid} in the archive (see 'tuipacs ls --study UID')")
    if as_json:
        print_json([InstanceListing(r) for r in rows])
        return 0
    table(
        [
            [
                "" if r.instance_number is None else str(r.instance_number),
                tidy(r.transfer_syntax),
                f"{r.columns}x{r.rows}" if r.rows else "",
                human(r.file_size),
                str(r.path),
            ]
            for r in rows
        ],
        ["#", "TRANSFER SYNTAX", "SIZE", "BYTES", "PATH"],
    )
    return 0


@dataclass(frozen=True)
class DeleteReport:
    """``delete --json``: the studies deleted and the bytes freed."""

    study_uids: list[str]
    bytes_freed: int

    def to_json(self) -> dict[str, Any]:
        """{"ok": true, "deleted_studies": n, "study_uids": [...], "bytes_freed": n}."""
        return {
            "ok": True,
            "deleted_studies": len(self.study_uids),
            "study_uids": self.study_uids,
            "bytes_freed": self.bytes_freed,
        }


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete studies (index rows, then their files) after a confirmation."""
    from tuipacs.store.query import get_study

    cfg = load_config()
    archive = open_archive()
    studies = []
    for uid in args.study:
        study = get_study(archive, uid)
        if study is None:
            raise CliError(f"no study {uid} in the archive (see 'tuipacs ls')")
        studies.append(study)
    if not args.json:
        table(
            [
                [
                    s.study_date,
                    s.description,
                    str(s.num_instances),
                    human(s.size_bytes),
                    s.study_uid,
                ]
                for s in studies
            ],
            ["DATE", "DESCRIPTION", "IMAGES", "SIZE", "STUDY UID"],
        )
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError("delete removes files: add --yes to confirm")
        sys.stderr.write(f"delete {count(len(studies), 'study')}? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            raise CliError("nothing deleted")
    freed = sum(archive.delete_study(s.study_uid) for s in studies)
    uids = [s.study_uid for s in studies]
    audit(cfg, "delete", reason="delete", **uid_list(uids))
    if args.json:
        print_json(DeleteReport(uids, freed))
    else:
        say(f"deleted {count(len(studies), 'study')}, {human(freed)} freed", err=True)
    return 0


@dataclass(frozen=True)
class VerifyOutcome:
    """``verify --json``: what disagreed, what ``--repair`` indexed, and whether index and
    files agree now."""

    ok: bool
    missing_files: list[str]
    size_mismatches: list[str]
    orphan_files: list[str]
    repaired: list[str]
    repair_errors: list[str]

    def to_json(self) -> dict[str, Any]:
        """``ok`` and the lists of paths (``repaired``: orphans indexed or put back)."""
        return {
            "ok": self.ok,
            "missing_files": self.missing_files,
            "size_mismatches": self.size_mismatches,
            "orphan_files": self.orphan_files,
            "repaired": self.repaired,
            "repair_errors": self.repair_errors,
        }


def _sop_uid(path: Path) -> str:
    """The SOP Instance UID of a DICOM file ("" if it cannot be read)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
        return str(ds.get("SOPInstanceUID", ""))
    except Exception:  # noqa: BLE001 - not readable: indexed (or refused) as any file
        return ""


def _reindex(archive: Archive, path: Path) -> str:
    """Index an orphan file. A file whose instance is indexed at a path where no file is
    (moved by hand) goes back there; any other is added through the archive's temporary
    folder as a received file would be (a refused one goes to the quarantine, as then).
    Returns "" or an error."""
    sop = _sop_uid(path)
    indexed = archive.instance_path(sop) if sop else None
    if indexed is not None and not indexed.exists():
        indexed.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, indexed)
        return ""
    staged = archive.tmp_dir() / path.name
    shutil.move(path, staged)
    try:
        archive.add_file(staged, move=True, source="verify --repair")
    except Exception as exc:  # noqa: BLE001 - reported per file; the file goes back
        if staged.exists():
            shutil.move(staged, path)
        return f"{path}: {exc}"
    return ""


def cmd_verify(args: argparse.Namespace) -> int:
    """Compare the index with the files; ``--repair`` indexes the files it does not know."""
    archive = open_archive()
    report = archive.verify()
    repaired: list[str] = []
    errors: list[str] = []
    after = report
    if args.repair and report.orphan_files:
        for orphan in report.orphan_files:
            error = _reindex(archive, Path(orphan))
            (errors.append(error) if error else repaired.append(orphan))
        after = archive.verify()  # a file put back answers its "missing" line too
    outcome = VerifyOutcome(
        after.ok, list(after.missing_files), list(after.size_mismatches),
        list(report.orphan_files), repaired, errors,
    )  # fmt: skip
    if args.json:
        print_json(outcome)
        return 0 if outcome.ok else 1
    for path in outcome.missing_files:
        say(f"missing   {path} (indexed, no file: retrieve or delete its study again)")
    for path in outcome.size_mismatches:
        say(f"changed   {path} (size differs from the index)")
    for path in outcome.orphan_files:
        state = "indexed now" if path in repaired else "not indexed: --repair indexes it"
        say(f"orphan    {path} ({state})")
    for error in errors:
        say(f"tuipacs: error: {tidy(error)}", err=True)
    if outcome.ok:
        say("index and files agree", err=True)
        return 0
    say("tuipacs: error: the index and the files disagree (see above)", err=True)
    return 1
