"""The [serve] http_* keys, the auth check and the request-body reader, in process."""

from __future__ import annotations

import base64
import io
from email.message import Message
from pathlib import Path

import pytest

from tuipacs import config
from tuipacs.dicomweb.server.body import HttpError, request_body
from tuipacs.dicomweb.server.settings import SettingsError, WebSettings


def _cfg(text: str) -> config.Config:
    return config.parse_text(Path("config.toml"), text)


def test_config_http_keys() -> None:
    cfg = _cfg(
        '[serve]\nhttp_auth = "token"\nhttp_tokens = ["env:T"]\nhttp_users = { a = "x" }\n'
        'http_allow_anonymous = true\nhttp_max_body = "10 MiB"\nhttp_max_part = 2097152\n'
    )
    assert (cfg.serve_http_auth, cfg.serve_http_tokens) == ("token", ["env:T"])
    assert cfg.serve_http_users == {"a": "x"} and cfg.serve_http_allow_anonymous
    assert (cfg.serve_http_max_body, cfg.serve_http_max_part) == (10 << 20, 2 << 20)
    assert _cfg("[serve]\nhttp_timeout = 5\nhttp_allow_anonymous = true\n").serve_http_timeout == 5
    defaults = _cfg("")
    assert defaults.serve_http_auth == "basic" and not defaults.serve_http_allow_anonymous
    assert defaults.serve_http_max_body == 2 << 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('http_auth = "digest"', "must be 'basic' or 'token'"),
        ("http_users = { a = 1 }", 'user = "password"'),
        ('http_users = { "a:b" = "x" }', "may not contain ':'"),
        ("http_tokens = [1]", "list of tokens"),
        ('http_max_body = "1 KB"', "at least 1 MiB"),
        ("http_timeout = 0", "from 1 to 3600"),
        ('http_user = { a = "x" }', "did you mean 'http_users'"),
    ],
)
def test_config_http_keys_refused(text: str, message: str) -> None:
    with pytest.raises(config.ConfigError, match=message) as caught:
        _cfg(f"[serve]\n{text}\n")
    assert "config.toml:2:" in str(caught.value)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUIPACS_TEST_PW", "pw:with:colons")
    cfg = _cfg('[serve]\nhttp_users = { ann = "env:TUIPACS_TEST_PW", bob = "plain" }\n')
    settings = WebSettings.from_config(cfg)
    assert settings.caller(_basic("ann", "pw:with:colons")) == "ann"
    assert settings.caller(_basic("bob", "plain")) == "bob"
    for bad in (None, "", _basic("ann", "plain"), _basic("eve", "plain"), "Basic ***",
                "Bearer plain", "Basic " + base64.b64encode(b"nocolon").decode()):  # fmt: skip
        assert settings.caller(bad) is None
    tokens = WebSettings(auth="token", tokens=["t1", "t2"])
    assert tokens.caller("Bearer t2") == "token#2" and tokens.caller("Bearer t3") is None
    assert tokens.caller(_basic("ann", "t1")) is None
    anonymous = WebSettings(allow_anonymous=True)
    assert anonymous.caller(None) == "" and anonymous.caller(_basic("x", "y")) is None


def test_settings_that_cannot_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUIPACS_TEST_NOPE", raising=False)
    with pytest.raises(SettingsError, match="TUIPACS_TEST_NOPE.*not set"):
        WebSettings.from_config(_cfg('[serve]\nhttp_users = { a = "env:TUIPACS_TEST_NOPE" }\n'))
    with pytest.raises(SettingsError, match="needs users"):
        WebSettings.from_config(_cfg(""))
    with pytest.raises(SettingsError, match="needs tokens"):
        WebSettings.from_config(_cfg('[serve]\nhttp_auth = "token"\n'))
    assert WebSettings.from_config(_cfg("[serve]\nhttp_allow_anonymous = true\n"))


def _headers(**values: str) -> Message:
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


def _read(data: bytes, limit: int = 1000, **headers: str) -> bytes:
    return b"".join(request_body(_headers(**headers), io.BytesIO(data), limit))  # type: ignore[arg-type]


def test_request_body() -> None:
    assert _read(b"hello", Content_Length="5") == b"hello"
    chunked = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
    assert _read(chunked, Transfer_Encoding="chunked") == b"hello world"
    cases = [
        (b"", {}, 411),
        (b"abc", {"Content_Length": "-3"}, 400),
        (b"abc", {"Content_Length": "10"}, 400),  # ends early
        (b"", {"Content_Length": str(10**12)}, 413),
        (b"-5\r\nhello\r\n0\r\n\r\n", {"Transfer_Encoding": "chunked"}, 400),
        (b"0x5\r\nhello\r\n0\r\n\r\n", {"Transfer_Encoding": "chunked"}, 400),
        (b"5\r\nhelloXX0\r\n\r\n", {"Transfer_Encoding": "chunked"}, 400),
        (b"fff\r\n" + b"a" * 4095 + b"\r\n0\r\n\r\n", {"Transfer_Encoding": "chunked"}, 413),
        (b"0\r\n" + b"T: x\r\n" * 100, {"Transfer_Encoding": "chunked"}, 400),
        (b"abc", {"Transfer_Encoding": "gzip"}, 501),
    ]
    for data, headers, status in cases:
        with pytest.raises(HttpError) as caught:
            _read(data, **headers)
        assert caught.value.status == status, (data[:20], headers)
