"""C-ECHO without pydicom and pynetdicom, for a fast ``tuipacs echo``.

Importing pydicom imports its pixel decoders and numpy (about 0.3 s), pynetdicom 0.05 s
more: most of a ``tuipacs echo``. A verification needs none of it: :func:`quick_echo`
speaks the few PDUs itself (A-ASSOCIATE-RQ with one presentation context, one P-DATA-TF
with the C-ECHO-RQ command in Implicit VR Little Endian, A-RELEASE) over plain TCP.

It handles only the expected exchange. Anything else (TLS nodes, a refused connection, an
association rejected or aborted, an unexpected or oversized PDU, a timeout) raises
:class:`Unsure`, and the caller runs the full echo of tuipacs.dicom, whose errors carry
the advice; so every failure is reported exactly as before, at the cost of one more try.
Everything the peer sends is bounded before it is read.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass

from tuipacs.dicom.nodes import LocalAE, Node

VERIFICATION = b"1.2.840.10008.1.1"
APPLICATION_CONTEXT = b"1.2.840.10008.3.1.1.1"
IMPLICIT_LE = b"1.2.840.10008.1.2"
#: pynetdicom's, as the rest of tuipacs announces itself.
IMPLEMENTATION_UID = b"1.2.826.0.1.3680043.9.3811.3.0.4"
IMPLEMENTATION_VERSION = b"PYNETDICOM_304"
#: Largest PDU read: an A-ASSOCIATE-AC or a C-ECHO-RSP is a few hundred bytes.
MAX_READ = 64 * 1024
MESSAGE_ID = 1
_SUCCESS = 0x0000
#: Linux's TCP_QUICKACK (reset by the kernel after each ACK, so set before each read).
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class Unsure(Exception):
    """The exchange left the expected path: run the full echo instead."""


@dataclass(frozen=True)
class QuickEcho:
    """A verification answered with success: its status, the echo's and the whole time."""

    status: int
    ms: float
    total_ms: float


def usable(node: Node) -> bool:
    """Whether the quick echo may try ``node`` (plain TCP on the default transport)."""
    stock = os.environ.get("TUIPACS_TRANSPORT", "").strip().lower() == "stock"
    return not node.tls and not stock


def _item(kind: int, body: bytes) -> bytes:
    """A variable item of an association PDU."""
    return struct.pack(">BBH", kind, 0, len(body)) + body


def _even(uid: bytes) -> bytes:
    """A UID padded to even length (for the command set)."""
    return uid + b"\0" if len(uid) % 2 else uid


def associate_rq(local: LocalAE, node: Node) -> bytes:
    """The A-ASSOCIATE-RQ: verification in Implicit VR Little Endian."""
    context = struct.pack(">BBBB", 1, 0, 0, 0)
    context += _item(0x30, VERIFICATION) + _item(0x40, IMPLICIT_LE)
    user = _item(0x51, struct.pack(">I", node.max_pdu))
    user += _item(0x52, IMPLEMENTATION_UID) + _item(0x55, IMPLEMENTATION_VERSION)
    body = struct.pack(">HH", 1, 0)
    body += node.ae_title.encode("ascii").ljust(16)[:16]
    body += local.ae_title.encode("ascii").ljust(16)[:16]
    body += bytes(32)
    body += _item(0x10, APPLICATION_CONTEXT) + _item(0x20, context) + _item(0x50, user)
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def _element(group: int, element: int, value: bytes) -> bytes:
    """One Implicit VR Little Endian element."""
    return struct.pack("<HHI", group, element, len(value)) + value


def echo_rq() -> bytes:
    """The P-DATA-TF carrying the C-ECHO-RQ command set."""
    elements = _element(0, 0x0002, _even(VERIFICATION))
    elements += _element(0, 0x0100, struct.pack("<H", 0x0030))
    elements += _element(0, 0x0110, struct.pack("<H", MESSAGE_ID))
    elements += _element(0, 0x0800, struct.pack("<H", 0x0101))
    command = _element(0, 0x0000, struct.pack("<I", len(elements))) + elements
    pdv = struct.pack(">IBB", len(command) + 2, 1, 0x03) + command
    return struct.pack(">BBI", 0x04, 0, len(pdv)) + pdv


