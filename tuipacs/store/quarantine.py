"""The quarantine: instances the archive refused, kept for an administrator to inspect.

Every refused instance (an identity rule broken, see :mod:`tuipacs.store.identity`) and
every different object sent with an archived SOP Instance UID (a conflict) is kept as a
private file ``<archive>/quarantine/<random>.dcm`` with a row in the index's ``quarantine``
table: what was wrong (UIDs only), where it came from (``import``, ``retrieve``, the calling
AE title and address of a C-STORE), when it was first and last seen and how often. The same
object refused again (same SOP Instance UID and dataset bytes, as a sender's retries are)
counts once more instead of being kept twice.

Nothing in the quarantine is visible to queries, retrieves or the browser. An entry leaves
it by ``delete`` (file and row) or ``release``: the file is added to the archive again under
the same rules, e.g. after the study it clashed with was deleted; if it is still refused it
stays where it is.
"""

from __future__ import annotations

import errno
import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuipacs.store.files import PRIVATE_FILE, copy_synced, fsync_dir, make_private_dirs
from tuipacs.store.identity import Refusal, RefusedError, dataset_digest

if TYPE_CHECKING:
    from tuipacs.store.adding import AddResult
    from tuipacs.store.archive import Archive

FOLDER = "quarantine"


@dataclass(frozen=True, slots=True)
class Entry:
    """One quarantined instance."""

    id: int
    kind: str
    sop_uid: str
    study_uid: str
    series_uid: str
    other_uid: str
    reason: str
    source: str
    path: str
    file_size: int
    first_seen: float
    last_seen: float
    times: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def add(archive: Archive, src: Path, refusal: Refusal, *, source: str, move: bool) -> int:
    """Keep ``src`` in the quarantine (moved if ``move``, else copied); returns the entry id.

    A file whose SOP Instance UID and dataset bytes are quarantined already only counts.
    """
    digest = dataset_digest(src)
    folder = archive.root / FOLDER
    make_private_dirs(folder)
    now = time.time()
    with archive.write() as conn:
        row = conn.execute(
            "SELECT id FROM quarantine WHERE sop_uid = ? AND digest = ?",
            (refusal.sop_uid, digest),
        ).fetchone()
        if row is not None:
            conn.execute(
                "UPDATE quarantine SET times = times + 1, last_seen = ?, reason = ?, "
                "source = ? WHERE id = ?",
                (now, refusal.message, source, row[0]),
            )
            if move:
                src.unlink(missing_ok=True)
            return int(row[0])
        dst = folder / f"{uuid.uuid4().hex}.dcm"
        _keep(src, dst, move)
        try:
            cur = conn.execute(
                "INSERT INTO quarantine(kind, sop_uid, study_uid, series_uid, other_uid, "
                "reason, source, path, digest, file_size, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    refusal.kind,
                    refusal.sop_uid,
                    refusal.study_uid,
                    refusal.series_uid,
                    refusal.other_uid,
                    refusal.message,
                    source,
                    f"{FOLDER}/{dst.name}",
                    digest,
                    dst.stat().st_size,
                    now,
                    now,
                ),
            )
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
        return int(cur.lastrowid or 0)


def _keep(src: Path, dst: Path, move: bool) -> None:
    """Move or copy ``src`` to the new private file ``dst``, durably."""
    if move:
        try:
            os.rename(src, dst)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        else:
            os.chmod(dst, PRIVATE_FILE)
            with open(dst, "rb") as fh:
                os.fsync(fh.fileno())
            fsync_dir(dst.parent)
            return
    copy_synced(src, dst)
    fsync_dir(dst.parent)
    if move:
        src.unlink(missing_ok=True)


def entries(archive: Archive) -> list[Entry]:
    """Every entry, oldest first."""
    rows = archive.execute(
        "SELECT id, kind, sop_uid, study_uid, series_uid, other_uid, reason, source, path, "
        "file_size, first_seen, last_seen, times FROM quarantine ORDER BY id"
    )
    return [Entry(**{**dict(row), "path": str(archive.absolute(row["path"]))}) for row in rows]


def count(archive: Archive) -> int:
    """How many entries there are."""
    return int(archive.execute("SELECT count(*) FROM quarantine")[0][0])


def delete(archive: Archive, entry_id: int) -> bool:
    """Delete an entry and its file; False if there is no such entry."""
    with archive.write() as conn:
        row = conn.execute("SELECT path FROM quarantine WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            return False
        conn.execute("DELETE FROM quarantine WHERE id = ?", (entry_id,))
    archive.absolute(row[0]).unlink(missing_ok=True)
    return True


def delete_all(archive: Archive) -> int:
    """Delete every entry and its file; returns how many."""
    ids = [int(row[0]) for row in archive.execute("SELECT id FROM quarantine")]
    return sum(delete(archive, entry_id) for entry_id in ids)


def release(archive: Archive, entry_id: int) -> AddResult:
    """Add an entry's file to the archive under the usual rules, then drop the entry.

    KeyError if there is no such entry; RefusedError (the entry stays) if the instance is
    still refused or conflicts.
    """
    row = archive.execute("SELECT path FROM quarantine WHERE id = ?", (entry_id,))
    if not row:
        raise KeyError(entry_id)
    path = archive.absolute(row[0][0])
    result = archive.add_files([(path, None)], quarantine=False, source="quarantine")[0]
    if result.refusal is not None:
        raise RefusedError(result.refusal, entry_id)
    delete(archive, entry_id)
    return result
