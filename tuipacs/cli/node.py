"""``tuipacs node``: add, list, remove and check the remote archives of config.toml."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuipacs.cli.common import add_command, client, load_config
from tuipacs.cli.output import print_json, say, table

if TYPE_CHECKING:
    from tuipacs.cli.common import Subparsers
    from tuipacs.remote.web_node import AnyNode


@dataclass(frozen=True)
class NodeListing:
    """One configured node as ``node list --json`` shows it: its name and its settings."""

    node: AnyNode

    def to_json(self) -> dict[str, Any]:
        """{"name": ..., "ae_title": ..., "host": ..., ...} (TLS keys only when it is on);
        for a DICOMweb node {"name": ..., "url": ..., ...} (no password or token)."""
        return {"name": self.node.name, **self.node.to_mapping()}


def register(sub: Subparsers) -> None:
    """Add ``node`` and its actions."""
    node = add_command(sub, "node", cmd_node, "manage the remote archives in config.toml")
    node_sub = node.add_subparsers(dest="node_cmd", metavar="ACTION", required=True)
    node_add = node_sub.add_parser("add", help="add or replace a node")
    node_add.add_argument("name", metavar="NAME")
    node_add.add_argument(
        "spec", metavar="AE@host:port|URL", help="a DIMSE address, or a DICOMweb base URL"
    )
    node_add.add_argument("--method", choices=("get", "move"), default="get")
    node_add.add_argument(
        "--parallel", type=int, help="parallel associations or requests (default: 2, web 4)"
    )
    node_add.add_argument("--timeout", type=float, default=30.0, help="seconds per step")
    web = node_add.add_argument_group("DICOMweb nodes")
    web.add_argument("--auth", choices=("none", "basic", "bearer"), default="none")
    web.add_argument("--user", default="", help="user name for basic auth")
    web.add_argument("--password-env", default="", metavar="VAR",
                     help="environment variable holding the password")  # fmt: skip
    web.add_argument("--token-env", default="", metavar="VAR",
                     help="environment variable holding the bearer token")  # fmt: skip
    web.add_argument("--ca", default="", metavar="PEM", help="CA bundle for the server")
    node_list = node_sub.add_parser("list", help="list nodes")
    node_list.add_argument("--json", action="store_true")
    node_rm = node_sub.add_parser("remove", help="remove a node")
    node_rm.add_argument("name", metavar="NAME")
    node_check = node_sub.add_parser("check", help="diagnose a node: echo, find, retrieve")
    node_check.add_argument("name", metavar="NODE")
    node_check.add_argument("--json", action="store_true")


def cmd_node(args: argparse.Namespace) -> int:
    """Add, list, remove or check configured nodes."""
    if args.node_cmd == "add":
        return _add(args)
    if args.node_cmd == "check":
        return _check(args)
    if args.node_cmd == "remove":
        return _remove(args)
    return _list(args)


def _add(args: argparse.Namespace) -> int:
    """Save a node (name, address and settings checked first) in config.toml."""
    from tuipacs import config_edit
    from tuipacs.remote.web_node import WebNode

    config_edit.check_node_name(args.name)
    spec = config_edit.parse_address(args.spec, args.name, args.method)
    if isinstance(spec, WebNode):
        settings = _web_settings(args, spec)
    else:
        table_ = spec.to_mapping()
        table_.update({"parallel": args.parallel or 2, "timeout": args.timeout})
        settings = {
            k: table_[k] for k in ("ae_title", "host", "port", "method", "parallel", "timeout")
        }
    path = config_edit.add_node(args.name, settings)
    say(f"node {args.name} = {spec.address} saved in {path}", err=True)
    return 0


def _web_settings(args: argparse.Namespace, spec: Any) -> dict[str, Any]:
    """The table of a DICOMweb node from ``node add``'s options (defaults left out)."""
    settings: dict[str, Any] = {"url": spec.url}
    options = {
        "auth": (args.auth, "none"), "user": (args.user, ""),
        "password_env": (args.password_env, ""), "token_env": (args.token_env, ""),
        "ca": (args.ca, ""), "timeout": (args.timeout, 30.0), "parallel": (args.parallel, None),
    }  # fmt: skip
    for key, (value, default) in options.items():
        if value != default:
            settings[key] = value
    return settings


def _check(args: argparse.Namespace) -> int:
    """Echo, find and a one-instance retrieve, with advice on what to fix."""
    cfg = load_config()
    steps = client(cfg, cfg.node(args.name)).check()
    if args.json:
        print_json(steps)
    else:
        for step in steps:
            mark = "skip" if step.skipped else ("ok" if step.ok else "FAIL")
            say(f"{mark:>4}  {step.name:<16} {step.detail}")
    failed = [s for s in steps if not s.ok and not s.skipped]
    if failed:
        say(f"tuipacs: error: node {args.name}: {failed[0].name} failed", err=True)
    return 0 if all(s.ok for s in steps) else 1


def _remove(args: argparse.Namespace) -> int:
    """Remove a node from config.toml (its comments go with it, the rest stays as written)."""
    from tuipacs import config_edit

    path = config_edit.remove_node(args.name)
    say(f"node {args.name} removed from {path}", err=True)
    return 0


def _list(args: argparse.Namespace) -> int:
    """The configured nodes, by name."""
    cfg = load_config()
    rows = [cfg.node(name) for name in sorted(cfg.nodes)]
    if args.json:
        print_json([NodeListing(n) for n in rows])
    else:
        table(
            [[n.name, _ae(n), _host(n), str(n.port), n.method] for n in rows],
            ["NAME", "AE TITLE", "HOST", "PORT", "METHOD"],
        )
    return 0


def _ae(node: AnyNode) -> str:
    """The AE title column: DICOMweb nodes have none."""
    from tuipacs.remote.web_node import WebNode

    return "(dicomweb)" if isinstance(node, WebNode) else node.ae_title


def _host(node: AnyNode) -> str:
    """The host column: a DICOMweb node's base URL."""
    from tuipacs.remote.web_node import WebNode

    return node.url if isinstance(node, WebNode) else node.host
