"""One-line errors (with advice) for failed association attempts and connections."""

from __future__ import annotations

import socket
import ssl

from pynetdicom.association import Association

from tuipacs.dicom import tls
from tuipacs.dicom.errors import (
    AssociationAborted,
    AssociationRejected,
    DicomNetError,
    NetTimeout,
    NodeUnreachable,
    PeerNotDicom,
    ServiceNotAccepted,
)
from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.transport import PeerNotes, peer_notes

_REJECT_USER_REASONS = {
    1: "no reason given",
    2: "application context not supported",
    3: "our AE title (calling AE) is not recognised",
    7: "the called AE title is not recognised",
}


def node_label(node: Node) -> str:
    """The node for messages: its name and address, or the address alone if it has no name."""
    return node.address if node.name == node.address else f"{node.name} ({node.address})"


def rejection_error(node: Node, local: LocalAE, result: int, source: int, reason: int) -> str:
    """One-line message (with advice) for an A-ASSOCIATE-RJ."""
    where = f"{node_label(node)} rejected the association"
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


def connect_error(node: Node, exc: OSError | None) -> DicomNetError:
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

    What the peer did is read from our transport (transport.peer_notes): it sent non-DICOM
    data, an A-ABORT, a malformed PDU or closed the connection; otherwise it did not answer
    in time.
    """
    notes = peer_notes(assoc)
    if notes.connect_error is not None:
        return connect_error(node, notes.connect_error)
    if notes.non_dicom is not None:
        return not_dicom_error(node, notes.non_dicom)
    if assoc.is_rejected or notes.rejection is not None:
        rsp = assoc.acceptor.primitive
        result = int(getattr(rsp, "result", 0) or 0)
        source = int(getattr(rsp, "result_source", 0) or 0)
        reason = int(getattr(rsp, "diagnostic", 0) or 0)
        if rsp is None and notes.rejection is not None:  # pynetdicom missed it, we did not
            result, source, reason = notes.rejection
        message = rejection_error(node, local, result, source, reason)
        return AssociationRejected(message, result, source, reason)
    if assoc.acceptor.primitive is None:
        return _no_answer_error(node, local, notes)
    if assoc.acceptor.primitive.result == 0 and not assoc.accepted_contexts:
        return ServiceNotAccepted(
            f"{node_label(node)} accepted the association but none of the services we proposed: "
            "check that the archive offers this service (query/retrieve, or storage of these "
            f"kinds of images) and allows our AE title {local.ae_title!r} to use it"
        )
    return AssociationAborted(
        f"{node_label(node)} aborted the association request: check the called AE "
        "title and that the archive allows our AE title"
    )


def _no_answer_error(node: Node, local: LocalAE, notes: PeerNotes) -> DicomNetError:
    """Error for an association request that got neither an accept nor a reject."""
    where = node_label(node)
    if notes.peer_aborted:
        return AssociationAborted(
            f"{where} aborted the association request without accepting or rejecting it: "
            f"check the called AE title {node.ae_title!r} and that the archive allows our AE "
            f"title {local.ae_title!r} (its log says why)"
        )
    if notes.bad_pdu is not None:
        return AssociationAborted(
            f"{where} answered the association request with {notes.bad_pdu}: check that "
            f"{node.host}:{node.port} is a DICOM service (the archive's log may say more)"
        )
    if notes.peer_closed:
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
