"""Who may call ``tuipacs serve --http`` and how much they may send: the [serve] http_* keys.

Auth is HTTP basic (``http_users``: user -> password) or bearer tokens (``http_tokens``);
a secret written ``"env:NAME"`` is read from the environment variable NAME when the server
starts (a missing variable stops the start with one line). Without credentials nothing is
served, unless ``http_allow_anonymous = true``. Credentials are compared in constant time
and never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Seconds a client may take for a request's line and headers, and for each read of a body
#: (slow clients are cut): [serve] http_timeout.
IO_TIMEOUT = 30.0
#: Requests served at once; more wait in the listen queue.
WORKERS = 16


def read_http_keys(serve: Any, cfg: Any, parse_size: Callable[[str | int], int]) -> None:
    """Check the [serve] http_* keys of config.toml into ``cfg`` (``serve`` is the config's
    reader of the [serve] table: ``get`` and ``fail``, an error naming the file's line).
    Secrets stay as written: ``"env:NAME"`` is read when the server starts."""
    cfg.serve_http_auth = serve.get("http_auth", str, cfg.serve_http_auth)
    if cfg.serve_http_auth not in ("basic", "token"):
        raise serve.fail("http_auth", "must be 'basic' or 'token'")
    users = serve.get("http_users", dict, {})
    if not all(isinstance(k, str) and isinstance(v, str) and k for k, v in users.items()):
        raise serve.fail("http_users", 'expected a table of user = "password" (or "env:NAME")')
    if any(":" in user for user in users):
        raise serve.fail("http_users", "a user name may not contain ':'")
    cfg.serve_http_users = dict(users)
    tokens = serve.get("http_tokens", list, [])
    if not all(isinstance(t, str) and t for t in tokens):
        raise serve.fail("http_tokens", 'expected a list of tokens (or "env:NAME")')
    cfg.serve_http_tokens = list(tokens)
    cfg.serve_http_allow_anonymous = serve.get(
        "http_allow_anonymous", bool, cfg.serve_http_allow_anonymous
    )
    for key in ("http_max_body", "http_max_part"):
        try:
            size = parse_size(serve.get(key, (str, int), getattr(cfg, f"serve_{key}")))
        except ValueError as exc:
            raise serve.fail(key, str(exc)) from exc
        if size < 1 << 20:
            raise serve.fail(key, "must be at least 1 MiB (e.g. '2 GiB')")
        setattr(cfg, f"serve_{key}", size)
    cfg.serve_http_timeout = serve.get("http_timeout", int, cfg.serve_http_timeout)
    if not 1 <= cfg.serve_http_timeout <= 3600:
        raise serve.fail("http_timeout", "must be a number of seconds from 1 to 3600")


class SettingsError(Exception):
    """The [serve] http_* settings cannot work (no users, a missing variable); one line."""


def _secret(value: str, what: str) -> str:
    """A configured secret, read from the environment when written ``env:NAME``."""
    if not value.startswith("env:"):
        return value
    name = value[4:].strip()
    found = os.environ.get(name, "")
    if not name or not found:
        raise SettingsError(
            f"[serve] {what} names the environment variable {name or '(empty)'!r}, which is "
            "not set: export it before `tuipacs serve --http`"
        )
    return found


@dataclass
class WebSettings:
    """The DICOMweb server's settings (see the module doc)."""

    auth: str = "basic"
    users: dict[str, str] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    allow_anonymous: bool = False
    max_body: int = 2 << 30
    max_part: int = 1 << 30
    io_timeout: float = IO_TIMEOUT
    workers: int = WORKERS

    @classmethod
    def from_config(cls, cfg: Any) -> WebSettings:
        """From a Config (secrets resolved); SettingsError when no one could log in."""
        auth = str(getattr(cfg, "serve_http_auth", "basic"))
        users = dict(getattr(cfg, "serve_http_users", None) or {})
        tokens = list(getattr(cfg, "serve_http_tokens", None) or [])
        settings = cls(
            auth=auth,
            users={u: _secret(p, f"http_users.{u}") for u, p in users.items()},
            tokens=[_secret(t, "http_tokens") for t in tokens],
            allow_anonymous=bool(getattr(cfg, "serve_http_allow_anonymous", False)),
            max_body=int(getattr(cfg, "serve_http_max_body", 2 << 30)),
            max_part=int(getattr(cfg, "serve_http_max_part", 1 << 30)),
            io_timeout=float(getattr(cfg, "serve_http_timeout", IO_TIMEOUT)),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """SettingsError when the auth mode has no credentials and anonymous is off."""
        if self.allow_anonymous:
            return
        if self.auth == "basic" and not self.users:
            raise SettingsError(
                '[serve] http_auth = "basic" needs users: add http_users = { name = '
                '"env:VARIABLE" } (or set http_allow_anonymous = true)'
            )
        if self.auth == "token" and not self.tokens:
            raise SettingsError(
                '[serve] http_auth = "token" needs tokens: add http_tokens = '
                '["env:VARIABLE"] (or set http_allow_anonymous = true)'
            )

    @property
    def challenge(self) -> str:
        """The WWW-Authenticate header of a 401."""
        return 'Bearer realm="tuipacs"' if self.auth == "token" else 'Basic realm="tuipacs"'

    def caller(self, header: str | None) -> str | None:
        """Who an Authorization header names ("" for anonymous), None when refused."""
        if not header:
            return "" if self.allow_anonymous else None
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if self.auth == "basic" and scheme.lower() == "basic":
            return self._basic(value)
        if self.auth == "token" and scheme.lower() == "bearer":
            for index, token in enumerate(self.tokens):
                if hmac.compare_digest(value.encode(), token.encode()):
                    return f"token#{index + 1}"
        return None

    def _basic(self, value: str) -> str | None:
        try:
            decoded = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            return None
        user, sep, password = decoded.partition(":")
        expected = self.users.get(user)
        if not sep or expected is None:
            hmac.compare_digest(password.encode(), password.encode())  # same time either way
            return None
        if hmac.compare_digest(password.encode(), expected.encode()):
            return user
        return None
