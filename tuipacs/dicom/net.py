"""Transport tuning for pynetdicom and association setup with clear errors.

pynetdicom 3 leaves Nagle's algorithm on, reads PDUs 4 KB at a time, polls its DUL
reactor with a 1 ms sleep and logs every PDU through default handlers. For the
associations tuipacs opens or accepts we:

* set TCP_NODELAY on every socket (requestor: after connect; acceptor: on accept),
* replace the DUL reactor by one waiting in ``select()`` (tuipacs.dicom.fastdul) that
  never waits in a read (5 ms at most), within the bounds of tuipacs.dicom.wire,
  with fast paths for C-STORE, pending C-GET/C-MOVE and pending C-FIND responses
  (``DUL_LOOP_DELAY`` still bounds pynetdicom's own waits on the DUL),
* end every wait for a DIMSE message when the association is gone or after
  ``dimse_timeout`` of silence (tuipacs.dicom.waits); :func:`abort` wakes such a wait,
* unbind pynetdicom's per-PDU logging handlers unless its logger wants DEBUG,
* receive C-STORE datasets in chunks straight to a Part-10 temporary file
  (``_config.STORE_RECV_CHUNKED_DATASET``), in a spool folder we choose per
  association so that partially received files can be cleaned up.
"""

from __future__ import annotations

import logging
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
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
from pynetdicom.presentation import PresentationContext
from pynetdicom.transport import (
    T_CONNECT,
    AddressInformation,
    AssociationSocket,
    RequestHandler,
)

from tuipacs.dicom import assoc_reactor, tls
from tuipacs.dicom.errors import (
    AssociationAborted,
    AssociationRejected,
    DicomNetError,
    NetTimeout,
    NodeUnreachable,
    PeerNotDicom,
    ServiceNotAccepted,
)
from tuipacs.dicom.fastdul import (
    FastDUL,
    FastOptions,
    FindCallback,
    PendingCallback,
    StoreCallback,
    install,
)
from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.waits import abort, bounded_get_msg

__all__ = ["abort"]  # re-exported: callers abort through net

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

    Its (pynetdicom) recv() is not used: our DUL reads with tuipacs.dicom.wire.PduReader.
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


# --------------------------------------------------------------------------- errors


_REJECT_USER_REASONS = {
    1: "no reason given",
    2: "application context not supported",
    3: "our AE title (calling AE) is not recognised",
    7: "the called AE title is not recognised",
}


def _where(node: Node) -> str:
    """The node for messages: its name and address, or the address alone if it has no name."""
    return node.address if node.name == node.address else f"{node.name} ({node.address})"


def rejection_error(node: Node, local: LocalAE, result: int, source: int, reason: int) -> str:
    """One-line message (with advice) for an A-ASSOCIATE-RJ."""
    where = f"{_where(node)} rejected the association"
    if source == 1 and reason == 7:
        return f"{where}: called AE title {node.ae_title!r} is wrong; check the node's ae_title"
    if source == 1 and reason == 3:
        return (
            f"{where}: our AE title {local.ae_title!r} is not allowed; ask the archive's "
            "administrator to add it (with our host) to its known modalities"
        )
    if source == 3:
        return f"{where}: the archive is busy or at its association limit; retry later"
    detail = _REJECT_USER_REASONS.get(reason, f"reason {reason}") if source == 1 else "protocol"
    kind = "transient" if result == 2 else "permanent"
    return (
        f"{where} ({kind}, {detail}): check the called AE title {node.ae_title!r} and that the "
        f"archive allows our AE title {local.ae_title!r}"
    )


