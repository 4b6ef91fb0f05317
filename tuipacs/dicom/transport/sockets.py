"""Our sockets and server (both transports): TCP_NODELAY, connect errors, TLS off the
accept loop (with tuning.TunedRequestHandler), a listen backlog.

* :class:`TunedSocket`: TCP_NODELAY on every socket (requestor: after connect; acceptor:
  on accept; pynetdicom leaves Nagle's algorithm on, which delays small PDUs by up to
  40 ms), and the OSError of a failed connect kept to explain it. Its recv() is not used:
  our DULs read with :class:`~tuipacs.dicom.transport.wire.PduReader`.
* :class:`TunedServer`: a listen backlog of 128, and TLS connections wrapped without a
  handshake in the accept loop (pynetdicom handshakes there, so one silent client stalls
  every new connection);
* the server's ``on_connect`` hook hears of each accepted connection (the association
  limits, see scp_limits).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from contextlib import suppress

from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.transport import (
    T_CONNECT,
    AddressInformation,
    AssociationSocket,
    ThreadedAssociationServer,
)

from tuipacs.dicom import tls

LOG = logging.getLogger(__name__)

#: Called with each accepted connection's association (not yet started) and address.
ConnectHook = Callable[[Association, str], None]


def set_nodelay(sock: socket.socket | None) -> None:
    """Turn Nagle's algorithm off on a TCP socket (no-op for other sockets)."""
    if sock is None:
        return
    with suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class TunedSocket(AssociationSocket):
    """AssociationSocket with TCP_NODELAY and a record of connect errors."""

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


class TunedServer(ThreadedAssociationServer):
    """pynetdicom's threaded server with a listen backlog for bursts of connections.

    socketserver listens with a backlog of 5: connections beyond it wait for the
    client's SYN retries (1 s, then 3 s...), so a burst of callers (or of silent
    connections, see scp_limits) would delay everyone.
    """

    request_queue_size = 128
    #: Told of each accepted connection (see tuning.TunedRequestHandler).
    on_connect: ConnectHook | None = None
    #: Bounds the TLS handshakes in progress (created with the first one).
    tls_gate: tls.HandshakeGate | None = None

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        """Accept a connection; with TLS, wrap it without handshaking here.

        The handshake runs on the connection's own thread instead, with a deadline (see
        tuning.TunedRequestHandler.handle).
        """
        assert self.socket is not None
        client, address = self.socket.accept()
        if self.ssl_context:
            client = self.ssl_context.wrap_socket(
                client, server_side=True, do_handshake_on_connect=False
            )
        return client, address
