"""The archive server's DICOM side: Verification, Storage and Query/Retrieve SCP.

:class:`ArchiveSCP` listens for associations and serves them from a :class:`Backend`
(implemented over the local archive in ``tuipacs.server``):

* C-ECHO;
* C-STORE for every storage SOP class in the transfer syntax the sender proposes first
  (compressed included, never transcoded), see :mod:`tuipacs.dicom.scp_store`;
* C-FIND (patient and study root, every level), C-GET and C-MOVE (to the AE titles in
  ``ScpSettings.destinations``; others get 0xA801), see :mod:`tuipacs.dicom.scp_qr`.

Access: the called AE title must be ours (else A-ASSOCIATE-RJ "called AE not recognised")
and the calling AE (and host) must be allowed at least one service by the
:class:`~tuipacs.dicom.scp_access.AccessPolicy` (else "calling AE not recognised"); the
presentation contexts of services it may not use are rejected (see
:mod:`tuipacs.dicom.scp_contexts`). Connections and associations are bounded per server and
per address (:mod:`tuipacs.dicom.scp_limits`); the transport underneath
(:mod:`tuipacs.dicom.transport`) bounds what each peer may send.

Logs carry AE titles, addresses, SOP classes, UIDs and counts, never patient names or IDs.
"""

from __future__ import annotations

import errno
import logging
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.presentation import build_context

from tuipacs.audit import AuditLog
from tuipacs.dicom.errors import DicomError
from tuipacs.dicom.scp_access import SERVICES, STORE, AccessPolicy
from tuipacs.dicom.scp_audit import ScpAudit
from tuipacs.dicom.scp_contexts import VERIFICATION, ContextChooser
from tuipacs.dicom.scp_limits import Admission, Limits
from tuipacs.dicom.scp_qr import QueryRetrieveService
from tuipacs.dicom.scp_session import Session, session_of
from tuipacs.dicom.scp_store import StorageService
from tuipacs.dicom.scp_types import Backend
from tuipacs.dicom.tls import peer_subject
from tuipacs.dicom.transport import (
    DEFAULT_MAX_PDU,
    REQUEST_TIMEOUT,
    TunedAE,
    TunedServer,
    make_server,
    options_of,
    wake_acceptor,
)

LOG = logging.getLogger(__name__)

_REJECT_PERMANENT = 0x01
_REJECT_TRANSIENT = 0x02
_SOURCE_USER = 0x01
_SOURCE_PRESENTATION = 0x03
_LOCAL_LIMIT = 0x02
#: pynetdicom's own association limit counts every connection: only a backstop here.
_BACKSTOP_MARGIN = 32
_CALLING_UNKNOWN = 0x03
_CALLED_UNKNOWN = 0x07


class ScpError(DicomError):
    """The server cannot start (port in use, bad address or settings)."""


@dataclass
class ScpSettings:
    """How the SCP listens and whom it serves.

    ``destinations`` maps C-MOVE destination AE titles to (host, port). ``spool`` is where
    received datasets are written first (best on the archive's file system: moving them in
    is then a rename). ``services`` limits what is offered at all (e.g. only "store" for a
    background receiver).

    Bounds (see :mod:`tuipacs.dicom.scp_limits` and :mod:`tuipacs.dicom.transport.wire`):
    ``max_pdu`` is the Maximum Length we advertise, checked on every P-DATA-TF received (0: no
    limit);
    ``max_associations`` associations at most (``max_associations_per_address`` from one
    address); connections that have not sent their A-ASSOCIATE-RQ are counted apart
    (``max_waiting``, ``max_waiting_per_address``: the oldest is closed when over) and
    closed after ``request_timeout`` seconds. ``ssl_context`` makes the server speak DICOM
    over TLS only (see :mod:`tuipacs.dicom.tls`).
    """

    ae_title: str = "TUIPACS"
    port: int = 11112
    bind: str = "127.0.0.1"
    access: AccessPolicy = field(default_factory=AccessPolicy)
    destinations: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    spool: Path | None = None
    services: frozenset[str] = frozenset(SERVICES)
    max_pdu: int = DEFAULT_MAX_PDU
    max_associations: int = 32
    max_associations_per_address: int = 16
    max_waiting: int = 64
    max_waiting_per_address: int = 16
    request_timeout: float = REQUEST_TIMEOUT
    acse_timeout: float = 30.0
    dimse_timeout: float = 60.0
    network_timeout: float = 120.0
    ssl_context: ssl.SSLContext | None = None
    audit: AuditLog | None = None

    def limits(self) -> Limits:
        """The connection and association bounds (see tuipacs.dicom.scp_limits)."""
        return Limits(
            max_associations=self.max_associations,
            per_address=self.max_associations_per_address,
            max_waiting=self.max_waiting,
            waiting_per_address=self.max_waiting_per_address,
        )


