"""What the rest of tuipacs asks of an association, instead of pynetdicom's private names."""

from __future__ import annotations

from dataclasses import dataclass

from pynetdicom.association import Association

from tuipacs.dicom.transport.options import LinkOptions
from tuipacs.dicom.transport.safe_dul import SafeDUL
from tuipacs.dicom.transport.sockets import TunedSocket


@dataclass(frozen=True)
class PeerNotes:
    """What the peer did on a failed association attempt (to explain it).

    `connect_error`: why the TCP connection (or TLS handshake) failed; `non_dicom`: the
    first bytes of an answer that is not DICOM; `bad_pdu`: a PDU that could not be
    decoded; `peer_aborted`: it sent A-ABORT; `peer_closed`: it closed the connection;
    `rejection`: (result, source, reason) of an A-ASSOCIATE-RJ it sent. pynetdicom can miss
    a rejection: when the peer rejects and closes before the requesting thread looks, it
    sees the connection closed and gives up without reading the answer.
    """

    connect_error: OSError | None = None
    non_dicom: bytes | None = None
    bad_pdu: str | None = None
    peer_aborted: bool = False
    peer_closed: bool = False
    rejection: tuple[int, int, int] | None = None


def options_of(assoc: Association) -> LinkOptions | None:
    """The transport options of one of our associations (None for others)."""
    dul = assoc.dul
    return dul.options if isinstance(dul, SafeDUL) else None


def peer_notes(assoc: Association) -> PeerNotes:
    """What our transport noted about the peer of `assoc`."""
    sock = assoc.dul.socket
    error = sock.connect_error if isinstance(sock, TunedSocket) else None
    dul = assoc.dul
    if not isinstance(dul, SafeDUL):
        return PeerNotes(connect_error=error)
    return PeerNotes(
        error, dul.non_dicom, dul.bad_pdu, dul.peer_aborted, dul.peer_closed, dul.rejection
    )


def context_id(assoc: Association, abstract_syntax: str) -> int:
    """The ID of an accepted context for `abstract_syntax` with us as SCU (ValueError if
    none was accepted)."""
    return int(assoc._get_valid_context(abstract_syntax, "", "scu").context_id or 1)


def wake_acceptor(assoc: Association) -> None:
    """Wake an accepted association still waiting for its A-ASSOCIATE-RQ (it ends)."""
    assoc.dul.to_user_queue.put(None)  # type: ignore[arg-type]
