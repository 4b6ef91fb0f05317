"""What every command group shares: the one-line error, the config, the archive, the audit log
and how a command registers its parser."""

from __future__ import annotations

import argparse
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuipacs import config, locations

if TYPE_CHECKING:
    from tuipacs.audit import AuditLog
    from tuipacs.dicom.nodes import Method
    from tuipacs.remote import PacsClient
    from tuipacs.remote.web_node import AnyNode
    from tuipacs.store.archive import Archive

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
    """The ``add_subparsers()`` object each command group adds its commands to."""

Handler = Callable[[argparse.Namespace], int]
"""A command: parsed arguments in, exit status out."""


class CliError(Exception):
    """An error reported as one line on stderr with a non-zero exit."""


class Interrupted(Exception):
    """Ctrl-C stopped a command cleanly; the message says what was kept (exit status 130)."""


@contextmanager
def ctrl_c_cancels(cancel: threading.Event, on_cancel: Callable[[], None]) -> Iterator[None]:
    """While inside, the first Ctrl-C (SIGINT) sets ``cancel`` and calls ``on_cancel`` (stop
    the progress bar) so the work stops at its next step and cleans up after itself; a second
    Ctrl-C raises KeyboardInterrupt at once. Outside the main thread this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        on_cancel()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def add_command(sub: Subparsers, name: str, func: Handler, help_: str) -> argparse.ArgumentParser:
    """Add the command ``name`` run by ``func``, described by ``help_``."""
    from tuipacs.cli import logs

    cmd = sub.add_parser(name, help=help_, description=help_)
    cmd.set_defaults(func=func)
    logs.add_options(cmd, suppress=True)  # -v, -q, --log-file also after the command
    return cmd


def load_config() -> config.Config:
    """The config file, applied to this process (the decode limit)."""
    from tuipacs.imaging.limits import set_decode_limit

    try:
        cfg = config.load()
    except config.ConfigError as exc:
        raise CliError(str(exc)) from exc
    set_decode_limit(cfg.decode_limit)
    return cfg


def audit_log(cfg: config.Config) -> AuditLog:
    """The archive's audit log (tuipacs.audit); disabled by ``audit = false``."""
    from tuipacs.audit import AuditLog

    if cfg.audit:  # send, echo and find may come before any archive: its folder holds the log
        locations.make_private_dir(locations.archive_dir())
    return AuditLog.for_archive(locations.archive_dir(), cfg.audit)


def audit(cfg: config.Config, event: str, **fields: Any) -> None:
    """One line in the archive's audit log, unless ``audit = false``."""
    audit_log(cfg).record(event, **fields)


def client(
    cfg: config.Config,
    node: AnyNode,
    archive: Archive | None = None,
    method: Method | None = None,
) -> PacsClient:
    """The client of ``node`` (tuipacs.remote), auditing to the archive's log; ``archive`` is
    needed only to retrieve."""
    from tuipacs.remote import client_for

    return client_for(node, cfg.local_ae(), archive, audit=audit_log(cfg), method=method)


_OPENED: list[Archive] = []


def open_archive() -> Archive:
    """Open the local archive named by the locations (TUIPACS_HOME or XDG); :func:`main`
    closes it when the command ends (its temporary folder goes too)."""
    from tuipacs.store.archive import Archive, ArchiveError
    from tuipacs.store.schema import SchemaError

    try:
        archive = Archive.open(locations.archive_dir())
    except (ArchiveError, SchemaError) as exc:
        raise CliError(str(exc)) from exc
    _OPENED.append(archive)
    return archive


def close_archives() -> None:
    """Close the archives the command opened (also after an error or Ctrl-C)."""
    while _OPENED:
        archive = _OPENED.pop()
        try:
            archive.close()
        except Exception:  # noqa: BLE001 - closing must not hide the command's own outcome
            pass


def size_arg(text: str) -> int:
    """An argparse type for sizes such as ``500M`` or ``20 GB`` (a clear error otherwise)."""
    try:
        return config.parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size; use e.g. 500M, 20G or '20 GB'"
        ) from None


def missing_paths(paths: list[str]) -> None:
    """CliError naming the paths that do not exist (import and send take files or folders)."""
    missing = [str(path) for path in map(Path, paths) if not path.exists()]
    if missing:
        raise CliError(f"no such file or folder: {', '.join(missing)}")


_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def uid_arg(text: str) -> str:
    """An argparse type for a DICOM UID (digits and dots, at most 64 characters), checked
    here rather than by the node (which would answer "no instances")."""
    text = text.strip()
    if not (_UID_RE.match(text) and len(text) <= 64):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a DICOM UID (digits and dots, e.g. 1.2.840.113619.2.1); "
            "see 'tuipacs find NODE' for the UIDs"
        )
    return text
