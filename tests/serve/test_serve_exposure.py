"""The server listens on loopback unless told otherwise, and never on the network unguarded."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import free_port
from servekit import server_command, tool_env, write_config

from tuipacs.dicom.scp import ScpSettings
from tuipacs.dicom.scp_access import AccessPolicy
from tuipacs.server import ServerError, check_exposure, is_loopback


def _serve(home: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = tool_env() | {"TUIPACS_HOME": str(home)}
    return subprocess.run(
        [*server_command(), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_network_bind_without_allow_list_is_refused(tmp_path: Path) -> None:
    done = _serve(tmp_path, "--port", str(free_port()), "--bind", "0.0.0.0")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "refusing to listen on 0.0.0.0 with no [serve] allow list" in lines[0]
    assert "allow_any = true" in lines[0]
    assert not (tmp_path / "archive" / "inbox").exists() or not any(
        (tmp_path / "archive" / "inbox").iterdir()
    )


def test_config_bind_is_checked_too(tmp_path: Path) -> None:
    write_config(tmp_path, '[serve]\nbind = "::"\n')
    done = _serve(tmp_path, "--port", str(free_port()))
    assert done.returncode == 1
    assert "refusing to listen on ::" in done.stderr


def test_default_bind_is_loopback(tmp_path: Path) -> None:
    port = free_port()
    env = tool_env() | {"TUIPACS_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [*server_command(), "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        while "listening on" not in line and line:
            line = proc.stderr.readline()
        assert f"listening on 127.0.0.1:{port}" in line
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("bind", "allow", "allow_any", "tls", "refused"),
    [
        ("127.0.0.1", [], False, "off", False),
        ("::1", [], False, "off", False),
        ("localhost", [], False, "off", False),
        ("0.0.0.0", [], False, "off", True),
        ("10.1.2.3", [], False, "on", True),
        ("pacs.example.org", [], False, "off", True),
        ("0.0.0.0", ["CT1@10.0.0.5"], False, "off", False),
        ("0.0.0.0", [], True, "off", False),
        ("0.0.0.0", [], False, "mutual", False),
    ],
)
def test_exposure_rules(
    bind: str, allow: list[str], allow_any: bool, tls: str, refused: bool
) -> None:
    settings = ScpSettings(bind=bind, port=104, access=AccessPolicy.from_lists(allow))
    if refused:
        with pytest.raises(ServerError, match="AE titles are not authentication"):
            check_exposure(settings, allow_any, tls)
    else:
        check_exposure(settings, allow_any, tls)
    assert is_loopback(bind) == (bind in ("127.0.0.1", "::1", "localhost"))
