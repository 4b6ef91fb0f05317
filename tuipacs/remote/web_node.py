"""DICOMweb nodes: a base URL, how to authenticate, how to check the server's certificate.

A node of config.toml is a DICOMweb node when its table has ``url`` (or ``kind =
"dicomweb"``)::

    [nodes.cloud]
    url = "https://pacs.example.org/dicom-web"
    auth = "basic"            # none | basic | bearer
    user = "reader"
    password_env = "PACS_PW"  # or password = "..." (the file is private to its owner)
    ca = "tls/ca.pem"         # CA bundle for the server's certificate (default: the system's)
    timeout = 30              # seconds per step (connect, each read)
    parallel = 4              # requests at once in a retrieve

TLS certificates are always verified. Credentials never go inside the URL: the auth keys
hold them, so that they are not shown by ``node list`` or in messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from tuipacs.dicom.errors import NodeError
from tuipacs.dicom.nodes import Node

Auth = Literal["none", "basic", "bearer"]
AUTHS: tuple[Auth, ...] = ("none", "basic", "bearer")
KIND = "dicomweb"


def is_web_table(data: Mapping[str, Any]) -> bool:
    """Whether a [nodes.NAME] table describes a DICOMweb node (``url`` or ``kind``)."""
    return isinstance(data, Mapping) and ("url" in data or data.get("kind") == KIND)


def looks_like_url(spec: str) -> bool:
    """Whether ``spec`` is meant as a URL (``http://`` or ``https://``)."""
    return isinstance(spec, str) and spec.strip().lower().startswith(("http://", "https://"))


def check_url(value: object, what: str) -> str:
    """A base URL (http or https, host, no spaces, no credentials), without its trailing
    slash; NodeError saying what is wrong otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise NodeError(f"{what} must be a URL like https://host/dicom-web, got {value!r}")
    url = value.strip()
    if any(c.isspace() or not c.isprintable() for c in url):
        raise NodeError(f"{what} may not contain spaces or control characters: {url!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise NodeError(f"{what} is not a valid URL ({exc}): {url!r}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise NodeError(f"{what} must start with http:// or https://, got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise NodeError(
            f"{what} may not hold a user or password: put them in the node's auth keys "
            "(auth = \"basic\", user, password_env)"
        )
    if not parts.hostname:
        raise NodeError(f"{what} has no host name: {url!r}")
    if port == 0:
        raise NodeError(f"{what} has port 0: {url!r}")
    if parts.query or parts.fragment:
        raise NodeError(f"{what} must be a base URL without '?' or '#': {url!r}")
    return url.rstrip("/")


def _text(value: object, what: str) -> str:
    """A one-line text setting (may be empty)."""
    if not isinstance(value, str) or any(not c.isprintable() for c in value):
        raise NodeError(f"{what} must be text on one line, got a {type(value).__name__}")
    return value


@dataclass(frozen=True)
class WebNode:
    """A remote archive spoken to over DICOMweb (QIDO-RS, WADO-RS, STOW-RS) at ``url``.

    ``auth`` is none, basic (``user`` and ``password`` or the environment variable named by
    ``password_env``) or bearer (``token`` or ``token_env``). ``ca`` is a CA bundle (PEM)
    for the server's certificate (empty: the system's); certificates are always verified.
    ``timeout`` bounds connecting and each read; ``parallel`` is how many requests a
    retrieve makes at once.
    """

    name: str
    url: str
    kind: str = KIND
    auth: Auth = "none"
    user: str = ""
    password: str = ""
    password_env: str = ""
    token: str = ""
    token_env: str = ""
    ca: str = ""
    timeout: float = 30.0
    parallel: int = 4

    def __post_init__(self) -> None:
        """Validate every field (NodeError names the faulty one)."""
        label = f"node {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise NodeError(f"a node needs a non-empty name, got {self.name!r}")
        object.__setattr__(self, "url", check_url(self.url, f"{label}: url"))
        if self.kind != KIND:
            raise NodeError(f"{label}: kind must be {KIND!r} for a node with a url")
        if self.auth not in AUTHS:
            raise NodeError(f"{label}: auth must be one of {', '.join(AUTHS)}, got {self.auth!r}")
        for key in ("user", "password", "password_env", "token", "token_env", "ca"):
            _text(getattr(self, key), f"{label}: {key}")
        if self.auth == "basic" and not self.user:
            raise NodeError(f"{label}: auth = \"basic\" needs user (and password or password_env)")
        if self.auth == "basic" and not (self.password or self.password_env):
            raise NodeError(f"{label}: auth = \"basic\" needs password or password_env")
        if self.auth == "bearer" and not (self.token or self.token_env):
            raise NodeError(f"{label}: auth = \"bearer\" needs token or token_env")
        t = self.timeout
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 3600:
            raise NodeError(f"{label}: timeout must be a number of seconds from 0 to 3600")
        object.__setattr__(self, "timeout", float(t))
        p = self.parallel
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 16:
            raise NodeError(f"{label}: parallel must be an integer from 1 to 16, got {p!r}")

    @property
    def address(self) -> str:
        """The base URL, for messages (it holds no credentials)."""
        return self.url

    @property
    def host(self) -> str:
        """The server's host name."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """The server's TCP port (the scheme's default when the URL names none)."""
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme.lower() == "https" else 80)

    @property
    def method(self) -> str:
        """How a retrieve fetches, for listings."""
        return "wado-rs"

    def secret(self) -> str:
        """The password or token (from the environment variable when one is named);
        NodeError when that variable is not set."""
        if self.auth == "none":
            return ""
        value, env = (
            (self.password, self.password_env)
            if self.auth == "basic"
            else (self.token, self.token_env)
        )
        if env:
            found = os.environ.get(env)
            if found is None:
                raise NodeError(
                    f"node {self.name!r}: the environment variable {env} (its "
                    f"{'password' if self.auth == 'basic' else 'token'}) is not set"
                )
            return found
        return value

    def auth_line(self) -> str:
        """How this node authenticates, for messages (no secret)."""
        if self.auth == "basic":
            where = f"from ${self.password_env}" if self.password_env else "from config"
            return f"basic auth as user {self.user!r} (password {where})"
        if self.auth == "bearer":
            where = f"from ${self.token_env}" if self.token_env else "from config"
            return f"a bearer token {where}"
        return "no authentication"

    @classmethod
    def from_mapping(cls, name: str, data: Mapping[str, Any]) -> WebNode:
        """Build a node from a config table; NodeError names the node and the key at fault."""
        if not isinstance(data, Mapping):
            raise NodeError(f"node {name!r} must be a table of settings, got {data!r}")
        known = known_keys()
        unknown = sorted(set(data) - known)
        if unknown:
            allowed = ", ".join(sorted(known))
            raise NodeError(f"node {name!r}: unknown key {unknown[0]!r} (allowed: {allowed})")
        if "url" not in data:
            raise NodeError(f"node {name!r}: a dicomweb node needs url (e.g. https://host/dicom-web)")
        return cls(name=name, **dict(data))

    def to_mapping(self) -> dict[str, Any]:
        """The node's settings as a table (without the name; defaults and secrets left out)."""
        table: dict[str, Any] = {"url": self.url}
        for f in fields(self):
            if f.name in ("name", "url", "kind", "password", "token"):
                continue
            value = getattr(self, f.name)
            if value != f.default:
                table[f.name] = value
        return table


def with_ca_from(node: WebNode, config_path: Path | None) -> WebNode:
    """``node`` with its ``ca`` (~ expanded) made relative to the config file's folder, as
    the paths of [tls] are."""
    if not node.ca:
        return node
    ca = Path(node.ca).expanduser()
    if not ca.is_absolute() and config_path is not None:
        ca = config_path.parent / ca
    return replace(node, ca=str(ca))


def known_keys() -> frozenset[str]:
    """The keys a DICOMweb node's table may hold."""
    return frozenset(f.name for f in fields(WebNode)) - {"name"}


def parse_url_spec(spec: str, name: str | None = None) -> WebNode:
    """A node for the base URL ``spec`` (no auth), named ``name`` or the URL."""
    url = check_url(spec, "the node's URL")
    return WebNode(name=name or url, url=url)


AnyNode = Node | WebNode
"""A configured node of either kind: DIMSE (:class:`~tuipacs.dicom.nodes.Node`) or
DICOMweb (:class:`WebNode`)."""
