"""Issue 12, finding 3: a UID with a newline and escape sequences, sent to ``tuipacs serve``
(a subprocess), cannot forge a log line or reach the terminal raw."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_text import no_validation, write_hostile_study
from pydicom import dcmread
from servekit import ServerProcess, pynetdicom_store, write_config

pytestmark = pytest.mark.net

FORGED = "2024-06-12 10:00:00,000 WARNING tuipacs.server: FORGED"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own (its log is read)."""
    home = tmp_path / "home"
    write_config(home, 'ae_title = "TUIPACS"\n')
    process = ServerProcess.start(home)
    try:
        yield process
    finally:
        process.stop()


def test_a_hostile_sop_uid_is_logged_on_one_clean_line(
    server: ServerProcess, tmp_path: Path
) -> None:
    study = write_hostile_study(tmp_path / "in", images=1)
    path = study.files[0]
    # the request names a plain SOP Instance UID; the dataset's own carries the attack
    ds = dcmread(path)
    plain = ds.SOPInstanceUID
    with no_validation():
        ds.SOPInstanceUID = f"{plain}\n{FORGED}\x1b]0;pwned\x07\x9b2J"
        ds.file_meta.MediaStorageSOPInstanceUID = plain
        ds.save_as(path)
    assert dcmread(path).file_meta.MediaStorageSOPInstanceUID == plain
    pynetdicom_store(server.port, path)
    deadline = time.monotonic() + 20
    while not _ours(server.log) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log_path.read_bytes()
    assert b"\x1b" not in log and b"\x07" not in log and b"\xc2\x9b" not in log
    lines = log.decode("utf-8").splitlines()
    assert not [line for line in lines if line.startswith(FORGED[:23])]  # no forged record
    ours = _ours(log.decode("utf-8"))
    assert ours, "the server did not log the refusal of the hostile UID"
    assert all(plain in line for line in ours), ours  # the readable part is quoted


def _ours(log: str) -> list[str]:
    """The lines of tuipacs' own loggers that refuse the hostile UID (the dataset's SOP
    Instance UID is not a UID: refused before anything is stored, quoted escaped and cut)."""
    lines = [line.split(" ") for line in log.splitlines() if "not a valid UID" in line]
    return [" ".join(words) for words in lines if words[3:] and words[3].startswith("tuipacs")]