def _read_exact(sock: socket.socket, count: int) -> bytes:
    """Exactly ``count`` bytes (Unsure if the peer closes first)."""
    chunks = bytearray()
    while len(chunks) < count:
        if _QUICKACK is not None:  # acknowledge at once: a peer that leaves Nagle on (DCMTK
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)  # does) waits for our ACK
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            raise Unsure("closed")
        chunks += chunk
    return bytes(chunks)


def read_pdu(sock: socket.socket) -> tuple[int, bytes]:
    """(PDU type, body) of the next PDU, bounded by MAX_READ.

    The first byte decides at once: a peer that sends a few bytes of something else and
    then waits would otherwise keep us until the timeout before the full echo says why."""
    first = _read_exact(sock, 1)
    if not 0x01 <= first[0] <= 0x07:
        raise Unsure("not a DICOM PDU")
    kind, _, length = struct.unpack(">BBI", first + _read_exact(sock, 5))
    if length > MAX_READ:
        raise Unsure("PDU too large")
    return kind, _read_exact(sock, length)


def accepted(body: bytes) -> bool:
    """Whether an A-ASSOCIATE-AC accepts our presentation context 1."""
    pos = 68  # protocol version, reserved, AE titles (echoed), reserved
    while pos + 4 <= len(body):
        kind, _, length = struct.unpack_from(">BBH", body, pos)
        value = body[pos + 4 : pos + 4 + length]
        if kind == 0x21 and len(value) >= 4 and value[0] == 1:
            return value[2] == 0
        pos += 4 + length
    return False


def echo_status(body: bytes) -> int:
    """The status of the C-ECHO-RSP in a P-DATA-TF body (one command PDV)."""
    if len(body) < 6:
        raise Unsure("short P-DATA")
    length, _context, header = struct.unpack_from(">IBB", body, 0)
    if header != 0x03 or length + 4 != len(body) or length < 2:
        raise Unsure("not one whole command fragment")
    command = body[6 : 4 + length]
    values: dict[int, bytes] = {}
    pos = 0
    while pos + 8 <= len(command):
        group, element, size = struct.unpack_from("<HHI", command, pos)
        if group != 0 or pos + 8 + size > len(command):
            raise Unsure("bad command set")
        values[element] = command[pos + 8 : pos + 8 + size]
        pos += 8 + size
    field, answered, status = values.get(0x0100), values.get(0x0120), values.get(0x0900)
    if field != struct.pack("<H", 0x8030) or answered != struct.pack("<H", MESSAGE_ID):
        raise Unsure("not our C-ECHO-RSP")
    if status is None or len(status) != 2:
        raise Unsure("no status")
    return int(struct.unpack("<H", status)[0])


def quick_echo(node: Node, local: LocalAE) -> QuickEcho:
    """C-ECHO ``node`` over plain TCP; raises Unsure when the full echo should decide."""
    start = time.perf_counter()
    try:
        sock = socket.create_connection((node.host, node.port), timeout=node.connect_timeout)
    except OSError as exc:
        raise Unsure(str(exc)) from None
    try:
        sock.settimeout(node.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(associate_rq(local, node))
        kind, body = read_pdu(sock)
        if kind != 0x02 or not accepted(body):
            raise Unsure("not accepted")
        sent = time.perf_counter()
        sock.sendall(echo_rq())
        kind, body = read_pdu(sock)
        if kind != 0x04:
            raise Unsure("no P-DATA")
        status = echo_status(body)
        done = time.perf_counter()
        if status != _SUCCESS:
            raise Unsure("not a success")  # the full echo describes it
        _release(sock)
    except (OSError, UnicodeError, struct.error) as exc:
        raise Unsure(str(exc)) from None
    finally:
        sock.close()
    return QuickEcho(status, (done - sent) * 1000.0, (time.perf_counter() - start) * 1000.0)


def _release(sock: socket.socket) -> None:
    """A-RELEASE-RQ and its answer; an abort if the peer answers anything else."""
    sock.sendall(struct.pack(">BBIi", 0x05, 0, 4, 0))
    try:
        kind, _ = read_pdu(sock)
    except (OSError, Unsure):
        return
    if kind != 0x06:
        sock.sendall(struct.pack(">BBIBBBB", 0x07, 0, 4, 0, 0, 0, 0))
