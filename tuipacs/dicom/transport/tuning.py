"""Transport tuning for pynetdicom: our sockets, AE and request handler.

pynetdicom 3 leaves Nagle's algorithm on, reads PDUs 4 KB at a time, polls its DUL
reactor with a 1 ms sleep and logs every PDU through default handlers. For the
associations tuipacs opens or accepts we:

* set TCP_NODELAY on every socket (requestor: after connect; acceptor: on accept),
* replace the DUL reactor by one waiting in ``select()`` (tuipacs.dicom.transport.fast_dul) that
  never waits in a read (5 ms at most), within the bounds of tuipacs.dicom.transport.wire,
  with fast paths for C-STORE, pending C-GET/C-MOVE and pending C-FIND responses
  (``DUL_LOOP_DELAY`` still bounds pynetdicom's own waits on the DUL),
* end every wait for a DIMSE message when the association is gone or after
  ``dimse_timeout`` of silence (tuipacs.dicom.transport.waits); :func:`abort` wakes such a wait,
* unbind pynetdicom's per-PDU logging handlers unless its logger wants DEBUG,
* receive C-STORE datasets in chunks straight to a Part-10 temporary file
  (``_config.STORE_RECV_CHUNKED_DATASET``), in a spool folder we choose per
  association so that partially received files can be cleaned up.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any

from pynetdicom import _config, dimse_messages, evt
from pynetdicom._handlers import (
    standard_dimse_recv_handler,
    standard_dimse_sent_handler,
    standard_pdu_recv_handler,
    standard_pdu_sent_handler,
)
from pynetdicom.ae import ApplicationEntity
from pynetdicom.association import Association
from pynetdicom.dul import DULServiceProvider
from pynetdicom.transport import (
    T_CONNECT,
    AddressInformation,
    AssociationSocket,
    RequestHandler,
    ThreadedAssociationServer,
)

from tuipacs.dicom import tls
from tuipacs.dicom.transport import assoc_reactor
from tuipacs.dicom.transport.fast_dul import (
    FastDUL,
    FastOptions,
    FindCallback,
    PendingCallback,
    StoreCallback,
    install,
)
from tuipacs.dicom.transport.waits import bounded_get_msg

LOG = logging.getLogger(__name__)

#: Idle sleep of the DUL reactor of our associations (pynetdicom's default: 1 ms).
DUL_LOOP_DELAY = 0.00005
_SPOOL_ATTR = "_tuipacs_spool"
_configured = False
_configure_lock = threading.Lock()
_real_named_temporary_file = dimse_messages.NamedTemporaryFile


def set_nodelay(sock: socket.socket | None) -> None:
    """Turn Nagle's algorithm off on a TCP socket (no-op for other sockets)."""
    if sock is None:
        return
    with suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _spool_temporary_file(*args: Any, **kwargs: Any) -> Any:
    """NamedTemporaryFile in the spool folder of the current association, if it has one.

    pynetdicom calls this from the DUL thread of the association receiving a C-STORE.
    """
    thread = threading.current_thread()
    if isinstance(thread, DULServiceProvider):
        spool = getattr(thread.assoc, _SPOOL_ATTR, None)
        if spool is not None:
            kwargs["dir"] = str(spool)
            kwargs.setdefault("prefix", "recv-")
    return _real_named_temporary_file(*args, **kwargs)


def configure() -> None:
    """Process-wide pynetdicom settings tuipacs relies on (idempotent).

    Received C-STORE datasets are written to a temporary Part-10 file (preamble, file
    meta with the accepted transfer syntax, then the dataset bytes as received) and
    the handler gets ``event.dataset_path``; pynetdicom deletes the file after the
    handler returns unless the handler moved it away.
    """
    global _configured
    with _configure_lock:
        if _configured:
            return
        _config.STORE_RECV_CHUNKED_DATASET = True
        dimse_messages.NamedTemporaryFile = _spool_temporary_file
        _configured = True


class TunedSocket(AssociationSocket):
    """AssociationSocket with TCP_NODELAY and a record of connect errors.

    Its (pynetdicom) recv() is not used: our DUL reads with tuipacs.dicom.transport.wire.PduReader.
    """

    connect_error: OSError | None = None

    def __init__(
        self,
        assoc: Association,
        client_socket: socket.socket | None = None,
        address: AddressInformation | None = None,
    ) -> None:
        """Wrap or create the socket; accepted sockets get TCP_NODELAY at once."""
        super().__init__(assoc, client_socket=client_socket, address=address)
        set_nodelay(self.socket)

    def connect(self, primitive: T_CONNECT) -> None:
        """Connect like pynetdicom does, set TCP_NODELAY and keep the OSError if any."""
        if self.socket is None:
            raise ValueError("A socket must be created before calling connect()")
        try:
            if self.tls_args:
                context, server_hostname = self.tls_args
                self.socket = context.wrap_socket(
                    self.socket, server_side=False, server_hostname=server_hostname
                )
            self.socket.settimeout(self.assoc.connection_timeout)
            self.socket.connect(primitive.address_info.as_tuple)
            self.socket.settimeout(None)
            set_nodelay(self.socket)
            local = self.socket.getsockname()
            self.assoc.requestor.address_info = AddressInformation.from_tuple(local)
            self._is_connected = True
            evt.trigger(self.assoc, evt.EVT_CONN_OPEN, {"address": primitive.address_info.as_tuple})
            primitive.result = "Evt2"
        except OSError as exc:
            self.connect_error = exc
            if self.socket is not None:
                self._shutdown_socket()
                self.socket = None
            primitive.result = "Evt17"
        finally:
            self.provider_queue.put(primitive)
            self._ready.set()


