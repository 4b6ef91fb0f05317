"""Where an export writes: a private folder or a zip file.

Patient data leaves the archive here, so it stays as private as in the archive: folders made
0700 and files 0600 whatever the umask, no link followed. A failed or cancelled export takes
back what it wrote (a zip is written under a temporary name and renamed at the end).
"""

from __future__ import annotations

import errno
import os
import shutil
import zipfile
from pathlib import Path
from typing import BinaryIO

from tuipacs.export.plan import ExportError
from tuipacs.store.files import PRIVATE_DIR, PRIVATE_FILE, make_private_dirs

_CHUNK = 1 << 20
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


def write_error(exc: OSError, where: Path) -> ExportError:
    """The one line for a write that failed at ``where``."""
    if exc.errno in _FULL:
        return ExportError(
            f"the disk is full writing {where}: nothing is kept; free some space or choose "
            "another place with -o"
        )
    if exc.errno in _DENIED:
        return ExportError(f"cannot write to {where}: {exc.strerror}; choose another place with -o")
    return ExportError(f"cannot write to {where}: {exc.strerror or exc}")


def _private_file(path: Path) -> BinaryIO:
    """``path`` opened for writing, mode 0600, never through a link."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # an older file left by an export with --force
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


class Target:
    """A destination: ``write`` files by relative name, then ``finish`` or ``discard``."""

    def __init__(self, root: Path) -> None:
        """A destination under ``root``."""
        self.root = root
        self.files = 0
        self.bytes = 0

    def write(self, name: str, data: bytes | Path) -> None:
        """Write ``data`` (bytes, or a file copied as it is) as ``name``."""
        raise NotImplementedError

    def finish(self) -> Path:
        """Make the export final; returns what was written (a folder or a zip)."""
        raise NotImplementedError

    def discard(self) -> None:
        """Take back everything this export wrote."""
        raise NotImplementedError


def _copy(src: Path | bytes, dst: BinaryIO) -> int:
    """Bytes of ``src`` (a file read in chunks, or bytes) into ``dst``; returns the count."""
    if isinstance(src, bytes):
        dst.write(src)
        return len(src)
    total = 0
    with open(src, "rb") as fin:
        while chunk := fin.read(_CHUNK):
            dst.write(chunk)
            total += len(chunk)
    return total


class FolderTarget(Target):
    """Files in a folder (made if missing; refused if it holds anything, unless ``force``)."""

    def __init__(self, root: Path, force: bool) -> None:
        """Check and make the folder ``root``."""
        super().__init__(root)
        if root.is_symlink() or (root.exists() and not root.is_dir()):
            raise ExportError(f"{root} exists and is not a folder: choose a folder with -o")
        self._before: set[str] = set()
        self._made: list[Path] = []
        if root.is_dir():
            self._before = set(os.listdir(root))
            if self._before and not force:
                raise ExportError(
                    f"{root} is not empty: choose a new or empty folder, or add --force"
                )
        try:
            self._made = make_private_dirs(root)
        except OSError as exc:
            raise write_error(exc, root) from None

    def path(self, name: str) -> Path:
        """Where ``name`` goes (its folder made, private)."""
        path = self.root / name
        make_private_dirs(path.parent)
        return path

    def write(self, name: str, data: bytes | Path) -> None:
        """Write ``name`` (0600)."""
        with _private_file(self.path(name)) as out:
            self.bytes += _copy(data, out)
        self.files += 1

    def finish(self) -> Path:
        """Everything under the folder made private (files others wrote for us too)."""
        for folder, dirs, files in os.walk(self.root):
            for name in dirs:
                if not os.path.islink(os.path.join(folder, name)):
                    os.chmod(os.path.join(folder, name), PRIVATE_DIR)
            for name in files:
                path = os.path.join(folder, name)
                if not os.path.islink(path):
                    os.chmod(path, PRIVATE_FILE)
        return self.root

    def discard(self) -> None:
        """Remove what this export added to the folder (the folder too if it made it)."""
        if self._made:
            shutil.rmtree(self._made[0], ignore_errors=True)
            return
        try:
            names = set(os.listdir(self.root)) - self._before
        except OSError:
            return
        for name in names:
            path = self.root / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


class ZipTarget(Target):
    """The files in one zip, streamed entry by entry (written as ``.part``, then renamed)."""

    def __init__(self, path: Path, force: bool) -> None:
        """Open ``path`` (refused if it exists, unless ``force``)."""
        super().__init__(path.parent)
        self.path = path
        if path.is_symlink() or path.is_dir():
            raise ExportError(f"{path} is a folder or a link: name a new zip file with -o")
        if path.exists() and not force:
            raise ExportError(f"{path} exists: choose another name, or add --force")
        self._part = path.with_name(path.name + ".part")
        try:
            self._made = make_private_dirs(path.parent)
            self._file = _private_file(self._part)
        except OSError as exc:
            raise write_error(exc, path) from None
        self._zip = zipfile.ZipFile(self._file, "w", zipfile.ZIP_DEFLATED, compresslevel=1)

    def write(self, name: str, data: bytes | Path) -> None:
        """Add the entry ``name``, read and compressed in chunks."""
        size = len(data) if isinstance(data, bytes) else data.stat().st_size
        with self._zip.open(name, "w", force_zip64=size >= (1 << 31)) as out:
            self.bytes += _copy(data, out)  # type: ignore[arg-type]
        self.files += 1

    def finish(self) -> Path:
        """Close the zip and give it its name."""
        self._zip.close()
        self._file.close()
        os.replace(self._part, self.path)
        return self.path

    def discard(self) -> None:
        """Remove the partial zip (and the folders made for it)."""
        try:
            self._zip.close()
        except (OSError, ValueError, zipfile.BadZipFile):
            pass
        try:
            self._file.close()
        except OSError:
            pass
        self._part.unlink(missing_ok=True)
        if self._made:
            shutil.rmtree(self._made[0], ignore_errors=True)
