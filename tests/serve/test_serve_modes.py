"""A private archive: with umask 022 every folder the archive, import and ``tuipacs serve``
create is 0700 and every file 0600 (index, WAL, lock, images, inbox, spool, quarantine)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from identity_files import write_image
from servekit import ServerProcess, dcmsend, wait_indexed, write_config

from tuipacs import locations

pytestmark = pytest.mark.net


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """This process's umask (inherited by the processes it starts) for a while."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def loose_modes(root: Path) -> list[str]:
    """Everything under root (root included) that is not 0700 (folders) / 0600 (files)."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if not path.is_symlink() and mode != want:
            found.append(f"{path.relative_to(root.parent)} {mode:o}")
    return found


def test_archive_and_server_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(home, 'ae_title = "TUIPACS"\n')
    root = home / "archive"
    ok = write_image(tmp_path / "in" / "1.dcm", patient_id="P1", study="1.2.3.1", series="1.2.3.2")
    clash = write_image(
        tmp_path / "in2" / "2.dcm", patient_id="P2", study="1.2.3.9", series="1.2.3.2"
    )
    imported = write_image(
        tmp_path / "in3" / "3.dcm", patient_id="P3", study="1.2.3.5", series="1.2.3.6"
    )
    with umask(0o022):
        server = ServerProcess.start(home)
        try:
            assert dcmsend(server.port, [ok, clash]).returncode == 0
            assert len(wait_indexed(root, 1)) == 1
            while_running = loose_modes(root)
            env = dict(os.environ, TUIPACS_HOME=str(home))
            result = subprocess.run(
                [sys.executable, "-m", "tuipacs", "import", str(imported)],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stderr
        finally:
            server.stop()
    assert (root / "inbox").is_dir() and (root / "quarantine").is_dir()
    assert any((root / "quarantine").iterdir()), "the refused file should be kept"
    assert any(p.name.endswith(".dcm") for p in (root / "files").rglob("*"))
    assert while_running == []
    assert loose_modes(root) == []


def test_existing_archive_is_tightened_on_open(tmp_path: Path) -> None:
    from tuipacs.store.archive import Archive

    root = tmp_path / "old"
    with umask(0o022):
        Archive.open(root).close()
    for path in (root, root / "files", root / "index.sqlite"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    Archive.open(root).close()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "files").stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "index.sqlite").stat().st_mode) == 0o600


def test_config_folder_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    with umask(0o022):
        locations.make_private_dir(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
