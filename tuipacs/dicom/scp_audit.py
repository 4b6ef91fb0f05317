"""What the archive server writes to the audit log (tuipacs.audit): who did what, no PHI.

One line per association accepted or rejected, one per study stored on an association (at
its end: instances, bytes, failures), one per C-FIND (level, the keys used - never their
values -, matches) and one per C-GET/C-MOVE (instances sent, their studies, destination).
Every line names the calling AE title and address; a TLS caller also its certificate's
common name.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from tuipacs.audit import AuditLog, uid_list


@dataclass
class StoreTally:
    """C-STOREs of one association, per study: [instances stored, bytes, failed]."""

    studies: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, study_uid: str, status: int, size: int) -> None:
        """Record one C-STORE outcome under its study ("" when unknown)."""
        with self.lock:
            row = self.studies.setdefault(study_uid, [0, 0, 0])
            if status == 0 or 0xB000 <= status <= 0xBFFF:
                row[0] += 1
                row[1] += size
            else:
                row[2] += 1


def query_keys(identifier: Dataset) -> list[str]:
    """The keywords an identifier matches on (non-empty values), never the values."""
    keys = []
    for element in identifier:
        if element.keyword in ("QueryRetrieveLevel", "SpecificCharacterSet"):
            continue
        if element.VR != "SQ" and element.value not in (None, "", b""):
            keys.append(element.keyword or str(element.tag))
    return sorted(keys)


class ScpAudit:
    """The server's audit lines; every method is cheap when the log is disabled."""

    def __init__(self, log: AuditLog | None) -> None:
        """Write to `log` (None: nowhere)."""
        self.log = log or AuditLog(None)

    def _who(self, calling_ae: str, address: str, tls_subject: str = "") -> dict[str, Any]:
        who: dict[str, Any] = {"calling_ae": calling_ae, "address": address}
        if tls_subject:
            who["tls_subject"] = tls_subject
        return who

    def association(
        self,
        calling_ae: str,
        address: str,
        outcome: str,
        detail: str | Iterable[str],
        tls_subject: str = "",
    ) -> None:
        """An association accepted (detail: services) or rejected (detail: why)."""
        if not self.log.enabled:
            return
        key = "services" if outcome == "accepted" else "reason"
        value = sorted(detail) if not isinstance(detail, str) else detail
        self.log.record(
            "association", **self._who(calling_ae, address, tls_subject), outcome=outcome,
            **{key: value},
        )  # fmt: skip

    def stored(self, calling_ae: str, address: str, tally: StoreTally) -> None:
        """At the end of an association: one line per study it stored into."""
        if not self.log.enabled:
            return
        with tally.lock:
            rows = sorted(tally.studies.items())
        for study_uid, (instances, size, failed) in rows:
            self.log.record(
                "store", **self._who(calling_ae, address), study_uid=study_uid or None,
                instances=instances, bytes=size, failed=failed,
            )  # fmt: skip

    def find(
        self,
        calling_ae: str,
        address: str,
        level: str,
        root: str,
        identifier: Dataset,
        matches: int,
    ) -> None:
        """A C-FIND: level, model, the keys it matched on, the number of matches."""
        if not self.log.enabled:
            return
        self.log.record(
            "find", **self._who(calling_ae, address), level=level, root=root,
            keys=query_keys(identifier), matches=matches,
        )  # fmt: skip

    def retrieve(
        self,
        kind: str,
        calling_ae: str,
        address: str,
        study_uids: Iterable[str],
        instances: int,
        destination: str = "",
    ) -> None:
        """A C-GET or C-MOVE (kind "get"/"move"): what it selected and where it went."""
        if not self.log.enabled:
            return
        fields: dict[str, Any] = {"instances": instances, **uid_list(study_uids)}
        if destination:
            fields["destination"] = destination
        self.log.record(kind, **self._who(calling_ae, address), **fields)
