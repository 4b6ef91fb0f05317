"""Configuration: ``config.toml`` read with tomllib into dataclasses.

Example::

    ae_title = "TUIPACS"        # our AE title
    port = 11112                # our Storage SCP port (C-MOVE destination, tuipacs serve)
    archive_limit = "20 GB"     # eviction limit; 0 = unlimited
    graphics = "auto"           # auto | kitty | sixel | halfcell
    quality = "auto"            # auto | full | fast: pictures over a slow link
    frames_in_flight = "auto"   # frames sent to the terminal and not yet answered for: 1-8 or
                                # auto (1, more while they fit in one round trip of the link)
    theme = "reading-room"
    thumbnails = true           # series thumbnails in the browser (key t toggles)
    audit = true                # JSON-lines audit log (archive/audit.jsonl) of who did what
    decode_limit = "1 GiB"      # most memory one decoded frame may take; bigger is refused

    [serve]
    allow = ["STORESCU", "CT1@127.0.0.1"]   # calling AEs allowed; empty list = anyone
    allow_store = []            # per service (store, query, retrieve); empty: use allow
    bind = "127.0.0.1"          # listen address of `tuipacs serve` (loopback by default)
    allow_any = false           # needed to listen beyond loopback with no allow list
    sync = true                 # fsync each received image before answering
    tls = "off"                 # off | on (TLS only) | mutual (callers need a certificate)
    max_associations = 32       # at once, overall
    max_associations_per_address = 16   # at once, from one address
    http_auth = "basic"         # `serve --http`: basic (http_users) | token (http_tokens)
    http_users = { reader = "env:READER_PW" }   # also http_allow_anonymous, http_max_body,
                                # http_max_part, http_timeout (tuipacs.dicomweb.server.settings)

    [tls]                       # DICOM over TLS: our certificate and the CAs we trust
    certificate = "tls/cert.pem"   # relative paths are relative to this file's folder
    private_key = "tls/key.pem"
    ca = "tls/ca.pem"           # signs the peers' certificates (default: the system's CAs)

    [presets.CT]                # window presets of a modality: "name" = [center, width]
    "Lung wide" = [-500, 2000]  # added after the built-in ones ("Lung" would replace that one)

    [nodes.orthanc]
    ae_title = "ORTHANC"
    host = "127.0.0.1"
    port = 4242
    method = "get"              # get | move
    tls = false                 # DICOM over TLS to this node
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tuipacs import locations
from tuipacs.dicom.errors import NodeError
from tuipacs.dicom.nodes import LocalAE, Node, parse_node_spec
from tuipacs.dicom.tls import SERVER_MODES, TlsFiles
from tuipacs.dicomweb.server.settings import read_http_keys
from tuipacs.remote import web_node
from tuipacs.remote.web_node import AnyNode

GRAPHICS = ("auto", "kitty", "sixel", "halfcell")
QUALITY = ("auto", "full", "fast")
#: Listen address of `tuipacs serve` unless configured: loopback only.
DEFAULT_BIND = "127.0.0.1"
MAX_KEY_DOTS = 32
"""Dots outside quotes on one line of config.toml at most (the longest sane key has a few)."""
MAX_NESTING = 32
"""Brackets and braces nested in config.toml at most."""
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)


class ConfigError(Exception):
    """A bad config file; the message names the file, line and key."""


@dataclass
class Config:
    """Everything tuipacs reads from config.toml, with defaults."""

    ae_title: str = "TUIPACS"
    port: int = 11112
    archive_limit: int = 0
    graphics: str = "auto"
    quality: str = "auto"
    frames_in_flight: int = 0
    """1-8, or 0 for ``auto`` (:data:`tuipacs.view.link.AUTO_IN_FLIGHT`)."""
    keys: dict[str, str] = field(default_factory=dict)
    """[keys]: viewer action name -> keys (tuipacs.view.actions), as given."""
    presets: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    """[presets.MODALITY]: modality (upper case) -> (name, center, width), checked."""
    theme: str = "reading-room"
    thumbnails: bool = True
    hanging_protocols: bool = True
    """Lay a study out by its hanging protocol when it opens (tuipacs.view.hanging)."""
    audit: bool = True
    decode_limit: int = 1 << 30
    serve_allow: list[str] = field(default_factory=list)
    serve_allow_store: list[str] = field(default_factory=list)
    serve_allow_query: list[str] = field(default_factory=list)
    serve_allow_retrieve: list[str] = field(default_factory=list)
    serve_bind: str = DEFAULT_BIND
    serve_allow_any: bool = False
    serve_sync: bool = True
    serve_tls: str = "off"
    serve_max_associations: int = 32
    serve_max_per_address: int = field(
        default=16, metadata={"key": "max_associations_per_address"}
    )
    serve_http_auth: str = "basic"
    serve_http_users: dict[str, str] = field(default_factory=dict)
    serve_http_tokens: list[str] = field(default_factory=list)
    serve_http_allow_anonymous: bool = False
    serve_http_max_body: int = 2 << 30
    serve_http_max_part: int = 1 << 30
    serve_http_timeout: int = 30
    tls: TlsFiles = field(default_factory=TlsFiles)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)
    """One line per setting that was skipped (a bad preset); the rest of the file counts."""

    def local_ae(self) -> LocalAE:
        """Our AE title and Storage SCP port, spooling received files near the archive."""
        return LocalAE(
            ae_title=self.ae_title,
            port=self.port,
            spool_dir=locations.archive_dir() / "tmp",
            tls=self.tls,
        )

    def node(self, name_or_spec: str) -> AnyNode:
        """A configured node by name, an ``AE@host:port`` spec or a DICOMweb base URL."""
        if name_or_spec in self.nodes:
            table = self.nodes[name_or_spec]
            if web_node.is_web_table(table):
                node = web_node.WebNode.from_mapping(name_or_spec, table)
                return web_node.with_ca_from(node, self.path)
            return Node.from_mapping(name_or_spec, table)
        if web_node.looks_like_url(name_or_spec):
            return web_node.parse_url_spec(name_or_spec)
        if "@" in name_or_spec:
            return parse_node_spec(name_or_spec)
        known = ", ".join(sorted(self.nodes)) or "none configured"
        raise NodeError(
            f"unknown node {name_or_spec!r} (known: {known}); add one with "
            "'tuipacs node add NAME AE@host:port' (or a DICOMweb URL) or give AE@host:port"
        )


#: The tables of config.toml besides the top level: [serve] settings are the Config fields
#: named ``serve_*``, [tls] those of TlsFiles, [nodes.NAME] those of Node.
SECTIONS = ("serve", "tls", "nodes")
#: Config fields that are not keys of the file.
_NOT_KEYS = frozenset({"path", "warnings"})


def config_key(name: str) -> tuple[str, str]:
    """(section, key) in the file of the Config field ``name`` ("" is the top level)."""
    meta: Mapping[str, Any] = {f.name: f.metadata for f in fields(Config)}.get(name, {})
    for section in SECTIONS:
        if name.startswith(section + "_"):
            return section, meta.get("key", name.removeprefix(section + "_"))
    return "", meta.get("key", name)


def known_keys(section: str = "") -> frozenset[str]:
    """The keys the file may hold at the top level ("") or in ``section``, taken from the
    dataclasses, so a setting added to Config is known here without a second list."""
    if section == "tls":
        return frozenset(f.name for f in fields(TlsFiles))
    if section == "nodes":
        return frozenset(f.name for f in fields(Node)) - {"name"}
    keys = {config_key(f.name) for f in fields(Config) if f.name not in _NOT_KEYS}
    found = {key for sec, key in keys if sec == section}
    return frozenset(found | set(SECTIONS)) if not section else frozenset(found)


def did_you_mean(word: str, known: frozenset[str] | set[str]) -> str:
    """`` (did you mean 'allow'?)`` for the nearest of ``known``, or a list of them."""
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(sorted(known))})"


def parse_size(text: str | int) -> int:
    """``"20 GB"``, ``"500M"``, ``"1.5GiB"`` or an int to bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _SIZE_RE.match(str(text))
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. '20 GB' or '500 MB')")
    unit = (match.group(2) or "").lower()
    base = 1024 if "i" in unit else 1000
    power = 0 if unit in ("", "b") else "kmgt".index(unit[0]) + 1
    return int(float(match.group(1)) * base**power)


