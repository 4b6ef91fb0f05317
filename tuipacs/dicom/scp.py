"""The archive server's DICOM side: Verification, Storage and Query/Retrieve SCP.

:class:`ArchiveSCP` listens for associations and serves them from a :class:`Backend`
(implemented over the local archive in ``tuipacs.server``):

* C-ECHO;
* C-STORE for every storage SOP class in the transfer syntax the sender proposes first
  (compressed included, never transcoded). Datasets are written undecoded straight to a
  spool file (the fast path of :mod:`tuipacs.dicom.transport.fast_dul`) and handed to
  ``backend.store``, whose status is the answer: 0x0000 only once the instance is durable;
* C-FIND (patient and study root, every level), C-GET and C-MOVE (to the AE titles in
  ``ScpSettings.destinations``; others get 0xA801), with pending responses.

Access: the called AE title must be ours (else A-ASSOCIATE-RJ "called AE not recognised")
and the calling AE (and host) must be allowed at least one service by the
:class:`~tuipacs.dicom.scp_access.AccessPolicy` (else "calling AE not recognised"); the
presentation contexts of services it may not use are rejected.

Every accepted socket has TCP_NODELAY. Logs carry AE titles, addresses, SOP classes,
UIDs and counts, never patient names or IDs.
"""

from __future__ import annotations

import errno
import logging
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import _config, evt
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext, build_context
from pynetdicom.transport import ThreadedAssociationServer

from tuipacs.audit import AuditLog
from tuipacs.dicom.errors import DicomError
from tuipacs.dicom.scp_access import QUERY, RETRIEVE, SERVICES, STORE, AccessPolicy
from tuipacs.dicom.scp_audit import ScpAudit, StoreTally
from tuipacs.dicom.scp_limits import Admission, Limits
from tuipacs.dicom.scp_types import (
    STORE_CANNOT_UNDERSTAND,
    STORE_NOT_AUTHORISED,
    STORE_OUT_OF_RESOURCES,
    Backend,
    IdentifierError,
    ReceivedFile,
    Root,
    StoredInstance,
    check_level,
)
from tuipacs.dicom.storage import acceptor_storage_contexts
from tuipacs.dicom.tls import peer_subject
from tuipacs.dicom.transport.spool import StoreRequest, disk_full
from tuipacs.dicom.transport.stored_send import (
    StoredRef,
    configure,
    enable_stored_sending,
    move_contexts,
)
from tuipacs.dicom.transport.tuning import (
    TunedAE,
    TunedRequestHandler,
    TunedServer,
    fast_options,
)
from tuipacs.dicom.transport.wire import DEFAULT_MAX_PDU, REQUEST_TIMEOUT

LOG = logging.getLogger(__name__)

_STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."
Verification = "1.2.840.10008.1.1"
_QR = "1.2.840.10008.5.1.4.1.2."
_QR_SYNTAXES: list[str | UID] = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
]
# Patient Root (2.1.x) and Study Root (2.2.x) information models: FIND .1, MOVE .2, GET .3
_FIND: dict[str, Root] = {_QR + "1.1": "patient", _QR + "2.1": "study"}
_MOVE: dict[str, Root] = {_QR + "1.2": "patient", _QR + "2.2": "study"}
_GET: dict[str, Root] = {_QR + "1.3": "patient", _QR + "2.3": "study"}
_REJECT_PERMANENT = 0x01
_REJECT_TRANSIENT = 0x02
_SOURCE_USER = 0x01
_SOURCE_PRESENTATION = 0x03
_LOCAL_LIMIT = 0x02
#: pynetdicom's own association limit counts every connection: only a backstop here.
_BACKSTOP_MARGIN = 32
_CALLING_UNKNOWN = 0x03
_CALLED_UNKNOWN = 0x07
_CANCEL = 0xFE00
_PENDING = 0xFF00
_ID_MISMATCH = 0xA900
_UNABLE = 0xC000
_INFO_ATTR = "_tuipacs_scp"


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


