"""``tuipacs config check`` and ``tuipacs config show``: is config.toml right, and what does
tuipacs actually use (each value with where it came from: default, file or environment)."""

from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuipacs import config, locations
from tuipacs.cli.common import add_command, load_config
from tuipacs.cli.output import error_line, print_json, say, table

if TYPE_CHECKING:
    from tuipacs.cli.common import Subparsers

#: Environment variables that change what tuipacs does, shown by ``config show``.
ENVIRONMENT = {
    locations.HOME_ENV: "folder of config, archive and cache (instead of the XDG folders)",
    "TUIPACS_TRANSPORT": "DICOM transport: fast (default) or stock",
    "TUIPACS_DEBUG": "show Python warnings and tracebacks",
}


@dataclass(frozen=True)
class Setting:
    """One effective setting: its key in the file, value and source."""

    key: str
    value: Any
    source: str

    def to_json(self) -> dict[str, Any]:
        """{"key": "serve.allow", "value": [...], "source": "default" | "file" | "env"}."""
        return {"key": self.key, "value": self.value, "source": self.source}


def register(sub: Subparsers) -> None:
    """Add ``config`` and its actions."""
    cfg = add_command(sub, "config", cmd_config, "check config.toml or show the settings in use")
    actions = cfg.add_subparsers(dest="config_cmd", metavar="ACTION", required=True)
    text = "read config.toml as every command does; exit status 1 if it is wrong"
    check = actions.add_parser("check", help=text)
    check.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="every setting in use and where it came from")
    show.add_argument("--json", action="store_true")


def _plain(value: Any) -> Any:
    """A JSON/TOML-friendly form of a setting (paths as text)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def settings(cfg: config.Config) -> list[Setting]:
    """Every setting of ``cfg`` with its source, nodes last."""
    path = cfg.path or locations.config_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    home = os.environ.get(locations.HOME_ENV)
    rows = [Setting("config_file", str(path), "env" if home else "default")]
    for f in fields(config.Config):
        if f.name in ("path", "nodes", "tls", "warnings"):
            continue
        section, key = config.config_key(f.name)
        present = key in (data.get(section, {}) if section else data)
        name = f"{section}.{key}" if section else key
        rows.append(Setting(name, _plain(getattr(cfg, f.name)), "file" if present else "default"))
    for f in fields(cfg.tls):
        present = f.name in data.get("tls", {})
        value = _plain(getattr(cfg.tls, f.name))
        rows.append(Setting(f"tls.{f.name}", value, "file" if present else "default"))
    for name, node in sorted(cfg.nodes.items()):
        rows.append(Setting(f"nodes.{name}", dict(node), "file"))
    for variable in ENVIRONMENT:
        if variable != locations.HOME_ENV and os.environ.get(variable):
            rows.append(Setting(variable, os.environ[variable], "env"))
    return rows


@dataclass(frozen=True)
class CheckReport:
    """``config check``: the file and whether it is right (``error`` says what is wrong)."""

    path: str
    ok: bool
    nodes: int = 0
    error: str = ""
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """{"ok": true, "path": ..., "nodes": 2, "warnings": [...]} or {"ok": false, "path":
        ..., "error": ...}; a warning names a setting that was skipped (a bad preset)."""
        if self.ok:
            return {
                "ok": True,
                "path": self.path,
                "nodes": self.nodes,
                "warnings": list(self.warnings),
            }
        return {"ok": False, "path": self.path, "error": self.error}


def cmd_config(args: argparse.Namespace) -> int:
    """Check the config file, or show the settings in use."""
    path = locations.config_file()
    if args.config_cmd == "check":
        try:
            cfg = config.load(path)
        except config.ConfigError as exc:
            if args.json:
                print_json(CheckReport(str(path), False, error=str(exc)))
                return 1
            raise
        exists = "" if path.exists() else " (no file: defaults)"
        if args.json:
            print_json(CheckReport(str(path), True, len(cfg.nodes), warnings=tuple(cfg.warnings)))
        else:
            for warning in cfg.warnings:
                error_line(warning, "warning")
            say(f"{path}: ok{exists}, {len(cfg.nodes)} node(s)")
        return 0
    rows = settings(load_config())
    if args.json:
        print_json(rows)
    else:
        table([[r.key, _show(r.value), r.source] for r in rows], ["KEY", "VALUE", "SOURCE"])
    return 0


def _show(value: Any) -> str:
    """A setting as TOML-ish text for the table."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_show(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    return str(value)
