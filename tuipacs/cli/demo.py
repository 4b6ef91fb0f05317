"""``tuipacs demo``: the synthetic demo studies (:mod:`tuipacs.demo`) into the archive."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tuipacs.cli.common import CliError, add_command, open_archive
from tuipacs.cli.output import ProgressBar, print_json, say

if TYPE_CHECKING:
    from tuipacs.cli.common import Subparsers
    from tuipacs.demo.load import DemoSummary
    from tuipacs.store.archive import Archive


def register(sub: Subparsers) -> None:
    """Add ``demo``."""
    demo = add_command(
        sub, "demo", cmd_demo, "generate the synthetic demo studies into the archive"
    )
    demo.add_argument("--ct-slices", type=int, default=300, help="slices of the demo CT")
    demo.add_argument(
        "--prior",
        action="store_true",
        help="also a prior CT of the CT's patient, a year earlier (to try a comparison)",
    )
    demo.add_argument("--json", action="store_true")


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the synthetic demo studies into the archive."""
    from tuipacs.demo import DemoError

    try:
        summary = load_demo(
            open_archive(), ct_slices=args.ct_slices, prior=args.prior, show_progress=True
        )
    except DemoError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json(summary)
    else:
        say(
            f"demo archive ready: {summary.files} files "
            f"({summary.added} added, {summary.already_present} already present"
            + (" (same SOP Instance UID)" if summary.already_present else "")
            + ")"
        )
    return 0


def load_demo(
    archive: Archive, *, ct_slices: int = 300, prior: bool = False, show_progress: bool = False
) -> DemoSummary:
    """Load the demo set (with the prior CT if asked) into ``archive``, with progress bars on
    a terminal if asked."""
    from tuipacs.demo.load import load_demo as load

    enabled = None if show_progress else False
    return load(
        archive,
        ct_slices=ct_slices,
        prior=prior,
        generating=ProgressBar("generating demo", enabled),
        importing=ProgressBar("importing", enabled),
    )