@dataclass
class _AssocInfo:
    """What we know and count about one accepted association."""

    calling_ae: str
    address: str
    allowed: frozenset[str]
    started: float = field(default_factory=time.monotonic)
    stored: int = 0
    failed: int = 0
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    tally: StoreTally = field(default_factory=StoreTally)
    tls_subject: str = ""

    @property
    def peer(self) -> str:
        """AE@host for log lines."""
        return f"{self.calling_ae}@{self.address}"

    def count(self, status: int, size: int) -> None:
        """Record one C-STORE outcome."""
        with self.lock:
            if status == 0:
                self.stored += 1
                self.bytes += size
            else:
                self.failed += 1


def _info(assoc: Association) -> _AssocInfo | None:
    info = getattr(assoc, _INFO_ATTR, None)
    return info if isinstance(info, _AssocInfo) else None


def _end(assoc: Association) -> None:
    """End an association at shutdown: abort it, or wake one still waiting for its request."""
    if assoc.is_established:
        LOG.warning("aborting an association still open at shutdown")
        assoc.abort()
    else:  # e.g. a bare TCP connection: its thread waits up to the ACSE timeout for a request
        assoc.dul.to_user_queue.put(None)  # type: ignore[arg-type]


def _template_contexts() -> dict[str, PresentationContext]:
    """Abstract syntax -> supported context (roles set so that C-GET role selection works)."""
    templates: dict[str, PresentationContext] = {}
    for cx in acceptor_storage_contexts():
        cx.scu_role = True
        cx.scp_role = True
        templates[str(cx.abstract_syntax)] = cx
    for uid in [Verification, *_FIND, *_GET, *_MOVE]:
        templates[str(uid)] = build_context(uid, _QR_SYNTAXES)
    return templates


def _service_of(abstract_syntax: str) -> str | None:
    """The access service an abstract syntax belongs to (None: verification)."""
    if abstract_syntax in _FIND:
        return QUERY
    if abstract_syntax in _GET or abstract_syntax in _MOVE:
        return RETRIEVE
    if abstract_syntax == str(Verification):
        return None
    return STORE


def _preference(firsts: list[UID], rest: list[UID]) -> list[str | UID]:
    """Syntax order of one SOP class: requestor first choices (non-native first), the rest."""
    native = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
    ordered = [ts for ts in firsts if ts not in native] + [ts for ts in firsts if ts in native]
    return [*ordered, *(ts for ts in rest if ts not in ordered)]


class _ScpAE(TunedAE):
    """TunedAE whose outgoing (C-MOVE) associations can send StoredRef datasets."""

    def associate(self, *args: Any, **kwargs: Any) -> Association:
        """Associate as TunedAE does, then enable sending archived files."""
        assoc = super().associate(*args, **kwargs)
        enable_stored_sending(assoc)
        return assoc


class _ScpRequestHandler(TunedRequestHandler):
    """Accepted associations: tuned socket and fast C-STORE receive, archived-file sending."""

    def _create_association(self) -> Association:
        """Create and tune the association (contexts are set per request, see _on_requested).

        The connection is counted as waiting for its request (see scp_limits).
        """
        assoc = super()._create_association()
        enable_stored_sending(assoc)
        admission = getattr(self.server, "admission", None)
        if isinstance(admission, Admission):
            admission.connected(assoc, str(self.client_address[0]))
        return assoc


