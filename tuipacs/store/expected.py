"""What a node said a study holds: the count of instances it gave when the study was
retrieved, the node's name and when.

A retrieve of a whole study (``tuipacs retrieve``, the TUI's ``g``) records it once the
received files are indexed, interrupted or not; ``tuipacs ls`` and the browser compare it
with the instances here to show a study retrieved only in part (``69 of 300``), and the
browser resumes it from that node. The record belongs to the study's row (``ON DELETE
CASCADE``): a deleted or evicted study loses it. A study with nothing here gets none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuipacs.store.archive import Archive

MAX_EXPECTED = 10_000_000
"""More instances than any study holds: a count above this (from a peer) is not recorded."""
MAX_NODE_NAME = 200
"""Characters of a node name kept (a configured name or an ``AE@host:port`` spec)."""


@dataclass(frozen=True, slots=True)
class Expected:
    """The count a node gave for a study: ``instances`` from ``node`` at ``recorded``
    (seconds since the epoch)."""

    instances: int
    node: str
    recorded: float


def valid_count(instances: object) -> bool:
    """Is ``instances`` a count worth recording (an int from 1 to MAX_EXPECTED)?"""
    return (
        isinstance(instances, int)
        and not isinstance(instances, bool)
        and 1 <= instances <= MAX_EXPECTED
    )


def record_expected(archive: Archive, study_uid: str, instances: int, node: str) -> bool:
    """Record that ``node`` said ``study_uid`` holds ``instances`` (replacing an earlier
    record). False, with nothing written, when the archive holds nothing of the study or the
    count is not plausible (see :func:`valid_count`)."""
    if not valid_count(instances):
        return False
    with archive.write() as conn:
        cur = conn.execute(
            "INSERT INTO study_expected(study_fk, instances, node, recorded) "
            "SELECT id, ?, ?, ? FROM study WHERE study_uid = ? "
            "ON CONFLICT(study_fk) DO UPDATE SET instances = excluded.instances, "
            "node = excluded.node, recorded = excluded.recorded",
            (instances, node[:MAX_NODE_NAME], time.time(), study_uid),
        )
        return cur.rowcount == 1


def get_expected(archive: Archive, study_uid: str) -> Expected | None:
    """The record of ``study_uid``, or None."""
    rows = archive.execute(
        "SELECT e.instances, e.node, e.recorded FROM study_expected e "
        "JOIN study s ON e.study_fk = s.id WHERE s.study_uid = ?",
        (study_uid,),
    )
    if not rows:
        return None
    instances, node, recorded = rows[0]
    return Expected(int(instances), str(node), float(recorded))


def forget_expected(archive: Archive, study_uid: str) -> bool:
    """Drop the record of ``study_uid``; False if there was none."""
    with archive.write() as conn:
        cur = conn.execute(
            "DELETE FROM study_expected WHERE study_fk = "
            "(SELECT id FROM study WHERE study_uid = ?)",
            (study_uid,),
        )
        return cur.rowcount == 1
