"""Access control of ``tuipacs serve``: allow-lists of calling AE titles and hosts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servekit import AET, LOOPBACK, ServerProcess, dcmtk, echo_ok, run, write_config

pytestmark = pytest.mark.net


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that knows GOOD (any host), LOCAL@127.0.0.1 and FAR@10.0.0.0/8 only."""
    home = tmp_path_factory.mktemp("guarded-home")
    rules = '"GOOD", "LOCAL@127.0.0.1", "FAR@10.0.0.0/8"'
    write_config(home, f'ae_title = "{AET}"\n[serve]\nallow = [{rules}]\n')
    process = ServerProcess.start(home)
    try:
        yield process
    finally:
        process.stop()


@pytest.mark.parametrize("calling", ["GOOD", "LOCAL"])
def test_allowed_callers(guarded: ServerProcess, calling: str) -> None:
    assert echo_ok(guarded.port, calling)


@pytest.mark.parametrize("calling", ["STRANGER", "FAR", "good"])
def test_unknown_calling_ae_is_rejected(guarded: ServerProcess, calling: str) -> None:
    result = run([dcmtk("echoscu"), "-aet", calling, "-aec", AET, LOOPBACK, str(guarded.port)])
    assert result.returncode != 0
    assert "calling ae title not recognized" in (result.stdout + result.stderr).lower()
    assert guarded.alive()


def test_wrong_called_ae_is_rejected(guarded: ServerProcess) -> None:
    result = run([dcmtk("echoscu"), "-aet", "GOOD", "-aec", "NOTUS", LOOPBACK, str(guarded.port)])
    assert result.returncode != 0
    assert "called ae title not recognized" in (result.stdout + result.stderr).lower()


def test_rejections_are_logged_without_phi(guarded: ServerProcess) -> None:
    run([dcmtk("echoscu"), "-aet", "INTRUDER", "-aec", AET, LOOPBACK, str(guarded.port)])
    assert "calling AE INTRUDER@127.0.0.1 not allowed" in guarded.log
