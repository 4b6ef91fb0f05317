"""Strict config.toml: every unknown key or table is an error naming the file, the key's own
line and the nearest known key; `tuipacs config check` and `tuipacs config show`."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from tuipacs import config
from tuipacs.cli import main


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("ae_title = 'X'\n\nportt = 5\n", "config.toml:3: key 'portt'", "did you mean 'port'?"),
        ("# nodes\n\n[nodess.x]\nae_title = 'A'\n", "config.toml:3: key 'nodess'", "'nodes'?"),
        (
            "[serve]  # who may call\nsync = true\nalow = ['STORESCU']\n",
            "config.toml:3: key 'serve.alow'",
            "did you mean 'allow'?",
        ),
        (
            "[nodes.pacs]  # the main one\nae_title = 'P'\nhost = 'h'\nport = 104\n"
            "\nmetod = 'get'\n",
            "config.toml:6: key 'nodes.pacs.metod'",
            "did you mean 'method'?",
        ),
        ("[tls]\ncertificat = 'c.pem'\n", "config.toml:2: key 'tls.certificat'", "'certificate'?"),
    ],
)
def test_unknown_keys_name_their_own_line_and_the_nearest_key(
    tmp_path: Path, text: str, where: str, hint: str
) -> None:
    message = _error(tmp_path, text)
    assert where in message and hint in message


def test_a_bad_node_value_names_the_key_line_not_the_table(tmp_path: Path) -> None:
    message = _error(tmp_path, "[nodes.a]  # x\nae_title = 'A'\nhost = 'h'\n\nport = 0\n")
    assert "config.toml:5: key 'nodes.a.port'" in message


def test_known_keys_come_from_the_config_dataclass() -> None:
    """A setting added to Config is a known key without a second list to update."""
    for f in fields(config.Config):
        if f.name in ("path", "warnings"):
            continue
        section, key = config.config_key(f.name)
        assert key in config.known_keys(section), f.name
    assert "max_associations_per_address" in config.known_keys("serve")
    assert {"serve", "tls", "nodes"} <= config.known_keys()


def test_config_check_and_show(
    tuipacs_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tuipacs_home / "config.toml"
    path.write_text("[serve]\nalow = ['STORESCU']\n", encoding="utf-8")
    assert main(["config", "check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tuipacs: error:") and "did you mean 'allow'?" in err
    assert main(["config", "check", "--json"]) == 1
    failed = json.loads(capsys.readouterr().out)
    assert failed["ok"] is False and "config.toml:2" in failed["error"]

    path.write_text("port = 4000\n[serve]\nallow = ['STORESCU']\n", encoding="utf-8")
    assert main(["config", "check"]) == 0
    assert "ok" in capsys.readouterr().out
    monkeypatch.setenv("TUIPACS_TRANSPORT", "stock")
    assert main(["config", "show", "--json"]) == 0
    shown = {row["key"]: row for row in json.loads(capsys.readouterr().out)}
    assert shown["port"] == {"key": "port", "value": 4000, "source": "file"}
    assert shown["serve.allow"]["value"] == ["STORESCU"]
    assert shown["ae_title"] == {"key": "ae_title", "value": "TUIPACS", "source": "default"}
    assert shown["config_file"]["source"] == "env"
    assert shown["TUIPACS_TRANSPORT"]["source"] == "env"
    assert main(["config", "show"]) == 0
    assert "serve.max_associations_per_address" in capsys.readouterr().out
