"""What the archive server knows and counts about one accepted association."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from pynetdicom.association import Association

from tuipacs.dicom.scp_audit import StoreTally

_INFO_ATTR = "_tuipacs_scp"


@dataclass
class Session:
    """One accepted association: who called, what it may do, what it stored."""

    calling_ae: str
    address: str
    allowed: frozenset[str]
    started: float = field(default_factory=time.monotonic)
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    tally: StoreTally = field(default_factory=StoreTally)
    tls_subject: str = ""

    @property
    def peer(self) -> str:
        """AE@host for log lines."""
        return f"{self.calling_ae}@{self.address}"

    def count(self, status: int, size: int, duplicate: bool = False) -> None:
        """Record one C-STORE outcome (a duplicate: answered 0x0000, nothing new kept)."""
        with self.lock:
            if duplicate:
                self.duplicates += 1
            elif status == 0:
                self.stored += 1
                self.bytes += size
            else:
                self.failed += 1

    def attach(self, assoc: Association) -> None:
        """Remember this session on its association (see session_of)."""
        setattr(assoc, _INFO_ATTR, self)


def session_of(assoc: Association) -> Session | None:
    """The session of an accepted association (None before it was admitted)."""
    info = getattr(assoc, _INFO_ATTR, None)
    return info if isinstance(info, Session) else None