class ArchiveSCP:
    """Storage and Query/Retrieve SCP over a Backend; start() serves in the background."""

    def __init__(self, backend: Backend, settings: ScpSettings) -> None:
        """Describe the server; nothing listens before start()."""
        self.backend = backend
        self.settings = settings
        self._templates = _template_contexts()
        self._any_storage = self._templates[str(acceptor_storage_contexts()[0].abstract_syntax)]
        self._server: ThreadedAssociationServer | None = None
        self._thread: threading.Thread | None = None
        self._ae: _ScpAE | None = None
        self._admission = Admission(Limits())  # replaced by the settings' in start()
        self._audit = ScpAudit(settings.audit)

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
        configure()
        _config.LOG_REQUEST_IDENTIFIERS = False
        _config.LOG_RESPONSE_IDENTIFIERS = False
        settings = self.settings
        try:
            self._admission = Admission(settings.limits())
        except ValueError as exc:
            raise ScpError(f"bad server limits: {exc}") from None
        ae = _ScpAE(settings.ae_title, spool=settings.spool)
        ae.maximum_pdu_size = settings.max_pdu
        ae.maximum_associations = (
            settings.max_associations + settings.max_waiting + _BACKSTOP_MARGIN
        )
        ae.request_timeout = settings.request_timeout
        ae.acse_timeout = settings.acse_timeout
        ae.dimse_timeout = settings.dimse_timeout
        ae.network_timeout = settings.network_timeout
        try:
            server = ae.make_server(
                (settings.bind, settings.port),
                ae_title=settings.ae_title,
                contexts=[build_context(Verification)],
                evt_handlers=self._handlers(),
                server_class=TunedServer,
                request_handler=_ScpRequestHandler,
                ssl_context=settings.ssl_context,
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
        server.daemon_threads = True
        server.admission = self._admission  # type: ignore[attr-defined]
        ae._servers.append(server)
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
        return [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_RELEASED, self._on_closed),
            (evt.EVT_ABORTED, self._on_closed),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_GET, self._on_get),
            (evt.EVT_C_MOVE, self._on_move),
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
        info = _AssocInfo(calling, address, allowed)
        info.tls_subject = peer_subject(getattr(assoc.dul.socket, "socket", None))
        self._audit.association(calling, address, "accepted", allowed, info.tls_subject)
        setattr(assoc, _INFO_ATTR, info)
        assoc.acceptor.supported_contexts = self._contexts(
            request.presentation_context_definition_list, allowed
        )
        options = fast_options(assoc)
        if options is not None:
            options.store = partial(self._store_fast, info) if STORE in allowed else None
        LOG.info("association from %s (%s)", info.peer, ", ".join(sorted(allowed)))

    def _contexts(
        self, proposed: list[PresentationContext], allowed: frozenset[str]
    ) -> list[PresentationContext]:
        """Supported contexts for this request, preferring what the requestor proposes first.

        pynetdicom keeps one supported context per SOP class and picks, for each proposed
        context, the first of its syntaxes that the proposal contains. The syntaxes the
        requestor lists first in any of its contexts come first (compressed ones before
        uncompressed), so a context [RLE, Explicit LE] gets RLE and images stay as sent.
        Storage contexts are also kept for callers allowed to retrieve (C-GET sends over
        them); unknown standard storage classes are accepted too.
        """
        ordered: dict[str, tuple[list[UID], list[UID]]] = {}
        for cx in proposed:
            abstract = str(cx.abstract_syntax)
            template = self._templates.get(abstract)
            if template is None and abstract.startswith(_STORAGE_PREFIX):
                template = self._any_storage
            service = _service_of(abstract)
            usable = service is None or service in allowed
            if service == STORE:
                usable = bool(allowed & {STORE, RETRIEVE})
            if template is None or not usable:
                continue
            supported = set(template.transfer_syntax)
            offered = [UID(ts) for ts in cx.transfer_syntax if ts in supported]
            firsts, rest = ordered.setdefault(abstract, ([], []))
            if offered and offered[0] not in firsts:
                firsts.append(offered[0])
            rest.extend(ts for ts in offered[1:] if ts not in rest)
        contexts = []
        for abstract, (firsts, rest) in ordered.items():
            syntaxes = _preference(firsts, rest)
            context = build_context(abstract, syntaxes or [ExplicitVRLittleEndian])
            if _service_of(abstract) == STORE:
                context.scu_role = True
                context.scp_role = True
            contexts.append(context)
        return contexts

    def _on_closed(self, event: Any) -> None:
        """Log what an association did; it no longer counts against the limits."""
        self._admission.closed(event.assoc)
        info = _info(event.assoc)
        if info is None:
            return
        how = "released" if event.event == evt.EVT_RELEASED else "aborted"
        self._audit.stored(info.calling_ae, info.address, info.tally)
        seconds = time.monotonic() - info.started
        if info.stored or info.failed:
            LOG.info(
                "%s %s: %d stored, %d failed, %.1f MB in %.2f s",
                info.peer,
                how,
                info.stored,
                info.failed,
                info.bytes / 1e6,
                seconds,
            )
        else:
            LOG.info("%s %s after %.2f s", info.peer, how, seconds)

    # -- storage

    def _store(self, info: _AssocInfo, path: Path, received: ReceivedFile) -> int:
        """Give a complete received file to the backend; its status is the answer."""
        if STORE not in info.allowed:
            LOG.warning("C-STORE from %s refused: not allowed to store", info.peer)
            return STORE_NOT_AUTHORISED
        try:
            status = int(self.backend.store(path, received))
        except Exception:  # noqa: BLE001 - the peer gets a failure status instead
            LOG.exception("storing %s failed", received.sop_instance_uid)
            status = STORE_CANNOT_UNDERSTAND
        info.count(status, received.size)
        info.tally.count(received.study_uid, status, received.size)
        if status:
            LOG.warning(
                "C-STORE %s (%s) from %s: status 0x%04X",
                received.sop_instance_uid,
                received.sop_class_uid,
                info.peer,
                status,
            )
        return status

    def _store_fast(self, info: _AssocInfo, request: StoreRequest) -> int:
        """Fast-path C-STORE (dataset already in a spool file, unless writing it failed)."""
        if request.error is not None:  # the spool file could not be written; sender goes on
            info.count(STORE_OUT_OF_RESOURCES, 0)
            full = "the disk is full" if disk_full(request.error) else request.error.strerror
            LOG.warning(
                "C-STORE %s from %s: status 0x%04X (cannot write it to %s: %s)",
                request.sop_instance_uid,
                info.peer,
                STORE_OUT_OF_RESOURCES,
                request.path.parent,
                full,
            )
            return STORE_OUT_OF_RESOURCES
        received = ReceivedFile(
            sop_class_uid=request.sop_class_uid,
            sop_instance_uid=request.sop_instance_uid,
            transfer_syntax_uid=request.transfer_syntax_uid,
            calling_ae=info.calling_ae,
            size=request.size,
            study_uid=request.study_uid or "",
        )
        return self._store(info, request.path, received)

    def _on_store(self, event: Any) -> int:
        """pynetdicom's C-STORE path (e.g. a fragmented command set): chunked file too."""
        info = _info(event.assoc)
        if info is None:
            return STORE_NOT_AUTHORISED
        path = Path(event.dataset_path)
        request = event.request
        received = ReceivedFile(
            sop_class_uid=str(request.AffectedSOPClassUID),
            sop_instance_uid=str(request.AffectedSOPInstanceUID),
            transfer_syntax_uid=str(event.context.transfer_syntax),
            calling_ae=info.calling_ae,
            size=path.stat().st_size,
        )
        return self._store(info, path, received)

    # -- query / retrieve

    def _request(
        self, event: Any, models: Mapping[str, Root], service: str
    ) -> tuple[_AssocInfo, Root, Dataset] | int:
        """Access check and identifier of a Q/R request, or the failure status to answer."""
        info = _info(event.assoc)
        if info is None or service not in info.allowed:
            return STORE_NOT_AUTHORISED
        root = models.get(str(event.request.AffectedSOPClassUID))
        if root is None:
            return _ID_MISMATCH
        try:
            identifier = event.identifier
        except Exception:  # noqa: BLE001 - an undecodable identifier
            LOG.warning("undecodable identifier from %s", info.peer)
            return _UNABLE
        return info, root, identifier

    def _on_find(self, event: Any) -> Iterator[tuple[int, Dataset | None]]:
        """C-FIND: pending responses from backend.find, cancel honoured."""
        request = self._request(event, _FIND, QUERY)
        if isinstance(request, int):
            yield request, None
            return
        info, root, identifier = request
        started = time.monotonic()
        count = 0
        try:
            level = check_level(identifier, root)
            for match in self.backend.find(level, root, identifier):
                if event.is_cancelled:
                    LOG.info("C-FIND from %s cancelled after %d matches", info.peer, count)
                    yield _CANCEL, None
                    return
                self._fill_our_keys(match)
                count += 1
                yield _PENDING, match
        except IdentifierError as exc:
            LOG.warning("C-FIND from %s: %s", info.peer, exc)
            yield _ID_MISMATCH, None
            return
        except Exception:  # noqa: BLE001 - answered as a failure, logged
            LOG.exception("C-FIND from %s failed", info.peer)
            yield _UNABLE, None
            return
        self._audit.find(info.calling_ae, info.address, level, root, identifier, count)
        LOG.info(
            "C-FIND %s (%s root) from %s: %d matches in %.0f ms",
            level,
            root,
            info.peer,
            count,
            (time.monotonic() - started) * 1000,
        )

    def _fill_our_keys(self, match: Dataset) -> None:
        """Values only the SCP knows: where to retrieve from, availability."""
        if "RetrieveAETitle" in match:
            match.RetrieveAETitle = self.settings.ae_title
        if "InstanceAvailability" in match:
            match.InstanceAvailability = "ONLINE"

    def _select(
        self, info: _AssocInfo, root: Root, identifier: Dataset, what: str
    ) -> list[StoredInstance] | int:
        """Instances for a C-GET/C-MOVE, or the failure status to answer."""
        try:
            level = check_level(identifier, root)
            instances = self.backend.instances_for(level, root, identifier)
        except IdentifierError as exc:
            LOG.warning("%s from %s: %s", what, info.peer, exc)
            return _ID_MISMATCH
        except Exception:  # noqa: BLE001 - answered as a failure, logged
            LOG.exception("%s from %s failed", what, info.peer)
            return _UNABLE
        LOG.info("%s %s from %s: %d instances", what, level, info.peer, len(instances))
        kind, _, destination = what.partition(" to ")
        self._audit.retrieve(
            "move" if kind == "C-MOVE" else "get",
            info.calling_ae,
            info.address,
            (i.study_uid for i in instances),
            len(instances),
            destination,
        )
        return instances

    def _suboperations(
        self, event: Any, instances: list[StoredInstance]
    ) -> Iterator[tuple[int, Dataset | None]]:
        """(status, dataset) pairs for C-GET/C-MOVE sub-operations."""
        for instance in instances:
            if event.is_cancelled:
                yield _CANCEL, None
                return
            yield _PENDING, StoredRef(instance)

    def _on_get(self, event: Any) -> Iterator[Any]:
        """C-GET: number of sub-operations, then one C-STORE per instance."""
        request = self._request(event, _GET, RETRIEVE)
        if isinstance(request, int):
            yield 1
            yield request, None
            return
        info, root, identifier = request
        selected = self._select(info, root, identifier, "C-GET")
        if isinstance(selected, int):
            yield 1
            yield selected, None
            return
        yield len(selected)
        yield from self._suboperations(event, selected)

    def _on_move(self, event: Any) -> Iterator[Any]:
        """C-MOVE: destination, number of sub-operations, then the instances."""
        request = self._request(event, _MOVE, RETRIEVE)
        destination = str(event.move_destination or "").strip()
        if isinstance(request, int):
            yield None, None
            return
        info, root, identifier = request
        address = self.settings.destinations.get(destination)
        if address is None:
            LOG.warning("C-MOVE from %s: unknown destination %r", info.peer, destination)
            yield None, None
            return
        selected = self._select(info, root, identifier, f"C-MOVE to {destination}")
        if isinstance(selected, int):
            yield address[0], address[1], {"contexts": [build_context(Verification)]}
            yield 1
            yield selected, None
            return
        yield address[0], address[1], {"contexts": move_contexts(selected) or None}
        yield len(selected)
        yield from self._suboperations(event, selected)