def _end(assoc: Association) -> None:
    """End an association at shutdown: abort it, or wake one still waiting for its request."""
    if assoc.is_established:
        LOG.warning("aborting an association still open at shutdown")
        assoc.abort()
    else:  # e.g. a bare TCP connection: its thread waits up to the ACSE timeout for a request
        wake_acceptor(assoc)


class ArchiveSCP:
    """Storage and Query/Retrieve SCP over a Backend; start() serves in the background."""

    def __init__(self, backend: Backend, settings: ScpSettings) -> None:
        """Describe the server; nothing listens before start()."""
        self.backend = backend
        self.settings = settings
        self._chooser = ContextChooser()
        self._server: TunedServer | None = None
        self._thread: threading.Thread | None = None
        self._ae: TunedAE | None = None
        self._admission = Admission(Limits())  # replaced by the settings' in start()
        self._audit = ScpAudit(settings.audit)
        self._storage = StorageService(backend)
        self._qr = QueryRetrieveService(
            backend, settings.ae_title, settings.destinations, self._audit
        )

    # -- lifecycle

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        if self._server is None:
            return self.settings.port
        return int(self._server.server_address[1])

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._server is not None

    def start(self) -> ArchiveSCP:
        """Bind and serve in a background thread; ScpError if the port cannot be bound."""
        if self._server is not None:
            return self
        settings = self.settings
        try:
            self._admission = Admission(settings.limits())
        except ValueError as exc:
            raise ScpError(f"bad server limits: {exc}") from None
        ae = TunedAE(settings.ae_title, spool=settings.spool, send_stored=True)
        ae.maximum_pdu_size = settings.max_pdu
        ae.maximum_associations = (
            settings.max_associations + settings.max_waiting + _BACKSTOP_MARGIN
        )
        ae.request_timeout = settings.request_timeout
        ae.acse_timeout = settings.acse_timeout
        ae.dimse_timeout = settings.dimse_timeout
        ae.network_timeout = settings.network_timeout
        try:
            server = make_server(
                ae,
                (settings.bind, settings.port),
                [build_context(VERIFICATION)],
                self._handlers(),
                ssl_context=settings.ssl_context,
                on_connect=self._admission.connected,
            )
        except (OSError, OverflowError, ValueError) as exc:
            detail = getattr(exc, "strerror", None) or str(exc)
            advice = (
                "choose another port (--port) or stop the program using it"
                if getattr(exc, "errno", None) in (errno.EADDRINUSE, errno.EACCES)
                else "check the address to listen on (--bind) and the port"
            )
            raise ScpError(
                f"cannot listen on {settings.bind}:{settings.port} ({detail}): {advice}"
            ) from None
        self._ae, self._server = ae, server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.name = "tuipacs-scp"
        self._thread.start()
        LOG.info(
            "listening on %s:%d as %s (%s%s); access: %s",
            settings.bind,
            self.port,
            settings.ae_title,
            ", ".join(sorted(settings.services)),
            "; DICOM over TLS only" if settings.ssl_context is not None else "",
            settings.access.describe(),
        )
        return self

    def active(self) -> list[Association]:
        """Associations in progress."""
        return list(self._server.active_associations) if self._server is not None else []

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting; let associations in progress finish for `grace` s, then abort them."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(
            assoc.is_established for assoc in server.active_associations
        ):
            time.sleep(0.05)
        for assoc in server.active_associations:
            _end(assoc)
        for assoc in server.active_associations:
            assoc.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        LOG.info("stopped listening on port %d", server.server_address[1])

    def __enter__(self) -> ArchiveSCP:
        """Start on entry."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on exit."""
        self.stop()

    # -- events

    def _handlers(self) -> list[Any]:
        """pynetdicom's event handlers of the server's associations."""
        return [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_RELEASED, self._on_closed),
            (evt.EVT_ABORTED, self._on_closed),
            (evt.EVT_C_STORE, self._storage.on_store),
            (evt.EVT_C_FIND, self._qr.on_find),
            (evt.EVT_C_GET, self._qr.on_get),
            (evt.EVT_C_MOVE, self._qr.on_move),
        ]

    def _reject(self, assoc: Association, reason: int, why: str, busy: bool = False) -> None:
        """Send A-ASSOCIATE-RJ and end the association.

        Permanent from the service user, or (`busy`) transient "local limit exceeded".
        """
        LOG.warning("association rejected: %s", why)
        request = assoc.requestor.primitive
        calling = str(getattr(request, "calling_ae_title", "") or "").strip()
        self._audit.association(calling, str(assoc.requestor.address), "rejected", why)
        if busy:
            assoc.acse.send_reject(_REJECT_TRANSIENT, _SOURCE_PRESENTATION, _LOCAL_LIMIT)
        else:
            assoc.acse.send_reject(_REJECT_PERMANENT, _SOURCE_USER, reason)
        evt.trigger(assoc, evt.EVT_REJECTED, {})
        assoc.kill()

    def _on_requested(self, event: Any) -> None:
        """Check the AE titles and host; offer only the contexts this caller may use."""
        assoc: Association = event.assoc
        request = assoc.requestor.primitive
        assert request is not None
        calling = str(request.calling_ae_title or "").strip()
        called = str(request.called_ae_title or "").strip()
        address = str(assoc.requestor.address)
        if called != self.settings.ae_title:
            self._reject(
                assoc,
                _CALLED_UNKNOWN,
                f"{calling}@{address} called {called!r}, we are {self.settings.ae_title!r}",
            )
            return
        allowed = self.settings.access.allowed(calling, address) & self.settings.services
        if not allowed:
            self._reject(assoc, _CALLING_UNKNOWN, f"calling AE {calling}@{address} not allowed")
            return
        busy = self._admission.admit(assoc, address)
        if busy is not None:
            self._reject(assoc, 0, f"{calling}@{address}: {busy} (local limit exceeded)", True)
            return
        session = Session(calling, address, allowed)
        session.tls_subject = peer_subject(getattr(assoc.dul.socket, "socket", None))
        self._audit.association(calling, address, "accepted", allowed, session.tls_subject)
        session.attach(assoc)
        assoc.acceptor.supported_contexts = self._chooser.contexts(
            request.presentation_context_definition_list, allowed
        )
        options = options_of(assoc)
        if options is not None:  # the fast transport's C-STORE route
            options.store = partial(self._storage.received, session) if STORE in allowed else None
        LOG.info("association from %s (%s)", session.peer, ", ".join(sorted(allowed)))

    def _on_closed(self, event: Any) -> None:
        """Log what an association did; it no longer counts against the limits."""
        self._admission.closed(event.assoc)
        info = session_of(event.assoc)
        if info is None:
            return
        how = "released" if event.event == evt.EVT_RELEASED else "aborted"
        self._audit.stored(info.calling_ae, info.address, info.tally)
        seconds = time.monotonic() - info.started
        if info.stored or info.failed or info.duplicates:
            LOG.info(
                "%s %s: %d stored, %d already archived, %d failed, %.1f MB in %.2f s",
                info.peer,
                how,
                info.stored,
                info.duplicates,
                info.failed,
                info.bytes / 1e6,
                seconds,
            )
        else:
            LOG.info("%s %s after %.2f s", info.peer, how, seconds)
