"""``tuipacs quarantine``: list, release or delete the instances the archive refused.

See :mod:`tuipacs.store.quarantine` for what is kept and why. Listing shows UIDs and
reasons, never patient names or IDs (inspect a kept file with ``tuipacs`` tools or
``dcmdump`` at the path ``--json`` gives).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuipacs.store.archive import Archive


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The ``quarantine`` subcommand's parser (its func is set by the caller)."""
    text = "list the instances the archive refused (wrong patient/study, conflicts)"
    cmd = sub.add_parser("quarantine", help=text, description=text)
    group = cmd.add_mutually_exclusive_group()
    group.add_argument(
        "--release",
        type=int,
        nargs="+",
        metavar="ID",
        help="add these entries to the archive again (still refused: they stay)",
    )
    group.add_argument("--delete", type=int, nargs="+", metavar="ID", help="delete these entries")
    group.add_argument("--delete-all", action="store_true", help="delete every entry")
    cmd.add_argument("--json", action="store_true", help="machine-readable entries with paths")
    return cmd


def run(args: argparse.Namespace, archive: Archive) -> int:
    """Do what the arguments ask; the exit status (1 if an ID is unknown or still refused)."""
    from tuipacs import cli
    from tuipacs.store import quarantine
    from tuipacs.store.identity import RefusedError

    status = 0
    if args.delete_all:
        removed = quarantine.delete_all(archive)
        cli._audit(cli._config(), "delete", reason="quarantine", entries="all", count=removed)
        cli._say(f"{removed} entries deleted", err=True)
        return 0
    if args.delete:
        cli._audit(cli._config(), "delete", reason="quarantine", entries=list(args.delete))
        for entry_id in args.delete:
            if not quarantine.delete(archive, entry_id):
                cli._say(f"error: no quarantine entry #{entry_id}", err=True)
                status = 1
        return status
    if args.release:
        for entry_id in args.release:
            try:
                result = quarantine.release(archive, entry_id)
            except KeyError:
                cli._say(f"error: no quarantine entry #{entry_id}", err=True)
                status = 1
            except RefusedError as exc:
                cli._say(f"error: #{entry_id} stays: {exc.refusal.message}", err=True)
                status = 1
            else:
                what = "added" if result.status == "added" else "already archived"
                cli._say(f"#{entry_id} released: {what} ({result.sop_uid})", err=True)
        return status
    entries = quarantine.entries(archive)
    if args.json:
        cli._print_json([e.to_json() for e in entries])
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
    cli._table(rows, ["ID", "LAST SEEN", "TIMES", "FROM", "REASON"])
    cli._say(f"{len(entries)} quarantined", err=True)
    return 0
