"""Remote DICOM nodes (archives) and our own local AE settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from tuipacs.dicom.errors import NodeError
from tuipacs.dicom.tls import TlsFiles

Method = Literal["get", "move"]
METHODS: tuple[Method, ...] = ("get", "move")
DEFAULT_MAX_PDU = 4 * 1024 * 1024
_MAX_PDU_LIMIT = 0xFFFFFFFF
_AE_RE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # printable ASCII without backslash
_SPEC_RE = re.compile(r"^(?P<ae>[^@]+)@(?P<host>\[[^\]@\s]+\]|[^:@\s]+):(?P<port>\d+)$")


def check_ae_title(value: object, what: str) -> str:
    """Return a valid AE title (1-16 printable ASCII, no backslash) or raise NodeError."""
    if not isinstance(value, str) or not _AE_RE.match(value) or not value.strip():
        raise NodeError(f"{what} must be an AE title of 1-16 ASCII characters, got {value!r}")
    return value.strip()


def _check_int(value: object, what: str, low: int, high: int) -> int:
    """Return an int within [low, high] or raise NodeError."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise NodeError(f"{what} must be an integer from {low} to {high}, got {value!r}")
    return value


def _check_seconds(value: object, what: str) -> float:
    """Return a positive number of seconds or raise NodeError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise NodeError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def _check_host(value: object, what: str) -> str:
    """Return a non-empty host name or address or raise NodeError."""
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise NodeError(f"{what} must be a host name or IP address, got {value!r}")
    return value.strip().strip("[]")


def _check_method(value: object, what: str) -> Method:
    """Return 'get' or 'move' or raise NodeError."""
    if value not in METHODS:
        raise NodeError(f"{what} must be 'get' or 'move', got {value!r}")
    return value


def _check_max_pdu(value: object, what: str) -> int:
    """Return 0 (unlimited) or a PDU size of at least 4096 bytes, or raise NodeError."""
    size = _check_int(value, what, 0, _MAX_PDU_LIMIT)
    if 0 < size < 4096:
        raise NodeError(f"{what} must be 0 (unlimited) or at least 4096 bytes, got {size}")
    return size


@dataclass(frozen=True)
class Node:
    """A remote DICOM archive (Q/R SCP) we query and retrieve from.

    `timeout` (seconds) bounds each step: connecting, association negotiation, waiting
    for a DIMSE response and network silence. `parallel` is how many associations a
    retrieve may open at once; `max_pdu` is the largest PDU we accept (0: unlimited).
    `tls` speaks DICOM over TLS to it, checking its certificate for `tls_server_name`
    (default: `host`); the CAs and our own certificate come from LocalAE.tls.
    """

    name: str
    ae_title: str
    host: str
    port: int
    method: Method = "get"
    parallel: int = 2
    timeout: float = 30.0
    max_pdu: int = DEFAULT_MAX_PDU
    tls: bool = False
    tls_server_name: str = ""

    def __post_init__(self) -> None:
        """Validate every field (NodeError names the faulty one)."""
        label = f"node {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise NodeError(f"a node needs a non-empty name, got {self.name!r}")
        object.__setattr__(self, "ae_title", check_ae_title(self.ae_title, f"{label}: ae_title"))
        object.__setattr__(self, "host", _check_host(self.host, f"{label}: host"))
        _check_int(self.port, f"{label}: port", 1, 65535)
        _check_method(self.method, f"{label}: method")
        _check_int(self.parallel, f"{label}: parallel", 1, 16)
        object.__setattr__(self, "timeout", _check_seconds(self.timeout, f"{label}: timeout"))
        _check_max_pdu(self.max_pdu, f"{label}: max_pdu")
        if not isinstance(self.tls, bool):
            raise NodeError(f"{label}: tls must be true or false, got {self.tls!r}")
        if self.tls_server_name:
            _check_host(self.tls_server_name, f"{label}: tls_server_name")

    @property
    def address(self) -> str:
        """AE@host:port, for messages."""
        return f"{self.ae_title}@{self.host}:{self.port}"

    @property
    def connect_timeout(self) -> float:
        """Seconds to wait for the TCP connection."""
        return min(self.timeout, 10.0)

    @classmethod
    def from_mapping(cls, name: str, data: Mapping[str, Any]) -> Node:
        """Build a node from a config table, e.g. {"ae_title": "PACS", "host": ..., "port": 104}.

        Raises NodeError naming the node and the key at fault.
        """
        if not isinstance(data, Mapping):
            raise NodeError(f"node {name!r} must be a table of settings, got {data!r}")
        known = {f.name for f in fields(cls)} - {"name"}
        unknown = sorted(set(data) - known)
        if unknown:
            allowed = ", ".join(sorted(known))
            raise NodeError(f"node {name!r}: unknown key {unknown[0]!r} (allowed: {allowed})")
        for key in ("ae_title", "host", "port"):
            if key not in data:
                raise NodeError(f"node {name!r}: missing key {key!r}")
        return cls(name=name, **dict(data))

    def to_mapping(self) -> dict[str, Any]:
        """The node's settings as a table (without the name), for config files.

        The TLS keys are left out while TLS is off, so plain nodes read as before.
        """
        table = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}
        if not self.tls:
            del table["tls"], table["tls_server_name"]
        elif not self.tls_server_name:
            del table["tls_server_name"]
        return table


def parse_node_spec(spec: str, name: str | None = None, method: Method = "get") -> Node:
    """Parse 'AE@host:port' (IPv6 as 'AE@[::1]:104') into a Node named `name` or the spec."""
    match = _SPEC_RE.match(spec.strip()) if isinstance(spec, str) else None
    if match is None:
        raise NodeError(f"node spec must look like AE@host:port (e.g. ORTHANC@pacs:4242): {spec!r}")
    port = int(match["port"])
    return Node(
        name=name or spec.strip(),
        ae_title=match["ae"],
        host=match["host"],
        port=port,
        method=method,
    )


@dataclass(frozen=True)
class LocalAE:
    """Our side: the AE title we call with and the Storage SCP for C-MOVE.

    `bind_host`/`port` is where our temporary C-MOVE receiver listens: the archive must
    know ae_title with a host and this port. Use bind_host "0.0.0.0" to accept moves
    from another machine. `spool_dir` is where incoming files are first written
    (best on the archive's file system so the final move is a rename). `tls` holds our
    certificate and the CAs we trust, for nodes with ``tls = true``.
    """

    ae_title: str = "TUIPACS"
    port: int = 11112
    bind_host: str = "127.0.0.1"
    spool_dir: Path | None = None
    tls: TlsFiles | None = None

    def __post_init__(self) -> None:
        """Validate every field."""
        object.__setattr__(self, "ae_title", check_ae_title(self.ae_title, "local ae_title"))
        _check_int(self.port, "local port", 0, 65535)
        _check_host(self.bind_host, "local bind_host")
        if self.spool_dir is not None and not isinstance(self.spool_dir, Path):
            object.__setattr__(self, "spool_dir", Path(self.spool_dir))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LocalAE:
        """Build local settings from a config table; NodeError names a bad key."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise NodeError(f"local AE: unknown key {unknown[0]!r} (allowed: {sorted(known)})")
        values = dict(data)
        if "spool_dir" in values and values["spool_dir"] is not None:
            if not isinstance(values["spool_dir"], str | Path):
                raise NodeError(
                    f"local spool_dir must be a folder path, got {values['spool_dir']!r}"
                )
            values["spool_dir"] = Path(values["spool_dir"])
        return cls(**values)
