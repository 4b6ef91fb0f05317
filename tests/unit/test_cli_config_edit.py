"""`tuipacs node add/remove` edit config.toml in place: comments and layout kept, bad names
and addresses refused before anything is written, the file never left invalid."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tuipacs import config
from tuipacs.cli import main

COMMENTED = """\
# tuipacs settings, kept by hand
ae_title = "TUIPACS"   # who we are

# where C-MOVE sends to
port = 11112


# the archives we use
[nodes.main]  # main PACS
ae_title = "MAIN"
# the host, behind the firewall
host = "10.0.0.1"

port = 104   # standard port

[serve]
# who may store
allow = ["STORESCU"]

# end of file
"""


def _config(home: Path, text: str) -> Path:
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_add_then_remove_keeps_every_comment_and_blank_line(tuipacs_home: Path) -> None:
    path = _config(tuipacs_home, COMMENTED)
    assert main(["node", "add", "backup", "BACKUP@127.0.0.1:4242", "--parallel", "3"]) == 0
    added = path.read_text(encoding="utf-8")
    cfg = config.load(path)
    assert cfg.node("backup").parallel == 3 and cfg.node("main").port == 104
    # every line of the original is still there, in the same order
    lines = iter(added.splitlines())
    assert all(any(line == other for other in lines) for line in COMMENTED.splitlines())
    assert main(["node", "remove", "backup"]) == 0
    assert path.read_text(encoding="utf-8") == COMMENTED


def test_replacing_a_node_after_a_commented_header_writes_no_second_table(
    tuipacs_home: Path,
) -> None:
    """`[nodes.main]  # main PACS` once made `node add main` write a second [nodes.main]."""
    path = _config(tuipacs_home, COMMENTED)
    assert main(["node", "add", "main", "NEWMAIN@10.0.0.2:11112"]) == 0
    text = path.read_text(encoding="utf-8")
    assert text.count("[nodes.main]") == 1
    assert "[nodes.main]  # main PACS" in text and "# the host, behind the firewall" in text
    assert config.load(path).node("main").ae_title == "NEWMAIN"
    assert main(["node", "remove", "main"]) == 0
    assert "[nodes" not in path.read_text(encoding="utf-8")
    assert main(["ls"]) == 0  # every command still reads the file


@pytest.mark.parametrize(
    ("name", "spec", "problem"),
    [
        ("my pacs", "A@h:1", "bad node name"),
        ("a.b", "A@h:1", "bad node name"),
        ("", "A@h:1", "bad node name"),
        ("x", "X@@h:1", "AE@host:port"),
        ("x", "X@h", "AE@host:port"),
        ("x", "X@h:99999", "port"),
    ],
)
def test_bad_names_and_addresses_write_nothing(
    tuipacs_home: Path, capsys: pytest.CaptureFixture[str], name: str, spec: str, problem: str
) -> None:
    path = _config(tuipacs_home, COMMENTED)
    before = os.stat(path)
    assert main(["node", "add", name, spec]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tuipacs: error:") and problem in err
    assert len(err.strip().splitlines()) == 1
    assert path.read_text(encoding="utf-8") == COMMENTED
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert [p.name for p in tuipacs_home.iterdir()] == ["config.toml"]  # no temp file left


def test_an_invalid_config_is_not_edited(
    tuipacs_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = COMMENTED.replace("port = 11112", "port = 'x'")
    path = _config(tuipacs_home, text)
    assert main(["node", "add", "b", "B@h:1"]) == 1
    assert "config.toml:5: key 'port'" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == text


def test_first_node_in_a_new_file_is_private(tuipacs_home: Path) -> None:
    assert main(["node", "add", "pacs", "PACS@[::1]:104"]) == 0
    path = tuipacs_home / "config.toml"
    assert path.stat().st_mode & 0o777 == 0o600
    assert config.load(path).node("pacs").host == "::1"
    assert main(["node", "remove", "pacs"]) == 0
    assert config.load(path).nodes == {}


def test_removing_an_unknown_node_is_one_line(
    tuipacs_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(tuipacs_home, COMMENTED)
    assert main(["node", "remove", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tuipacs: error: no node 'nope'") and err.count("\n") == 1
