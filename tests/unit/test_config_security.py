"""config.toml: safe defaults (loopback bind, audit on), typos refused, TLS settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuipacs import config
from tuipacs.dicom.tls import TlsFiles


def _load(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)


def test_defaults_are_private(tmp_path: Path) -> None:
    cfg = _load(tmp_path, "")
    assert cfg.serve_bind == "127.0.0.1"
    assert cfg.serve_allow_any is False
    assert cfg.serve_tls == "off"
    assert cfg.audit is True
    assert cfg.tls == TlsFiles()


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("ae_title = 'X'\nportt = 5\n", 2, "portt"),
        ("[serve]\nsync = true\nalow = ['STORESCU']\n", 3, "serve.alow"),
        ("[tls]\ncert = 'a.pem'\n", 2, "tls.cert"),
    ],
)
def test_unknown_keys_are_errors(tmp_path: Path, text: str, line: int, key: str) -> None:
    """A typo such as [serve] alow would leave the server open: it must not pass silently."""
    with pytest.raises(config.ConfigError) as info:
        _load(tmp_path, text)
    message = str(info.value)
    assert f"config.toml:{line}: key '{key}'" in message
    assert "unknown key" in message


def test_unknown_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="unknown key"):
        _load(tmp_path, "[nodess.x]\nae_title = 'A'\n")


def test_tls_paths_are_relative_to_the_config(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        "[tls]\ncertificate = 'tls/cert.pem'\nprivate_key = '/abs/key.pem'\nca = 'ca.pem'\n"
        "[serve]\ntls = 'mutual'\nallow_any = true\nbind = '0.0.0.0'\n",
    )
    assert cfg.tls.certificate == tmp_path / "tls" / "cert.pem"
    assert cfg.tls.private_key == Path("/abs/key.pem")
    assert cfg.tls.ca == tmp_path / "ca.pem"
    assert cfg.serve_tls == "mutual"
    assert cfg.serve_allow_any is True
    assert cfg.local_ae().tls == cfg.tls


def test_tls_certificate_needs_its_key(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="certificate and private_key go together"):
        _load(tmp_path, "[tls]\ncertificate = 'cert.pem'\n")


def test_tls_mode_is_checked(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match=r"key 'serve.tls': must be one of off, on"):
        _load(tmp_path, "[serve]\ntls = 'yes'\n")


def test_node_tls_keys(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        "[nodes.pacs]\nae_title = 'PACS'\nhost = '127.0.0.1'\nport = 2762\ntls = true\n"
        "tls_server_name = 'pacs.example.org'\n",
    )
    node = cfg.node("pacs")
    assert node.tls is True
    assert node.tls_server_name == "pacs.example.org"
    assert node.to_mapping()["tls"] is True
    plain = _load(tmp_path, "[nodes.p]\nae_title = 'P'\nhost = 'h'\nport = 104\n").node("p")
    assert plain.tls is False
    assert "tls" not in plain.to_mapping()


def test_node_tls_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="tls must be true or false"):
        _load(tmp_path, "[nodes.p]\nae_title = 'P'\nhost = 'h'\nport = 104\ntls = 'yes'\n")