def _connect_error(node: Node, exc: OSError | None) -> DicomNetError:
    """Error for a failed TCP connection (or TLS handshake)."""
    where = f"{node.host}:{node.port}"
    if isinstance(exc, ssl.SSLError) or (node.tls and isinstance(exc, ConnectionResetError)):
        return tls.client_error(node.tls_server_name or node.host, node.port, exc)
    if isinstance(exc, socket.timeout | TimeoutError):
        return NetTimeout(
            f"no answer from {where} within {node.connect_timeout:.0f} s: check host, port "
            "and firewall (or an SSH tunnel)"
        )
    if isinstance(exc, ConnectionRefusedError):
        return NodeUnreachable(
            f"connection refused by {where}: nothing listens there; check the node's host "
            "and port and that the archive is running"
        )
    if isinstance(exc, socket.gaierror):
        return NodeUnreachable(f"unknown host {node.host!r}: check the node's host name")
    detail = exc.strerror if exc is not None and exc.strerror else "connection failed"
    return NodeUnreachable(f"cannot connect to {where} ({detail}): check host, port and network")


def _first_line(data: bytes, limit: int = 60) -> str:
    """The first line of `data` as text if it is printable ASCII, else ''."""
    line = data.split(b"\n", 1)[0].rstrip(b"\r")[:limit]
    if not line or any(b < 0x20 or b > 0x7E for b in line):
        return ""
    return line.decode("ascii")


def not_dicom_error(node: Node, data: bytes) -> PeerNotDicom:
    """Error for a peer that answered with something that is not DICOM (first bytes `data`)."""
    where = f"the peer at {node.host}:{node.port}"
    if node.name != node.address:
        where += f" (node {node.name!r})"
    line = _first_line(data)
    if data.startswith(b"HTTP/"):
        what = f"it answered in HTTP ({line!r}), so it is a web server"
        advice = "use the archive's DICOM port, not its web port (Orthanc: 4242, not 8042)"
    elif len(data) >= 2 and data[0] in (0x15, 0x16) and data[1] == 0x03:
        what = "it answered with TLS (an encrypted service)"
        advice = "if it is DICOM over TLS, set the node's tls = true; else check the port"
    else:
        what = f"it sent non-DICOM data ({line!r})" if line else "it sent non-DICOM data"
        advice = "check that host and port are those of the archive's DICOM service"
    return PeerNotDicom(f"{where} did not answer as a DICOM node: {what}; {advice}")


def association_error(assoc: Association, node: Node, local: LocalAE) -> DicomNetError:
    """Turn a failed association attempt into one of our errors.

    What the peer did is read from our DUL (see FastDUL): it sent non-DICOM data, an
    A-ABORT, a malformed PDU or closed the connection; otherwise it did not answer in time.
    """
    sock = assoc.dul.socket
    if isinstance(sock, TunedSocket) and sock.connect_error is not None:
        return _connect_error(node, sock.connect_error)
    dul = assoc.dul if isinstance(assoc.dul, FastDUL) else None
    if dul is not None and dul.non_dicom is not None:
        return not_dicom_error(node, dul.non_dicom)
    if assoc.is_rejected:
        rsp = assoc.acceptor.primitive
        result = int(getattr(rsp, "result", 0) or 0)
        source = int(getattr(rsp, "result_source", 0) or 0)
        reason = int(getattr(rsp, "diagnostic", 0) or 0)
        message = rejection_error(node, local, result, source, reason)
        return AssociationRejected(message, result, source, reason)
    if assoc.acceptor.primitive is None:
        return _no_answer_error(node, local, dul)
    if assoc.acceptor.primitive.result == 0 and not assoc.accepted_contexts:
        return ServiceNotAccepted(
            f"{_where(node)} accepted the association but none of the services we proposed: "
            "check that the archive offers this service (query/retrieve, or storage of these "
            f"kinds of images) and allows our AE title {local.ae_title!r} to use it"
        )
    return AssociationAborted(
        f"{_where(node)} aborted the association request: check the called AE "
        "title and that the archive allows our AE title"
    )