_HEADER_RE = re.compile(r"^\s*\[\[?\s*(?P<name>[^\]#]*?)\s*\]\]?\s*(#.*)?$")


def _header(line: str) -> str | None:
    """The table named by a header line (``[nodes.main]  # comment`` gives nodes.main)."""
    match = _HEADER_RE.match(line)
    if not match:
        return None
    parts = [p.strip().strip("\"'") for p in match["name"].split(".")]
    return ".".join(parts)


def _key_line(text: str, section: str, key: str) -> int:
    """Line of ``key`` inside ``[section]``, or of the header of a table ``[section.key...]``
    (0 if not found)."""
    current = ""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*[.=]")
    table = f"{section}.{key}" if section else key
    for number, line in enumerate(text.splitlines(), 1):
        name = _header(line)
        if name is not None:
            current = name
            if name == table or name.startswith(table + "."):
                return number
        elif current == section and pattern.match(line):
            return number
    return 0


class _Reader:
    """Typed access to a parsed TOML table with errors that name file, line and key."""

    def __init__(self, path: Path, text: str, table: dict[str, Any], section: str = "") -> None:
        self.path, self.text, self.table, self.section = path, text, table, section

    def fail(self, key: str, problem: str) -> ConfigError:
        line = _key_line(self.text, self.section, key)
        name = f"{self.section}.{key}" if self.section else key
        return ConfigError(f"{self.path}:{line}: key '{name}': {problem}")

    def check_keys(self, known: frozenset[str]) -> None:
        """Fail on the first key this table does not know (a typo must not pass silently):
        the error names the key's own line and the nearest known key."""
        for key in self.table:
            if key not in known:
                where = f"[{self.section}]" if self.section else "the top level"
                raise self.fail(key, f"unknown key in {where}{did_you_mean(key, known)}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = self.table.get(key, default)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(key, f"expected {names}, got {type(value).__name__}")
        return value


def load(path: Path | None = None) -> Config:
    """Read config.toml (defaults when it does not exist)."""
    path = path or locations.config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path=path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text") from exc
    return parse_text(path, text)


def parse_text(path: Path, text: str) -> Config:
    """The config in ``text`` (read from ``path``), checked as :func:`load` checks a file
    (first its shape: tomllib takes time quadratic in the parts of one dotted key)."""
    from tuipacs.toml_shape import shape

    measured = shape(text)
    if measured.dots > MAX_KEY_DOTS:
        raise ConfigError(
            f"{path}:{measured.dots_line}: more than {MAX_KEY_DOTS} dots outside quotes (a key"
            " of that many parts?): fix that line"
        )
    if measured.depth > MAX_NESTING:
        raise ConfigError(
            f"{path}:{measured.depth_line}: brackets or braces nested more than {MAX_NESTING}"
            " deep: fix that line"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return _from_data(path, text, data)


def _from_data(path: Path, text: str, data: dict[str, Any]) -> Config:
    top = _Reader(path, text, data)
    top.check_keys(known_keys())
    cfg = Config(path=path)
    cfg.ae_title = _ae_title(top, "ae_title", cfg.ae_title)
    cfg.port = _port(top, "port", cfg.port)
    try:
        cfg.archive_limit = parse_size(top.get("archive_limit", (str, int), 0))
    except ValueError as exc:
        raise top.fail("archive_limit", str(exc)) from exc
    cfg.graphics = top.get("graphics", str, cfg.graphics)
    if cfg.graphics not in GRAPHICS:
        raise top.fail("graphics", f"must be one of {', '.join(GRAPHICS)}")
    cfg.quality = top.get("quality", str, cfg.quality)
    if cfg.quality not in QUALITY:
        raise top.fail("quality", f"must be one of {', '.join(QUALITY)}")
    in_flight = top.get("frames_in_flight", (int, str), "auto")
    if in_flight == "auto":
        cfg.frames_in_flight = 0
    elif isinstance(in_flight, int) and 1 <= in_flight <= 8:
        cfg.frames_in_flight = in_flight
    else:
        raise top.fail("frames_in_flight", 'must be "auto" or a number from 1 to 8')
    cfg.keys = _keys(_Reader(path, text, top.get("keys", dict, {}), "keys"))
    from tuipacs.config_presets import presets_of  # it reads with this module's _Reader

    cfg.presets = presets_of(_Reader(path, text, data, ""), cfg.warnings)
    cfg.theme = top.get("theme", str, cfg.theme)
    cfg.thumbnails = top.get("thumbnails", bool, cfg.thumbnails)
    cfg.hanging_protocols = top.get("hanging_protocols", bool, cfg.hanging_protocols)
    cfg.audit = top.get("audit", bool, cfg.audit)
    try:
        cfg.decode_limit = parse_size(top.get("decode_limit", (str, int), cfg.decode_limit))
    except ValueError as exc:
        raise top.fail("decode_limit", str(exc)) from exc
    if cfg.decode_limit < 1 << 20:
        raise top.fail("decode_limit", "must be at least 1 MiB (e.g. '1 GiB')")
    cfg.tls = _tls_files(_Reader(path, text, top.get("tls", dict, {}), "tls"))
    serve = _Reader(path, text, top.get("serve", dict, {}), "serve")
    serve.check_keys(known_keys("serve"))
    for key in ("allow", "allow_store", "allow_query", "allow_retrieve"):
        allow = serve.get(key, list, [])
        if not all(isinstance(a, str) for a in allow):
            raise serve.fail(key, "expected a list of strings like 'AE', 'AE@host' or '*@host'")
        setattr(cfg, f"serve_{key}", allow)
    cfg.serve_bind = serve.get("bind", str, cfg.serve_bind)
    cfg.serve_allow_any = serve.get("allow_any", bool, cfg.serve_allow_any)
    cfg.serve_sync = serve.get("sync", bool, cfg.serve_sync)
    cfg.serve_tls = serve.get("tls", str, cfg.serve_tls)
    for key, attr in (
        ("max_associations", "serve_max_associations"),
        ("max_associations_per_address", "serve_max_per_address"),
    ):
        value = serve.get(key, int, getattr(cfg, attr))
        if not 1 <= value <= 1000:
            raise serve.fail(key, "must be a number from 1 to 1000")
        setattr(cfg, attr, value)
    if cfg.serve_tls not in SERVER_MODES:
        raise serve.fail("tls", f"must be one of {', '.join(SERVER_MODES)}")
    read_http_keys(serve, cfg, parse_size)
    nodes = top.get("nodes", dict, {})
    for name, table in nodes.items():
        if not isinstance(table, dict):
            raise top.fail("nodes", f"[nodes.{name}] must be a table")
        reader = _Reader(path, text, table, f"nodes.{name}")
        if web_node.is_web_table(table):
            _web_node(reader, name)
            continue
        reader.check_keys(known_keys("nodes"))
        _ae_title(reader, "ae_title", "")
        reader.get("host", str, "")
        _port(reader, "port", 0)
        method = reader.get("method", str, "get")
        if method not in ("get", "move"):
            raise reader.fail("method", "must be 'get' or 'move'")
        try:
            Node.from_mapping(name, table)
        except NodeError as exc:
            line = _key_line(text, "nodes", name)
            raise ConfigError(f"{path}:{line}: [nodes.{name}]: {exc}") from exc
    cfg.nodes = {name: dict(table) for name, table in nodes.items()}
    return cfg


def _web_node(reader: _Reader, name: str) -> None:
    """Check a DICOMweb node's table ([nodes.NAME] with ``url``): its keys, then the node."""
    reader.check_keys(web_node.known_keys())
    try:
        web_node.WebNode.from_mapping(name, reader.table)
    except NodeError as exc:
        problem = str(exc).split(": ", 1)[-1]
        key = problem.split(" ", 1)[0]
        raise reader.fail(key if key in reader.table else "url", problem) from None


def _keys(reader: _Reader) -> dict[str, str]:
    """[keys]: known viewer action names, each to valid key names."""
    from tuipacs.view.actions import VIEWER_ACTIONS, parse_keys

    reader.check_keys(frozenset(VIEWER_ACTIONS))
    keys: dict[str, str] = {}
    for name in reader.table:
        try:
            keys[name] = ",".join(parse_keys(reader.get(name, str, "")))
        except ValueError as exc:
            raise reader.fail(name, str(exc)) from None
    return keys


def _tls_files(reader: _Reader) -> TlsFiles:
    """The [tls] table: paths relative to the config file's folder, ~ expanded."""
    reader.check_keys(known_keys("tls"))
    paths: dict[str, Path | None] = {}
    for key in sorted(known_keys("tls")):
        value = reader.get(key, str, "")
        path = Path(value).expanduser() if value else None
        paths[key] = reader.path.parent / path if path and not path.is_absolute() else path
    try:
        return TlsFiles(**paths)
    except NodeError as exc:
        raise reader.fail("certificate", str(exc)) from None


def _ae_title(reader: _Reader, key: str, default: str) -> str:
    value = str(reader.get(key, str, default))
    if key in reader.table and not (0 < len(value) <= 16 and value.isprintable()):
        raise reader.fail(key, "an AE title has 1 to 16 printable characters")
    return value


def _port(reader: _Reader, key: str, default: int) -> int:
    value = int(reader.get(key, int, default))
    if key in reader.table and not 0 < value < 65536:
        raise reader.fail(key, "a port is a number from 1 to 65535")
    return value
