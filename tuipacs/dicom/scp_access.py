"""Who may use the archive server: allow-lists of calling AE titles, optionally with hosts.

A rule is ``AE`` (that calling AE title from any host), ``AE@host`` (only from that host:
an IP address, a network such as ``10.1.0.0/16``, or a host name, resolved when first
needed) or ``*@host`` (any AE title from that host). AE titles match exactly (they are
case-sensitive in DICOM); surrounding spaces are ignored.

Each service (store, query, retrieve) has its own list; an empty list means anyone.
Verification (C-ECHO) is open to any caller allowed at least one service.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tuipacs.dicom.errors import NodeError

STORE = "store"
QUERY = "query"
RETRIEVE = "retrieve"
SERVICES: tuple[str, ...] = (STORE, QUERY, RETRIEVE)
_RESOLVE_TTL = 60.0

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AllowRule:
    """One allow-list entry: a calling AE title (or ``*``) and an optional host."""

    ae_title: str
    host: str | None = None
    network: IPNetwork | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, text: str) -> AllowRule:
        """``AE``, ``AE@host``, ``AE@10.0.0.0/8`` or ``*@host``; NodeError if malformed."""
        if not isinstance(text, str) or not text.strip():
            raise NodeError(f"allow rule must look like AE or AE@host, got {text!r}")
        ae, sep, host = text.strip().rpartition("@") if "@" in text else (text, "", "")
        ae, host = ae.strip(), host.strip().strip("[]")
        if not ae or len(ae) > 16 or "\\" in ae or not ae.isprintable():
            raise NodeError(f"allow rule {text!r}: the AE title must have 1 to 16 characters")
        if sep and not host:
            raise NodeError(f"allow rule {text!r}: give a host after '@' or leave '@' out")
        network: IPNetwork | None = None
        if host:
            try:
                network = ipaddress.ip_network(host, strict=False)
            except ValueError:
                network = None
        return cls(ae, host or None, network)

    def __str__(self) -> str:
        """The rule as written in the config."""
        return f"{self.ae_title}@{self.host}" if self.host else self.ae_title


class _Resolver:
    """Host names to addresses, cached for a minute (failures resolve to nothing)."""

    def __init__(self) -> None:
        """Start with an empty cache."""
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def addresses(self, host: str) -> frozenset[str]:
        """The IP addresses of host."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(host)
        if cached is not None and now - cached[0] < _RESOLVE_TTL:
            return cached[1]
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
            found = frozenset(str(info[4][0]) for info in infos)
        except OSError:
            found = frozenset()
        with self._lock:
            self._cache[host] = (now, found)
        return found


def _host_matches(rule: AllowRule, address: str, resolver: _Resolver) -> bool:
    """Does the peer address satisfy the rule's host part?"""
    if rule.host is None:
        return True
    try:
        peer = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    if rule.network is not None:
        return peer.version == rule.network.version and peer in rule.network
    return str(peer) in resolver.addresses(rule.host)


class AccessPolicy:
    """Per-service allow-lists; ``allowed(ae, address)`` gives the services a caller may use."""

    def __init__(self, rules: Mapping[str, Iterable[AllowRule]] | None = None) -> None:
        """rules: service -> allow rules (missing or empty: anyone)."""
        given = rules or {}
        self.rules: dict[str, tuple[AllowRule, ...]] = {
            service: tuple(given.get(service, ())) for service in SERVICES
        }
        self._resolver = _Resolver()

    @classmethod
    def from_lists(
        cls,
        allow: Iterable[str] = (),
        *,
        store: Iterable[str] | None = None,
        query: Iterable[str] | None = None,
        retrieve: Iterable[str] | None = None,
    ) -> AccessPolicy:
        """Build from config strings: a service's own list if non-empty, else ``allow``."""
        common = [AllowRule.parse(text) for text in allow]
        rules: dict[str, list[AllowRule]] = {}
        for service, own in ((STORE, store), (QUERY, query), (RETRIEVE, retrieve)):
            specific = [AllowRule.parse(text) for text in own or ()]
            rules[service] = specific or common
        return cls(rules)

    @property
    def is_open(self) -> bool:
        """True when every service accepts any caller."""
        return not any(self.rules.values())

    def allowed(self, calling_ae: str, address: str) -> frozenset[str]:
        """The services that calling_ae, connecting from address, may use."""
        calling = calling_ae.strip()
        granted = set()
        for service, rules in self.rules.items():
            if not rules or any(
                rule.ae_title in ("*", calling) and _host_matches(rule, address, self._resolver)
                for rule in rules
            ):
                granted.add(service)
        return frozenset(granted)

    def describe(self) -> str:
        """One line for the log: who may do what."""
        parts = []
        for service in SERVICES:
            rules = self.rules[service]
            who = ", ".join(str(rule) for rule in rules) if rules else "anyone"
            parts.append(f"{service}: {who}")
        return "; ".join(parts)
