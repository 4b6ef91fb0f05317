"""Edits of ``config.toml`` by ``tuipacs node add/remove``: comments and layout kept.

Why tomlkit: the standard library reads TOML (tomllib) but cannot write it, and a writer
that re-emits the data (or a line-based rewrite, as before) loses what the admin wrote
around the values: comments, blank lines, key order, a comment after a table header
(``[nodes.main]  # main PACS`` was once not recognised as a header and the node was written
twice, after which every command failed). tomlkit parses into a document that keeps all of
that and changes only the tables we touch.

Every edit is checked before anything is written: the node's name (a bare TOML key, see
:data:`NAME_RE`) and address (``AE@host:port``, one ``@``, or a DICOMweb base URL), then
the whole new text is read back through :func:`tuipacs.config.parse_text`, the same checks
every command makes. The file is replaced atomically (a temporary file in the same folder,
fsynced, renamed over the old one), so a crash or a full disk leaves the old file or the new
one, never half of one.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from tuipacs import config, locations
from tuipacs.dicom.errors import NodeError
from tuipacs.dicom.nodes import Node, parse_node_spec
from tuipacs.remote import web_node
from tuipacs.remote.web_node import AnyNode

#: A node name: a bare TOML key that reads well on a command line (no space, dot or quote).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def check_node_name(name: str) -> str:
    """``name`` if it can name a node, else ConfigError saying what is allowed."""
    if not NAME_RE.match(name):
        raise config.ConfigError(
            f"bad node name {name!r}: use 1-64 letters, digits, '-' or '_' "
            "(no space or dot), starting with a letter or digit"
        )
    return name


def parse_address(spec: str, name: str, method: str = "get") -> AnyNode:
    """The node ``name`` at ``AE@host:port``, or the DICOMweb node at a base URL
    (``https://host/dicom-web``); ConfigError for anything else (``X@@h:1``)."""
    if web_node.looks_like_url(spec):
        try:
            return web_node.parse_url_spec(spec, name=name)
        except NodeError as exc:
            raise config.ConfigError(str(exc)) from None
    try:
        node = parse_node_spec(spec, name=name, method=method)  # type: ignore[arg-type]
    except NodeError as exc:
        raise config.ConfigError(str(exc)) from None
    if "@" in node.host or any(c.isspace() for c in node.host) or not node.host.strip("[]"):
        raise config.ConfigError(
            f"bad address {spec!r}: the host may not contain '@' or spaces "
            "(use AE@host:port, e.g. ORTHANC@pacs:4242)"
        )
    return node


def _read(path: Path) -> tuple[str, tomlkit.TOMLDocument]:
    """The file's text and its tomlkit document (an empty one when there is no file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise config.ConfigError(f"{path}: cannot read ({exc})") from None
    config.parse_text(path, text)  # refuse to edit a file that is already wrong
    try:
        return text, tomlkit.parse(text)
    except TOMLKitError as exc:
        raise config.ConfigError(f"{path}: {exc}") from None


def _write(path: Path, text: str) -> None:
    """Check ``text`` as config, then replace ``path`` atomically (temp, fsync, rename)."""
    config.parse_text(path, text)
    locations.make_private_dir(path.parent)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def add_node(name: str, settings: dict[str, Any], path: Path | None = None) -> Path:
    """Add node ``name`` (or replace its settings, keeping the comments in its table)."""
    path = path or locations.config_file()
    check_node_name(name)
    try:
        if web_node.is_web_table(settings):
            web_node.WebNode.from_mapping(name, settings)
        else:
            Node.from_mapping(name, settings)
    except NodeError as exc:
        raise config.ConfigError(str(exc)) from None
    _, doc = _read(path)
    if "nodes" not in doc:
        doc.add("nodes", tomlkit.table(is_super_table=True))
    nodes = doc["nodes"]
    if not isinstance(nodes, dict):
        raise config.ConfigError(f"{path}: 'nodes' must be a table")
    existing = nodes.get(name)
    if isinstance(existing, dict):
        for key in [k for k in existing if k not in settings]:
            del existing[key]
        for key, value in settings.items():
            existing[key] = value
    else:
        table = tomlkit.table()
        for key, value in settings.items():
            table.add(key, value)
        table.add(tomlkit.nl())
        nodes[name] = table
    _write(path, tomlkit.dumps(doc))
    return path


def remove_node(name: str, path: Path | None = None) -> Path:
    """Remove node ``name``'s table; ConfigError if there is none."""
    path = path or locations.config_file()
    _, doc = _read(path)
    nodes = doc.get("nodes")
    if not isinstance(nodes, dict) or name not in nodes:
        raise config.ConfigError(f"no node {name!r} in {path} (see 'tuipacs node list')")
    del nodes[name]
    if not nodes and getattr(nodes, "is_super_table", lambda: False)():
        del doc["nodes"]
    _write(path, tomlkit.dumps(doc))
    return path
