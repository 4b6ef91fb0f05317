"""``tuipacs cache``: archive usage, and ``--evict`` to bring the archive under its limit.

Eviction deletes files, so it shows what it would delete first and asks (``--yes`` answers
for scripts, ``--dry-run`` only shows). A study is evicted only if it was retrieved from a
node (the index keeps what the node said it holds, see tuipacs.store.expected; the audit
log of older archives counts too), since the node can send it again; a study that came
in any other way (imported from files, sent to ``tuipacs serve``, the demo) may be the only
copy and stays unless ``--include-imported`` is given. Pinned studies always stay.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuipacs.audit import FILE_NAME, uid_list
from tuipacs.cli.common import CliError, add_command, audit, load_config, open_archive, size_arg
from tuipacs.cli.output import count, human, print_json, say, table

if TYPE_CHECKING:
    from tuipacs.cli.common import Subparsers
    from tuipacs.store.archive import Archive


def register(sub: Subparsers) -> None:
    """Add ``cache``."""
    cache = add_command(
        sub, "cache", cmd_cache, "show archive usage; --evict applies the size limit"
    )
    cache.add_argument(
        "--evict", action="store_true", help="evict least recently opened studies (asks first)"
    )
    cache.add_argument("--limit", type=size_arg, help="size limit, e.g. 500M or '20 GB'")
    cache.add_argument("--dry-run", action="store_true", help="show what --evict would delete")
    cache.add_argument("--yes", action="store_true", help="evict without asking")
    cache.add_argument(
        "--include-imported",
        action="store_true",
        help="also evict studies not retrieved from a node (maybe the only copy)",
    )
    cache.add_argument("--json", action="store_true")


@dataclass(frozen=True)
class Candidate:
    """A study eviction would delete."""

    study_uid: str
    study_date: str
    description: str
    size: int
    retrieved: bool

    def to_json(self) -> dict[str, Any]:
        """{"study_uid", "study_date", "description", "bytes", "retrieved"}."""
        return {
            "study_uid": self.study_uid,
            "study_date": self.study_date,
            "description": self.description,
            "bytes": self.size,
            "retrieved": self.retrieved,
        }


@dataclass(frozen=True)
class CacheReport:
    """Archive usage and, after ``--evict``, what was (or would be) evicted."""

    archive: str
    bytes: int
    limit: int
    studies: int
    series: int
    instances: int
    pinned_studies: int
    evicted_studies: int | None = None
    bytes_freed: int | None = None
    dry_run: bool = False
    candidates: list[Candidate] = field(default_factory=list)
    kept_imported: int = 0

    def to_json(self) -> dict[str, Any]:
        """The ``cache --json`` object (the eviction keys only after ``--evict``)."""
        data: dict[str, Any] = {
            "archive": self.archive,
            "bytes": self.bytes,
            "limit": self.limit,
            "studies": self.studies,
            "series": self.series,
            "instances": self.instances,
            "pinned_studies": self.pinned_studies,
        }
        if self.evicted_studies is not None:
            data["dry_run"] = self.dry_run
            data["kept_imported"] = self.kept_imported
            data["candidates"] = [c.to_json() for c in self.candidates]
            data["evicted_studies"] = self.evicted_studies
            data["bytes_freed"] = self.bytes_freed
        return data


def retrieved_studies(archive: Archive) -> set[str]:
    """Study UIDs retrieved from a node (re-fetchable): those the index has a node's count
    for, and those the audit log records as retrieved (archives from before that record)."""
    found = {
        str(row[0])
        for row in archive.execute(
            "SELECT s.study_uid FROM study_expected e JOIN study s ON s.id = e.study_fk"
        )
    }
    try:
        with (archive.root / FILE_NAME).open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and event.get("event") == "retrieve":
                    uid = event.get("study_uid")
                    if isinstance(uid, str):
                        found.add(uid)
    except OSError:
        pass
    return found


def plan(archive: Archive, limit: int, include_imported: bool) -> tuple[list[Candidate], int]:
    """The studies eviction deletes to fit ``limit`` (least recently opened first, never a
    pinned one, an imported one only with ``include_imported``) and how many imported
    studies it kept that it would otherwise have deleted."""
    retrieved = retrieved_studies(archive)
    total = archive.usage().bytes
    rows = archive.execute(
        "SELECT study_uid, study_date, description, size_bytes FROM study WHERE pinned = 0 "
        "ORDER BY coalesce(last_opened, received) ASC"
    )
    chosen: list[Candidate] = []
    kept = 0
    freed = 0
    for row in rows:
        if total - freed <= limit:
            break
        was_retrieved = row["study_uid"] in retrieved
        if not was_retrieved and not include_imported:
            kept += 1
            continue
        chosen.append(
            Candidate(
                row["study_uid"], row["study_date"], row["description"], row["size_bytes"],
                was_retrieved,
            )
        )  # fmt: skip
        freed += int(row["size_bytes"])
    return chosen, kept


def _confirm(candidates: list[Candidate]) -> bool:
    """Ask on the terminal; CliError when there is none to ask (use --yes)."""
    if not sys.stdin.isatty():
        raise CliError("eviction deletes studies: add --yes to confirm (or --dry-run to see)")
    size = human(sum(c.size for c in candidates))
    sys.stderr.write(f"delete {count(len(candidates), 'study')} ({size})? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def cmd_cache(args: argparse.Namespace) -> int:
    """Show archive usage; ``--evict`` applies the size limit now (after asking)."""
    cfg = load_config()
    archive = open_archive()
    limit = args.limit if args.limit is not None else cfg.archive_limit
    evicted: tuple[int, int] | None = None
    candidates: list[Candidate] = []
    kept = 0
    if args.dry_run and not args.evict:
        raise CliError("--dry-run goes with --evict")
    if args.evict:
        if not limit:
            raise CliError('no archive limit set: put archive_limit = "20 GB" in config.toml')
        candidates, kept = plan(archive, limit, args.include_imported)
        if not args.json:
            _show_plan(candidates, kept, args.dry_run)
        evicted = (0, 0)
        if candidates and not args.dry_run and (args.yes or _confirm(candidates)):
            freed = sum(archive.delete_study(c.study_uid) for c in candidates)
            evicted = (len(candidates), freed)
            audit(cfg, "delete", reason="evict", **uid_list(c.study_uid for c in candidates))
        elif candidates and not args.dry_run:
            raise CliError("nothing deleted")
    usage = archive.usage()
    report = CacheReport(
        archive=str(archive.root),
        bytes=usage.bytes,
        limit=limit,
        studies=usage.studies,
        series=usage.series,
        instances=usage.instances,
        pinned_studies=usage.pinned_studies,
        evicted_studies=evicted[0] if evicted else None,
        bytes_freed=evicted[1] if evicted else None,
        dry_run=args.dry_run,
        candidates=candidates,
        kept_imported=kept,
    )
    if args.json:
        print_json(report)
        return 0
    say(f"archive   {archive.root}")
    limit_text = f"of {human(limit)} limit" if limit else "(no limit)"
    say(f"usage     {human(usage.bytes)} {limit_text}")
    say(
        f"holds     {count(usage.studies, 'study')}, {usage.series} series, "
        f"{count(usage.instances, 'image')}"
    )
    say(f"pinned    {count(usage.pinned_studies, 'study')}")
    if evicted is not None and not args.dry_run:
        say(f"evicted   {count(evicted[0], 'study')}, {human(evicted[1])} freed")
    return 0


def _show_plan(candidates: list[Candidate], kept: int, dry_run: bool) -> None:
    """What eviction deletes (and what it keeps because it may be the only copy)."""
    verb = "would delete" if dry_run else "deletes"
    if candidates:
        say(f"eviction {verb} {count(len(candidates), 'study')}:", err=True)
        table(
            [[c.study_date, c.description, human(c.size), c.study_uid] for c in candidates],
            ["DATE", "DESCRIPTION", "SIZE", "STUDY UID"],
        )
    else:
        say(f"eviction {verb} nothing", err=True)
    if kept:
        say(
            f"kept {count(kept, 'study')} not retrieved from a node (maybe the only copy; "
            "--include-imported evicts them too)",
            err=True,
        )
