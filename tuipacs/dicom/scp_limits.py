"""How many connections and associations the archive server takes, overall and per address.

Two kinds of connection are counted apart:

* *waiting* connections have not yet sent a complete A-ASSOCIATE-RQ. A real caller sends
  its request within milliseconds; one that does not is closed by the request timeout
  (see transport.LinkOptions.request_timeout). Their number is bounded too (overall and per
  address): a new connection over the bound closes the oldest waiting one (of that
  address first), so silent connections can never lock real callers out;
* *associations* sent their request and were admitted. Over ``max_associations`` (or
  ``per_address`` from one address) a request is rejected with A-ASSOCIATE-RJ "local
  limit exceeded" (transient), which callers retry.

pynetdicom's own limit (``AE.maximum_associations``) counts every connection, waiting
ones included, so the server sets it out of the way and relies on this.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field

from pynetdicom.association import Association

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """The bounds (each at least 1)."""

    max_associations: int = 32
    per_address: int = 16
    max_waiting: int = 64
    waiting_per_address: int = 16

    def __post_init__(self) -> None:
        """Refuse bounds below 1."""
        for name in ("max_associations", "per_address", "max_waiting", "waiting_per_address"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass
class _Entry:
    """A connection we count."""

    assoc: Association
    address: str
    since: float = field(default_factory=time.monotonic)


def _gone(assoc: Association) -> bool:
    """True once the association's DUL (or its thread) has ended."""
    dul = assoc.dul
    if dul.ident is not None and not dul.is_alive():
        return True
    return assoc.ident is not None and not assoc.is_alive()


def _close(assoc: Association) -> None:
    """Close a waiting connection from another thread (its reactor sees the end: Evt17)."""
    sock = getattr(assoc.dul.socket, "socket", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Admission:
    """Counts waiting connections and admitted associations; thread-safe."""

    def __init__(self, limits: Limits) -> None:
        """Start with nothing counted."""
        self.limits = limits
        self._lock = threading.Lock()
        self._waiting: list[_Entry] = []
        self._admitted: list[_Entry] = []
        self._logged = -1.0  # when the last eviction was logged
        self._unlogged = 0

    def connected(self, assoc: Association, address: str) -> None:
        """A new connection: count it as waiting; close the oldest waiting one if over."""
        evicted: list[_Entry] = []
        with self._lock:
            self._prune()
            self._waiting.append(_Entry(assoc, address))
            same = [e for e in self._waiting if e.address == address]
            if len(same) > self.limits.waiting_per_address:
                evicted.append(same[0])
            elif len(self._waiting) > self.limits.max_waiting:
                evicted.append(self._waiting[0])
            for entry in evicted:
                self._waiting.remove(entry)
        for entry in evicted:
            self._log_eviction(entry)
            _close(entry.assoc)

    def _log_eviction(self, entry: _Entry) -> None:
        """One warning per second at most (a flood of connections must not flood the log)."""
        now = time.monotonic()
        with self._lock:
            if now - self._logged < 1.0:
                self._unlogged += 1
                return
            self._logged, unlogged, self._unlogged = now, self._unlogged, 0
        more = f"; {unlogged} more closed since the last such line" if unlogged else ""
        LOG.warning(
            "too many connections from %s without an association request: closing the "
            "oldest, silent for %.1f s%s",
            entry.address,
            now - entry.since,
            more,
        )

    def admit(self, assoc: Association, address: str) -> str | None:
        """The association sent its request: admit it, or say why not (over a limit)."""
        with self._lock:
            self._prune()
            self._waiting = [e for e in self._waiting if e.assoc is not assoc]
            total = len(self._admitted)
            mine = sum(1 for e in self._admitted if e.address == address)
            limit = self.limits.max_associations
            if total >= limit:
                return f"{total} associations in progress (the limit is {limit})"
            if mine >= self.limits.per_address:
                return (
                    f"{mine} associations in progress from {address} "
                    f"(the limit per address is {self.limits.per_address})"
                )
            self._admitted.append(_Entry(assoc, address))
        return None

    def closed(self, assoc: Association) -> None:
        """The association ended (released, aborted or rejected)."""
        with self._lock:
            self._admitted = [e for e in self._admitted if e.assoc is not assoc]
            self._waiting = [e for e in self._waiting if e.assoc is not assoc]

    def counts(self) -> tuple[int, int]:
        """(waiting connections, admitted associations) right now."""
        with self._lock:
            self._prune()
            return len(self._waiting), len(self._admitted)

    def _prune(self) -> None:
        """Forget connections whose association has ended (under the lock)."""
        self._waiting = [e for e in self._waiting if not _gone(e.assoc)]
        self._admitted = [e for e in self._admitted if not _gone(e.assoc)]
