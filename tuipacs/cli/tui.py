"""``tuipacs`` with no command: the terminal user interface (its options are the top level's)."""

from __future__ import annotations

import argparse

from tuipacs import config
from tuipacs.cli.common import load_config, open_archive
from tuipacs.cli.demo import load_demo
from tuipacs.cli.output import say


def register(parser: argparse.ArgumentParser) -> None:
    """Add the TUI's options to the top-level parser and make it the default command."""
    parser.add_argument("--graphics", choices=config.GRAPHICS, help="image protocol")
    parser.add_argument(
        "--quality",
        choices=config.QUALITY,
        help="pictures over a slow link: auto (full frames when the link carries them), "
        "full (never a preview), fast (previews while in motion)",
    )
    parser.add_argument("--theme", help="colour theme (reading-room, light, high-contrast)")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="also run the Storage/Q-R server in the background (C-MOVE target, live arrivals)",
    )
    parser.set_defaults(func=cmd_tui)


def cmd_tui(args: argparse.Namespace) -> int:
    """Open the terminal user interface."""
    cfg = load_config()
    archive = open_archive()
    from tuipacs.store.query import list_studies

    if not list_studies(archive, limit=1):
        say("first run: generating the demo archive...", err=True)
        load_demo(archive, show_progress=True)
    from tuipacs.app.main import run_app
    from tuipacs.remote import config_clients

    clients = config_clients(cfg, archive)  # the TUI reaches remote archives through these
    return run_app(
        archive,
        cfg,
        graphics=args.graphics,
        theme=args.theme,
        serve=args.serve,
        clients=clients,
        quality=args.quality,
    )
