"""What a remote archive answers, whatever the protocol: typed results and errors.

Texts in results are as the peer sent them (untrusted): whoever shows them cleans them
(:mod:`tuipacs.safe_text`). Each result has ``to_json()``, the form ``--json`` prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["patient", "study", "series", "image"]
"""The level of a query: what one answer describes."""
Root = Literal["study", "patient"]
"""The information model of a query: study root, or patient root (needed at patient level)."""


class RemoteError(Exception):
    """A remote operation failed; the message is one line that says what to do."""


class QueryInvalid(RemoteError, ValueError):
    """A query (level, root or keys) is invalid before anything is sent."""


class RemoteNetError(RemoteError):
    """An exchange with the remote archive failed: unreachable, refused, aborted, timed out,
    or answered with a failure status."""


@dataclass(frozen=True)
class EchoResult:
    """Whether the node answered a verification, and how fast (the echo itself and the
    whole exchange, connection included)."""

    node: str
    address: str
    ok: bool
    ms: float
    total_ms: float
    status: str

    def to_json(self) -> dict[str, Any]:
        """The ``echo --json`` object."""
        return {
            "node": self.node,
            "address": self.address,
            "ok": self.ok,
            "ms": round(self.ms, 2),
            "total_ms": round(self.total_ms, 2),
            "status": self.status,
        }


@dataclass(frozen=True)
class QueryRow:
    """One answer of a find: DICOM keyword -> value as text (lists joined with ``\\``)."""

    values: Mapping[str, str]

    def get(self, keyword: str, default: str = "") -> str:
        """The value of ``keyword`` (``default`` when the node did not return it)."""
        return self.values.get(keyword, default)

    def to_json(self) -> dict[str, str]:
        """The row as ``find --json`` prints it: {keyword: text}."""
        return dict(self.values)


@dataclass(frozen=True)
class RetrieveProgress:
    """Progress of a retrieve, in instances; ``elapsed`` in seconds."""

    total: int
    completed: int
    failed: int
    warning: int
    skipped: int
    remaining: int
    bytes: int
    elapsed: float


@dataclass
class RetrieveResult:
    """How a retrieve into the archive ended.

    ``refused`` lists the instances the archive refused (identity rules), one line each;
    ``errors`` what went wrong otherwise. ``ok`` is True when nothing failed, nothing was
    refused and it was not cancelled.
    """

    node: str
    study_uid: str
    method: str = ""
    series_uids: list[str] = field(default_factory=list)
    total: int = 0
    completed: int = 0
    failed: int = 0
    warning: int = 0
    skipped: int = 0
    bytes: int = 0
    seconds: float = 0.0
    first_image_seconds: float | None = None
    cancelled: bool = False
    errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the retrieve finished without failures, refusals or errors."""
        return not self.errors and not self.refused and self.failed == 0 and not self.cancelled

    @property
    def remaining(self) -> int:
        """Instances neither received, skipped nor failed (e.g. after a cancel)."""
        return max(0, self.total - self.completed - self.skipped - self.failed)

    @property
    def mb_per_s(self) -> float:
        """Throughput in MB/s (10^6 bytes)."""
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The ``retrieve --json`` object."""
        return {
            "node": self.node,
            "study_uid": self.study_uid,
            "method": self.method,
            "total": self.total,
            "completed": self.completed,
            "skipped": self.skipped,
            "failed": self.failed,
            "warning": self.warning,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "mb_per_s": round(self.mb_per_s, 1),
            "first_image_seconds": self.first_image_seconds,
            "cancelled": self.cancelled,
            "errors": list(self.errors),
            "refused": list(self.refused),
            "ok": self.ok,
        }


@dataclass
class SendResult:
    """What a send did; ``errors`` holds (file, one-line message) pairs."""

    sent: int = 0
    warnings: int = 0
    failed: int = 0
    skipped: int = 0
    bytes: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``send --json`` object."""
        return {
            "sent": self.sent,
            "warnings": self.warnings,
            "failed": self.failed,
            "skipped": self.skipped,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "errors": [{"path": p, "error": m} for p, m in self.errors],
        }


@dataclass(frozen=True)
class CheckStep:
    """One step of a node check: what was tried, whether it worked, what to do."""

    name: str
    ok: bool
    detail: str
    seconds: float
    skipped: bool = False

    def to_json(self) -> dict[str, Any]:
        """The step as ``node check --json`` prints it."""
        return {
            "step": self.name,
            "ok": self.ok,
            "skipped": self.skipped,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
        }
