"""The audit log: one JSON line per action on the archive or with a peer.

Who stored, queried, retrieved, sent, imported or deleted what, and when: calling AE title
and address (server side), node (client side), study UIDs and counts. Never patient names,
IDs or query values: a C-FIND is logged with its level, the keys it used and the number of
matches. The log is ``audit.jsonl`` in the archive folder (owner-only, like the archive),
appended line by line with O_APPEND so several processes (the server, a CLI import) can
share it. Rotate it with logrotate's ``copytruncate`` or by moving it away: a new file is
started on the next line written.

Each line: ``{"time": "2026-12-04T15:31:57.123Z", "event": "store", ...fields}``. Events:
``association`` (accepted or rejected), ``store``, ``find``, ``get``, ``move`` (server);
``import``, ``retrieve``, ``send``, ``delete`` (command line and TUI).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

FILE_NAME = "audit.jsonl"
#: Most UIDs listed in one line; longer lists are cut and counted.
MAX_UIDS = 100


def uid_list(uids: Iterable[str]) -> dict[str, Any]:
    """``{"study_uids": [...]}`` sorted and cut to MAX_UIDS, with ``"more": n`` if cut."""
    ordered = sorted(set(uids))
    out: dict[str, Any] = {"study_uids": ordered[:MAX_UIDS]}
    if len(ordered) > MAX_UIDS:
        out["more_study_uids"] = len(ordered) - MAX_UIDS
    return out


class AuditLog:
    """Appends audit lines to a file; a disabled log (path None) records nothing."""

    def __init__(self, path: Path | None) -> None:
        """Log to `path` (created 0600 on the first line), or nowhere if None."""
        self.path = path
        self._lock = threading.Lock()
        self._failed = False

    @classmethod
    def for_archive(cls, archive_root: Path, enabled: bool = True) -> AuditLog:
        """The audit log of the archive at `archive_root` (disabled if not `enabled`)."""
        return cls(archive_root / FILE_NAME if enabled else None)

    @property
    def enabled(self) -> bool:
        """True when lines are written."""
        return self.path is not None

    def record(self, event: str, **fields: Any) -> None:
        """Append one line; a failure to write is logged once, never raised."""
        if self.path is None:
            return
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = json.dumps({"time": stamp, "event": event, **fields}, ensure_ascii=True)
        data = (line + "\n").encode("ascii")
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
            except OSError as exc:
                if not self._failed:
                    LOG.error("cannot write the audit log %s: %s", self.path, exc.strerror)
                self._failed = True


def read(path: Path) -> list[dict[str, Any]]:
    """The lines of an audit log (for tests and tools); unreadable lines are skipped."""
    out: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out
