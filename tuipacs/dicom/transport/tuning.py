"""Our AE, the tuning of each association, and servers (see the package docstring).

:func:`tune_association` runs on every association tuipacs opens (:class:`TunedAE`) or
accepts (:class:`TunedRequestHandler`), before it starts. Both transports get the safety
layer (bounded PDU reading and DIMSE messages in SafeDUL, bounded DIMSE waits, the reactor
pause fix, spool files for pynetdicom's chunked receive) and the tuning a careful user of
pynetdicom applies (TCP_NODELAY, chunked receive and send, quiet per-PDU log handlers, a
short DUL loop delay); the fast transport replaces the DUL by FastDUL and streams archived
files on associations that send them.
"""

from __future__ import annotations

import logging
import ssl
import threading
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any

from pynetdicom import _config, evt
from pynetdicom._handlers import (
    standard_dimse_recv_handler,
    standard_dimse_sent_handler,
    standard_pdu_recv_handler,
    standard_pdu_sent_handler,
)
from pynetdicom.ae import ApplicationEntity
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext
from pynetdicom.transport import AddressInformation, AssociationSocket, RequestHandler

from tuipacs.dicom import tls
from tuipacs.dicom.transport import assoc_reactor, chunked, fast_dul, safe_dul
from tuipacs.dicom.transport.contexts import SharedContexts
from tuipacs.dicom.transport.mode import selected
from tuipacs.dicom.transport.options import FindCallback, LinkOptions, PendingCallback
from tuipacs.dicom.transport.sockets import ConnectHook, TunedServer, TunedSocket, set_nodelay
from tuipacs.dicom.transport.spool import StoreCallback
from tuipacs.dicom.transport.stored_send import enable_stored_sending
from tuipacs.dicom.transport.waits import bounded_get_msg

LOG = logging.getLogger(__name__)

#: Idle sleep of pynetdicom's DUL loop on the stock transport (pynetdicom's default: 1 ms):
#: each request and response may wait up to this long for the reactor's next turn.
STOCK_LOOP_DELAY = 0.0002
#: The same on the fast transport, whose reactor waits in select(): it only bounds
#: pynetdicom's own waits on the DUL (stopping it).
FAST_LOOP_DELAY = 0.00005
_configured = False
_configure_lock = threading.Lock()


def configure() -> None:
    """Process-wide pynetdicom settings tuipacs relies on (idempotent).

    Received C-STORE datasets are written to a spool file (chunked receive, see chunked);
    files are sent from disk by path (chunked send); identifiers are never logged.
    """
    global _configured
    with _configure_lock:
        if _configured:
            return
        _config.STORE_RECV_CHUNKED_DATASET = True
        _config.STORE_SEND_CHUNKED_DATASET = True
        _config.LOG_REQUEST_IDENTIFIERS = False
        _config.LOG_RESPONSE_IDENTIFIERS = False
        chunked.install()
        _configured = True


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


def tune_association(assoc: Association, options: LinkOptions) -> None:
    """Give a new (not yet started) association the selected transport (see the package)."""
    chunked.set_spool(assoc, options.spool)
    _quiet_handlers(assoc)
    if selected() == "fast":
        assoc.dul._run_loop_delay = FAST_LOOP_DELAY
        fast_dul.install(assoc.dul, options)
        if options.send_stored:
            enable_stored_sending(assoc)
    else:
        assoc.dul._run_loop_delay = STOCK_LOOP_DELAY
        safe_dul.install(assoc.dul, options)
    assoc.dimse.get_msg = partial(bounded_get_msg, assoc)  # type: ignore[method-assign]
    assoc_reactor.install(assoc)


class TunedAE(ApplicationEntity):
    """ApplicationEntity whose associations (requested or accepted) get our transport.

    On the fast transport `store` (if given) receives every C-STORE of its associations;
    `pending` the counts of pending C-GET/C-MOVE responses; `find` the raw identifiers of
    pending C-FIND responses. `send_stored`: its associations send archived files as
    stored (see stored_send.sendable).
    """

    def __init__(
        self,
        ae_title: str,
        spool: Path | None = None,
        store: StoreCallback | None = None,
        pending: PendingCallback | None = None,
        find: FindCallback | None = None,
        send_stored: bool = False,
    ) -> None:
        """Create the AE; received datasets of its associations go to `spool`."""
        configure()
        super().__init__(ae_title)
        self.spool = spool
        self.fast_store = store
        self.fast_pending = pending
        self.fast_find = find
        self.send_stored = send_stored
        #: Seconds an accepted connection has to send its A-ASSOCIATE-RQ (None: ARTIM only).
        self.request_timeout: float | None = None

    def options(self) -> LinkOptions:
        """Fresh options for a new association."""
        return LinkOptions(
            spool=self.spool,
            store=self.fast_store,
            pending=self.fast_pending,
            find=self.fast_find,
            send_stored=self.send_stored,
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
    """Server-side request handler: TLS handshake here, then our socket and tuning.

    A TLS connection completes its handshake on its own thread, within
    tls.HANDSHAKE_TIMEOUT and at most tls.MAX_HANDSHAKES at once, before anything is read
    from it (see TunedServer.get_request). The server's ``on_connect`` hook then hears of
    the new association.
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
        tune_association(assoc, ae.options() if isinstance(ae, TunedAE) else LinkOptions())
        hook = getattr(self.server, "on_connect", None)
        if hook is not None:
            hook(assoc, str(self.client_address[0]))
        return assoc


def make_server(
    ae: TunedAE,
    address: tuple[str, int],
    contexts: list[PresentationContext],
    handlers: list[Any],
    ssl_context: ssl.SSLContext | None = None,
    on_connect: ConnectHook | None = None,
) -> TunedServer:
    """A (not yet serving) TunedServer of `ae` on `address` (OSError if it cannot bind).

    Its associations get our transport; `on_connect` hears of each new connection. Call
    ``serve_forever`` on a thread; ``shutdown`` stops it.
    """
    server = ae.make_server(  # pynetdicom makes it of server_class
        address,
        ae_title=ae.ae_title,
        contexts=contexts,
        evt_handlers=handlers,
        server_class=TunedServer,
        request_handler=TunedRequestHandler,
        ssl_context=ssl_context,
    )
    assert isinstance(server, TunedServer)
    server.on_connect = on_connect
    server.daemon_threads = True
    if selected() == "fast":
        server.contexts = SharedContexts(server.contexts)
    ae._servers.append(server)  # as AE.start_server does: server.shutdown() expects it
    return server
