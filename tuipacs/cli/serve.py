"""``tuipacs serve``: the archive server in the foreground (see :mod:`tuipacs.server`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tuipacs.cli.common import CliError, add_command, load_config, open_archive

if TYPE_CHECKING:
    from tuipacs.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    """Add ``serve``."""
    srv = add_command(
        sub, "serve", cmd_serve, "run the archive server: store, query and retrieve SCPs"
    )
    srv.add_argument("--aet", help="our AE title (default: config ae_title)")
    srv.add_argument("--port", type=int, help="port to listen on (default: config port)")
    srv.add_argument(
        "--bind", help="address to listen on (default: config [serve] bind, 127.0.0.1)"
    )
    srv.add_argument(
        "--http",
        type=int,
        metavar="PORT",
        help="also serve DICOMweb (QIDO-RS, WADO-RS, STOW-RS) on this port, under /dicom-web "
        "(auth from [serve] http_auth; 0 picks a free port)",
    )
    srv.add_argument(
        "--no-sync",
        action="store_true",
        help="answer before each image is fsynced (faster; a power cut may lose the last images)",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the archive server in the foreground (Storage, Verification, Q/R SCPs)."""
    from tuipacs.server import ServerError, serve

    cfg = load_config()
    archive = open_archive()
    try:
        sync = False if args.no_sync else None
        if args.http is not None:
            if not 0 <= args.http <= 65535:
                raise CliError(f"--http {args.http}: a port is 0-65535")
            from tuipacs.dicomweb.server.run import serve_with_http

            return serve_with_http(
                archive, cfg, http_port=args.http, aet=args.aet, port=args.port,
                bind=args.bind, sync=sync,
            )  # fmt: skip
        return serve(archive, cfg, aet=args.aet, port=args.port, bind=args.bind, sync=sync)
    except ServerError as exc:
        raise CliError(str(exc)) from exc