def _no_answer_error(node: Node, local: LocalAE, dul: FastDUL | None) -> DicomNetError:
    """Error for an association request that got neither an accept nor a reject."""
    where = _where(node)
    if dul is not None and dul.peer_aborted:
        return AssociationAborted(
            f"{where} aborted the association request without accepting or rejecting it: "
            f"check the called AE title {node.ae_title!r} and that the archive allows our AE "
            f"title {local.ae_title!r} (its log says why)"
        )
    if dul is not None and dul.bad_pdu is not None:
        return AssociationAborted(
            f"{where} answered the association request with {dul.bad_pdu}: check that "
            f"{node.host}:{node.port} is a DICOM service (the archive's log may say more)"
        )
    if dul is not None and dul.peer_closed:
        hint = "" if node.tls else ", and so does a DICOM over TLS port: then set tls = true"
        return NodeUnreachable(
            f"{where} closed the connection without answering the association request: check "
            "that the port is the archive's DICOM port and that the archive accepts our AE "
            f"title {local.ae_title!r} (a tunnel or proxy with nothing behind it does this "
            f"too{hint})"
        )
    return NetTimeout(
        f"{where} did not answer the association request within {node.timeout:.0f} s: check "
        f"that {node.host}:{node.port} is a DICOM service (a web server, say, stays silent) "
        "or raise the node's timeout"
    )


# --------------------------------------------------------------------------- associate


def make_ae(
    local: LocalAE,
    node: Node,
    spool: Path | None = None,
    store: StoreCallback | None = None,
    pending: PendingCallback | None = None,
    find: FindCallback | None = None,
) -> TunedAE:
    """A requestor AE for `node`: timeouts from the node, our AE title."""
    ae = TunedAE(local.ae_title, spool, store, pending, find)
    ae.connection_timeout = node.connect_timeout
    ae.acse_timeout = node.timeout
    ae.dimse_timeout = node.timeout
    ae.network_timeout = max(node.timeout, 60.0)
    ae.maximum_pdu_size = node.max_pdu
    return ae


def associate(
    node: Node,
    local: LocalAE,
    contexts: Sequence[PresentationContext],
    ext_neg: Sequence[Any] | None = None,
    spool: Path | None = None,
    handlers: Sequence[tuple[Any, Callable[..., Any]]] | None = None,
    store: StoreCallback | None = None,
    pending: PendingCallback | None = None,
    find: FindCallback | None = None,
) -> Association:
    """Open an association to `node` or raise a DicomNetError with advice.

    `store`/`pending`/`find` enable the fast path (see tuipacs.dicom.fastdul) for
    received C-STOREs, pending C-GET/C-MOVE responses and pending C-FIND identifiers.
    """
    ae = make_ae(local, node, spool, store, pending, find)
    tls_args = None
    if node.tls:
        tls_args = (tls.client_context(local.tls), node.tls_server_name or node.host)
    try:
        assoc = ae.associate(
            node.host,
            node.port,
            contexts=list(contexts),
            ae_title=node.ae_title,
            max_pdu=node.max_pdu,
            ext_neg=list(ext_neg or []),
            evt_handlers=list(handlers or []),
            tls_args=tls_args,
        )
    except socket.gaierror as exc:
        raise _connect_error(node, exc) from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise NodeUnreachable(f"cannot associate with {node.address}: {exc}") from None
    if not assoc.is_established:
        raise association_error(assoc, node, local)
    return assoc


def close(assoc: Association) -> None:
    """Release an association politely; abort if release is not possible."""
    if assoc.is_established:
        try:
            assoc.release()
        except Exception:  # noqa: BLE001 - never let cleanup raise
            LOG.debug("release failed, aborting", exc_info=True)
            with suppress(Exception):
                assoc.abort()


@contextmanager
def association(
    node: Node,
    local: LocalAE,
    contexts: Sequence[PresentationContext],
    ext_neg: Sequence[Any] | None = None,
    spool: Path | None = None,
) -> Iterator[Association]:
    """Context manager around associate(): released (or aborted) on exit."""
    assoc = associate(node, local, contexts, ext_neg=ext_neg, spool=spool)
    try:
        yield assoc
    except BaseException:
        with suppress(Exception):
            assoc.abort()
        raise
    else:
        close(assoc)


def spool_folder(local: LocalAE, prefix: str = "tuipacs-recv-") -> Path:
    """A new private folder for received files (under local.spool_dir or the temp dir)."""
    base = local.spool_dir
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=str(base) if base else None))