def _quiet_handlers(assoc: Association) -> None:
    """Unbind pynetdicom's per-PDU/DIMSE logging handlers unless DEBUG logging is on."""
    if logging.getLogger("pynetdicom").isEnabledFor(logging.DEBUG):
        return
    for event, handler in (
        (evt.EVT_DIMSE_RECV, standard_dimse_recv_handler),
        (evt.EVT_DIMSE_SENT, standard_dimse_sent_handler),
        (evt.EVT_PDU_RECV, standard_pdu_recv_handler),
        (evt.EVT_PDU_SENT, standard_pdu_sent_handler),
    ):
        with suppress(Exception):
            assoc.unbind(event, handler)


def tune_association(assoc: Association, options: FastOptions) -> None:
    """Apply our speed settings and bounded waits to a new (not yet started) association."""
    assoc.dul._run_loop_delay = DUL_LOOP_DELAY
    setattr(assoc, _SPOOL_ATTR, options.spool)
    install(assoc.dul, options)
    _quiet_handlers(assoc)
    assoc.dimse.get_msg = partial(bounded_get_msg, assoc)  # type: ignore[method-assign]
    assoc_reactor.install(assoc)


def fast_options(assoc: Association) -> FastOptions | None:
    """The fast-path options of one of our associations (None for others)."""
    dul = assoc.dul
    return dul._fast if isinstance(dul, FastDUL) else None


class TunedAE(ApplicationEntity):
    """ApplicationEntity whose associations use TunedSocket and the fast DUL.

    `store` (if given) receives every C-STORE of its associations on the fast path;
    `pending` receives the counts of pending C-GET/C-MOVE responses; `find` the raw
    identifiers of pending C-FIND responses.
    """

    def __init__(
        self,
        ae_title: str,
        spool: Path | None = None,
        store: StoreCallback | None = None,
        pending: PendingCallback | None = None,
        find: FindCallback | None = None,
    ) -> None:
        """Create the AE; received datasets of its associations go to `spool`."""
        configure()
        super().__init__(ae_title)
        self.spool = spool
        self.fast_store = store
        self.fast_pending = pending
        self.fast_find = find
        #: Seconds an accepted connection has to send its A-ASSOCIATE-RQ (None: ARTIM only).
        self.request_timeout: float | None = None

    def options(self) -> FastOptions:
        """Fresh fast-path options for a new association."""
        return FastOptions(
            spool=self.spool,
            store=self.fast_store,
            pending=self.fast_pending,
            find=self.fast_find,
            request_timeout=self.request_timeout,
        )

    def _create_socket(
        self, assoc: Association, address: AddressInformation, tls_args: Any
    ) -> AssociationSocket:
        """Tune the association and give it a TunedSocket."""
        tune_association(assoc, self.options())
        sock = TunedSocket(assoc, address=address)
        sock.tls_args = tls_args
        return sock


class TunedRequestHandler(RequestHandler):
    """Server-side request handler: accepted associations get our socket settings.

    A TLS connection completes its handshake here, on its own thread and within
    tls.HANDSHAKE_TIMEOUT, before anything is read from it (see TunedServer.get_request).
    """

    def handle(self) -> None:
        """Handshake (TLS), then serve the association as pynetdicom does."""
        sock = self.request
        if isinstance(sock, ssl.SSLSocket):
            gate = getattr(self.server, "tls_gate", None)
            if not isinstance(gate, tls.HandshakeGate):
                gate = tls.HandshakeGate()
                self.server.tls_gate = gate  # type: ignore[attr-defined]
            try:
                gate.run(sock)
            except tls.TlsError as exc:
                LOG.warning("TLS connection from %s closed: %s", self.client_address[0], exc)
                with suppress(OSError):
                    sock.close()
                return
        super().handle()

    def _create_association(self) -> Association:
        """Create the acceptor association as pynetdicom does, then tune it."""
        assoc = super()._create_association()
        sock = assoc.dul.socket
        if sock is not None:
            sock.__class__ = TunedSocket
            set_nodelay(sock.socket)
        ae = self.server.ae
        options = ae.options() if isinstance(ae, TunedAE) else FastOptions()
        tune_association(assoc, options)
        return assoc


class TunedServer(ThreadedAssociationServer):
    """pynetdicom's threaded server with a listen backlog for bursts of connections.

    socketserver listens with a backlog of 5: connections beyond it wait for the
    client's SYN retries (1 s, then 3 s...), so a burst of callers (or of silent
    connections, see scp_limits) would delay everyone.
    """

    request_queue_size = 128

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        """Accept a connection; with TLS, wrap it without handshaking here.

        pynetdicom handshakes inside the accept loop, so one silent client would stall every
        new connection: the handshake runs on the connection's own thread instead, with a
        deadline (see TunedRequestHandler.handle).
        """
        assert self.socket is not None
        client, address = self.socket.accept()
        if self.ssl_context:
            client = self.ssl_context.wrap_socket(
                client, server_side=True, do_handshake_on_connect=False
            )
        return client, address
