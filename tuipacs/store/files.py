"""File-system helpers of the archive: private modes, fsync, exclusive placement.

The archive is private whatever the umask: folders it creates are 0700 and files 0600
(see ``Archive.open`` for archives written by earlier versions).
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private_dirs(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents, each 0700; returns those created (top first).

    (``Path.mkdir(parents=True)`` gives the parents the umask's mode.)
    """
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    created: list[Path] = []
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue
        os.chmod(folder, PRIVATE_DIR)  # the umask may have taken bits the mode needs
        created.append(folder)
    return created


def tighten(path: Path, mode: int) -> None:
    """chmod ``path`` to ``mode`` if it exists and is ours (errors ignored)."""
    try:
        if (os.stat(path).st_mode & 0o777) != mode:
            os.chmod(path, mode)
    except OSError:
        pass


def fsync_dir(path: Path) -> None:
    """fsync a folder (its entries)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_synced(src: Path, dst: Path, sync: bool = True) -> None:
    """Copy src to dst (created private) and fsync it (unless ``sync`` is False: the
    caller flushes later, see flush_files). Plain reads and writes on descriptors: for the
    small files of an import, Python's file objects cost more than the copy itself."""
    fin = os.open(src, os.O_RDONLY)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        try:
            while data := os.read(fin, 1 << 20):
                view = memoryview(data)
                while view:
                    view = view[os.write(fout, view) :]
            if sync:
                os.fsync(fout)
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def fsync_file(path: Path) -> None:
    """fsync a file by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_syncfs: Callable[[int], int] | None | bool = False  # False: not looked up yet


def _find_syncfs() -> Callable[[int], int] | None:
    """libc's syncfs(2) (Linux), or None."""
    global _syncfs
    if _syncfs is False:
        _syncfs = None
        if sys.platform.startswith("linux") and not os.environ.get("TUIPACS_NO_SYNCFS"):
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                function = libc.syncfs
                function.argtypes = [ctypes.c_int]
                function.restype = ctypes.c_int
                _syncfs = function
            except (OSError, AttributeError):
                _syncfs = None
    return _syncfs  # type: ignore[return-value]


def sync_filesystem(folder: Path) -> bool:
    """Make everything written on the file system of ``folder`` durable at once (syncfs:
    one journal commit and one cache flush for any number of files, their data and their
    directory entries). False where syncfs is not available; OSError if it fails."""
    function = _find_syncfs()
    if function is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if function(fd) != 0:
            import ctypes

            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(folder))
    finally:
        os.close(fd)
    return True


#: Files (and folders) flushed with one fsync each (in parallel) rather than one syncfs: a
#: syncfs also writes out what other programs left dirty on the file system, and waits for
#: it, so it is kept for batches where it saves many flushes (a retrieve's, an import's);
#: the few files of a group commit, or the folders of a batch, are fsynced.
FSYNC_AT_MOST = 16


def flush_files(
    paths: Sequence[Path], folder: Path, pool: Executor | None = None, dirs: Iterable[Path] = ()
) -> None:
    """Make ``paths`` (files on the file system of ``folder``) and the folders ``dirs``
    durable: one syncfs for many, else an fsync each (on ``pool`` when given)."""
    folders = list(dirs)
    if not paths and not folders:
        return
    if len(paths) + len(folders) > FSYNC_AT_MOST and sync_filesystem(folder):
        return
    if pool is not None and len(paths) > 1:
        for future in [pool.submit(fsync_file, path) for path in paths]:
            future.result()
    else:
        for path in paths:
            fsync_file(path)
    for path in folders:
        fsync_dir(path)


_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


def place_exclusive(src: Path, dst: Path) -> bool:
    """Move ``src`` to ``dst`` unless ``dst`` exists (then False, ``src`` left alone).

    A hard link then an unlink: the link fails if ``dst`` exists, so an existing file is
    never replaced. On file systems without hard links the caller's archive lock makes a
    check-then-rename safe among tuipacs writers.
    """
    try:
        os.link(src, dst)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if os.path.lexists(dst):
            return False
        os.rename(src, dst)
        return True
    os.unlink(src)
    return True


#: Prefix of a locked folder still being made (see make_locked_dir).
NEW_PREFIX = ".new-"


def make_locked_dir(parent: Path, name: str) -> tuple[Path, int]:
    """Create the private folder ``parent/name`` holding ``.lock``, flocked by the returned
    descriptor from the moment the folder appears under its name.

    The folder is made as ``.new-<name>``, locked, then renamed: a process cleaning up
    folders whose lock is free (a dead owner) can never catch one between its creation and
    its lock. Cleaners leave ``.new-*`` folders alone while they are young (stale_new).
    """
    staging = parent / f"{NEW_PREFIX}{name}"
    make_private_dirs(staging)
    fd = os.open(staging / ".lock", os.O_CREAT | os.O_RDWR, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        final = parent / name
        os.rename(staging, final)
    except BaseException:
        os.close(fd)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final, fd


def stale_new(folder: Path, seconds: float = 60.0) -> bool | None:
    """For a ``.new-*`` folder: True if it was left by a process that died making it (older
    than ``seconds``), False if it is young. None for any other folder."""
    if not folder.name.startswith(NEW_PREFIX):
        return None
    try:
        return time.time() - folder.stat().st_mtime > seconds
    except OSError:
        return False


def remove_dead_dirs(parent: Path, keep: Path | None = None) -> None:
    """Remove the private folders in ``parent`` whose owner died (their ``.lock`` is free),
    except ``keep``; folders still being made (stale_new) are left alone while young."""
    for folder in parent.iterdir():
        if folder == keep or not folder.is_dir():
            continue
        stale = stale_new(folder)
        if stale is not None:  # a folder being made (make_locked_dir)
            if stale:
                shutil.rmtree(folder, ignore_errors=True)
            continue
        try:
            fd = os.open(folder / ".lock", os.O_RDWR)
        except FileNotFoundError:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live writer owns it
        finally:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
