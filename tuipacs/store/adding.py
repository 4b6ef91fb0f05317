"""Adding files to the archive: checks, staging, exclusive placement, indexing, recovery.

For a batch of files (``add_files``):

1. Outside any lock, obvious outcomes are settled without copying anything: a SOP
   Instance UID already archived (same dataset bytes: *duplicate*; different: *conflict*)
   and identity refusals against the index as it stands (see :mod:`tuipacs.store.identity`).
2. The others are staged: copied (or moved) into this process's private ``tmp/`` folder,
   several at once, then made durable together: one ``syncfs`` of the file system for the
   whole batch where Linux offers it, else an fsync each (:func:`~tuipacs.store.files.
   flush_files`).
3. Under the archive lock (a thread lock plus ``flock`` on ``archive.lock``, held by every
   writer of this and other processes), the staged paths are announced in ``pending`` (one
   committed transaction), then ONE write transaction checks each instance again (SOP UID
   and identity rules, seeing the rows this batch inserted), places the accepted files at
   their final path with a hard link that fails if the path exists (an indexed file is never
   replaced), flushes their folders (one syncfs, or an fsync each), inserts the rows and
   clears ``pending``.
4. Refused and conflicting files are moved to the quarantine (see
   :mod:`tuipacs.store.quarantine`) unless the caller asks otherwise.

If a writer dies in step 3, the next ``Archive.open`` (``recover_pending``, under the same
lock) indexes the files that reached their final path, with the same checks.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterable
from concurrent.futures import wait
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tuipacs.store import identity
from tuipacs.store.files import (
    PRIVATE_FILE,
    copy_synced,
    flush_files,
    make_private_dirs,
    place_exclusive,
)
from tuipacs.store.identity import Refusal
from tuipacs.store.insert import insert_instance
from tuipacs.store.instance import BadDicomError, InstanceRecord, NotDicomError

if TYPE_CHECKING:
    import sqlite3

    from tuipacs.store.archive import Archive

Status = Literal["added", "duplicate", "conflict", "refused"]


@dataclass(frozen=True, slots=True)
class AddResult:
    """Outcome of adding one file.

    ``conflict``: a different object with this SOP Instance UID is archived (the first is
    kept); ``refused``: an identity rule was broken (``refusal`` says which). Both name the
    quarantine entry that keeps the file, if it was kept.
    """

    status: Status
    sop_uid: str
    study_uid: str
    series_uid: str
    refusal: Refusal | None = None
    quarantine_id: int | None = None
    file_size: int = 0

    @property
    def message(self) -> str:
        """One line for a refused or conflicting file ('' otherwise)."""
        if self.refusal is None:
            return ""
        where = f" (quarantine #{self.quarantine_id})" if self.quarantine_id else ""
        return self.refusal.message + where


def _result(status: Status, rec: InstanceRecord, refusal: Refusal | None = None) -> AddResult:
    return AddResult(
        status, rec.sop_uid, rec.study_uid, rec.series_uid, refusal, file_size=rec.file_size
    )


def same_or_conflict(rec: InstanceRecord, new: Path, old: Path) -> AddResult:
    """``duplicate`` if the two files hold the same dataset, else ``conflict``."""
    try:
        same = identity.same_dataset(new, old)
    except OSError:
        same = False  # the archived copy is unreadable: do not call it the same
    if same:
        return _result("duplicate", rec)
    return _result("conflict", rec, identity.refusal("instance", rec, rec.sop_uid))


def _early(
    archive: Archive, rec: InstanceRecord, src: Path, seen: dict[str, Path]
) -> AddResult | None:
    """The outcome if it is already clear (step 1), else None."""
    if rec.sop_uid in seen:
        return same_or_conflict(rec, src, seen[rec.sop_uid])
    old = archive.instance_path(rec.sop_uid)
    if old is not None:
        return same_or_conflict(rec, src, old)
    refusal = identity.check(archive.connection(), rec)
    if refusal is not None:
        return _result("refused", rec, refusal)
    return None


def add_files(
    archive: Archive,
    items: Iterable[tuple[Path, InstanceRecord | None]],
    *,
    move: bool = False,
    link: bool = False,
    synced: bool = False,
    source: str = "",
    quarantine: bool = True,
) -> list[AddResult]:
    """See ``Archive.add_files``."""
    results: list[AddResult | None] = []
    wanted: list[tuple[int, InstanceRecord, Path]] = []
    seen: dict[str, Path] = {}
    for src, given in items:
        if given is None:
            from tuipacs.store.records import read_record  # pydicom: only when needed

            rec = read_record(src)
        else:
            rec = given
        early = _early(archive, rec, src, seen)
        if early is None:
            seen[rec.sop_uid] = src
            wanted.append((len(results), rec, src))
            results.append(None)
            continue
        results.append(_settle(archive, early, src, move and not link, source, quarantine))
    if wanted:
        staged: list[_Staged]
        if link:
            staged = [(i, rec, str(src.resolve()), None) for i, rec, src in wanted]
        else:
            size = sum(rec.file_size for _, rec, _ in wanted)
            tmps = _stage_all(archive, [src for _, _, src in wanted], move, synced, size)
            staged = [
                (i, rec, archive.relative_path(rec), tmp)
                for (i, rec, _), tmp in zip(wanted, tmps, strict=True)
            ]
        try:
            outcomes = _commit(archive, staged, link)
        except OSError as exc:
            for _, _, _, tmp in staged:
                if tmp is not None:
                    tmp.unlink(missing_ok=True)
            raise archive.error(exc) from exc
        for (i, _, rel, tmp), outcome in zip(staged, outcomes, strict=True):
            own = tmp if tmp is not None else Path(rel)
            results[i] = _settle(archive, outcome, own, tmp is not None, source, quarantine)
    return [r for r in results if r is not None]


def _settle(
    archive: Archive, result: AddResult, src: Path, owned: bool, source: str, quarantine: bool
) -> AddResult:
    """Dispose of a file that was not added: quarantine it or drop it (if ``owned``)."""
    if result.status == "added":
        return result
    if result.status != "duplicate" and quarantine and result.refusal is not None:
        from tuipacs.store.quarantine import add as quarantine_add

        try:
            qid = quarantine_add(archive, src, result.refusal, source=source, move=owned)
        except OSError as exc:
            raise archive.error(exc) from exc
        return replace(result, quarantine_id=qid)
    if owned:
        src.unlink(missing_ok=True)
    return result


# --------------------------------------------------------------------------- staging


#: Average file size from which a batch's copies are spread over the staging threads (the
#: copies of smaller files cost less than handing them to threads).
PARALLEL_COPY_SIZE = 256 * 1024


def _stage_all(
    archive: Archive, sources: list[Path], move: bool, synced: bool, size: int = 0
) -> list[Path]:
    """Stage several files (copies of big files overlap on the staging threads; moves are
    renames), then make them all
    durable at once (flush_files: one syncfs, or an fsync each); all or nothing.

    A ``synced`` source renamed within the file system keeps its inode, whose data is on
    disk already: it is not flushed again (the placement flushes its new folder).
    """
    staged: list[tuple[Path, bool]] = []
    if move or len(sources) <= 1 or size < PARALLEL_COPY_SIZE * len(sources):
        try:
            for src in sources:
                staged.append(_stage(archive, src, move))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
    else:
        pool = archive.stage_pool()
        futures = [pool.submit(_stage, archive, src, move) for src in sources]
        wait(futures)
        failures = [f.exception() for f in futures if f.exception() is not None]
        if failures:
            for future in futures:
                if future.exception() is None:
                    future.result()[0].unlink(missing_ok=True)
            raise failures[0]  # type: ignore[misc]
        staged = [f.result() for f in futures]
    tmps = [tmp for tmp, _ in staged]
    try:
        flush_files(
            [tmp for tmp, renamed in staged if not (synced and renamed)],
            archive.tmp_dir(),
            archive.stage_pool(),
        )
    except OSError as exc:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        raise archive.error(exc) from exc
    return tmps


def _stage(archive: Archive, src: Path, move: bool) -> tuple[Path, bool]:
    """Put a complete private copy of ``src`` in the temporary folder (not yet flushed);
    returns it and whether it is ``src`` renamed (else a copy)."""
    tmp = archive.tmp_dir() / f"{uuid.uuid4().hex}.part"
    try:
        if move:
            try:
                os.rename(src, tmp)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
            else:
                os.chmod(tmp, PRIVATE_FILE)
                return tmp, True
        copy_synced(src, tmp, sync=False)
        if move:
            src.unlink(missing_ok=True)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise archive.error(exc) from exc
    return tmp, False


# --------------------------------------------------------------------------- committing

_Staged = tuple[int, InstanceRecord, str, Path | None]


def decide(archive: Archive, conn: sqlite3.Connection, rec: InstanceRecord, own: Path) -> AddResult:
    """The SOP UID and identity checks, inside the write transaction."""
    row = conn.execute("SELECT path FROM instance WHERE sop_uid = ?", (rec.sop_uid,)).fetchone()
    if row is not None:
        return same_or_conflict(rec, own, archive.absolute(row[0]))
    refusal = identity.check(conn, rec)
    if refusal is not None:
        return _result("refused", rec, refusal)
    return _result("added", rec)


def _commit(archive: Archive, staged: list[_Staged], link: bool) -> list[AddResult]:
    """Step 3 of the module doc; returns the outcome of each staged file."""
    outcomes: list[AddResult] = []
    placed: list[Path] = []
    with archive.locked():
        if not link:
            with archive.write() as conn:
                conn.executemany(
                    "INSERT OR IGNORE INTO pending(path, created) VALUES (?, ?)",
                    [(rel, 0) for _, _, rel, _ in staged],
                )
        try:
            with archive.write() as conn:
                dirs: set[Path] = set()
                for _, rec, rel, tmp in staged:
                    outcome = decide(archive, conn, rec, tmp or Path(rel))
                    if outcome.status == "added" and tmp is not None:
                        final = archive.root / rel
                        dirs.update(_place(archive, conn, tmp, final))
                        placed.append(final)
                    if outcome.status == "added":
                        insert_instance(conn, rec, rel, linked=link)
                    outcomes.append(outcome)
                flush_files([], archive.root, dirs=dirs)
                if not link:
                    conn.executemany(
                        "DELETE FROM pending WHERE path = ?", [(r,) for _, _, r, _ in staged]
                    )
        except BaseException:
            for path in placed:  # rolled back: not indexed
                path.unlink(missing_ok=True)
            with suppress(Exception), archive.write() as conn:
                conn.executemany(
                    "DELETE FROM pending WHERE path = ?", [(r,) for _, _, r, _ in staged]
                )
            raise
    return outcomes


def _place(archive: Archive, conn: sqlite3.Connection, tmp: Path, final: Path) -> set[Path]:
    """Move a staged file to its final path, never over an indexed file; returns the
    folders to fsync."""
    created = make_private_dirs(final.parent)
    if not place_exclusive(tmp, final):
        rel = str(final.relative_to(archive.root))
        if conn.execute("SELECT 1 FROM instance WHERE path = ?", (rel,)).fetchone():
            raise FileExistsError(f"{final} is indexed already")  # decide() said it is not
        os.replace(tmp, final)  # an orphan left by a crash: not indexed, replaced
    return {final.parent, *(folder.parent for folder in created)}


def recover_pending(archive: Archive) -> int:
    """Index what crashed writers moved into place (call under the archive lock)."""
    from tuipacs.store.records import read_record  # pydicom: only when needed

    indexed = 0
    rows = archive.connection().execute("SELECT path FROM pending").fetchall()
    for (rel,) in rows:
        path = archive.root / rel
        outcome: AddResult | None = None
        with archive.write() as conn:
            known = conn.execute("SELECT 1 FROM instance WHERE path = ?", (rel,)).fetchone()
            if path.exists() and known is None:
                try:
                    rec = read_record(path)
                except (NotDicomError, BadDicomError):
                    path.unlink(missing_ok=True)
                else:
                    outcome = decide(archive, conn, rec, path)
                    if outcome.status == "added":
                        indexed += insert_instance(conn, rec, rel, linked=False)
            conn.execute("DELETE FROM pending WHERE path = ?", (rel,))
        if outcome is not None and outcome.status != "added":
            _settle(archive, outcome, path, True, "recovery", True)
    return indexed
