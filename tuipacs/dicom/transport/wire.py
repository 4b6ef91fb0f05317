"""Bounds on what a DICOM peer may send us, and a PDU reader that never waits.

Every value here comes from the peer and is checked before memory is set aside for it:

* a P-DATA-TF PDU may not be longer than the Maximum Length we advertised (PS3.8 D.1;
  0 advertised means "no limit", then memory still grows only as bytes arrive);
* every other PDU (A-ASSOCIATE-RQ/AC/RJ, A-RELEASE, A-ABORT) at most
  :data:`MAX_CONTROL_PDU` (an A-ASSOCIATE-RQ with 128 presentation contexts and a user
  identity is a few tens of KiB);
* the command set of a request at most :data:`MAX_COMMAND` bytes (a response's at most
  :data:`MAX_MESSAGE_DATASET`: DCMTK-based archives add the Failed SOP Instance UID List
  of a C-GET to it), the dataset of a message that is not a C-STORE (identifiers,
  N-service datasets) at most :data:`MAX_MESSAGE_DATASET`.

:class:`PduReader` assembles one PDU at a time from what the socket has (see
:func:`recv_some`): a read never waits for a header, and waits at most
:data:`BODY_WAIT` for the rest of a body whose first bytes came, so a reactor that reads
only when ``select()`` says so always gets back to its timers (ARTIM, network timeout,
kill) even when a peer sends half a PDU and falls silent. The buffer of a PDU grows as
its bytes arrive (at most twice what arrived) and is reused for the next PDU.

Both transports read with it (:class:`~tuipacs.dicom.transport.safe_dul.SafeDUL`, the
stock transport's DUL, and FastDUL on top of it): these bounds are part of the safety layer.
"""

from __future__ import annotations

import socket
import ssl
import struct
from dataclasses import dataclass
from typing import Literal

from tuipacs.dicom.nodes import DEFAULT_MAX_PDU

__all__ = [
    "DEFAULT_MAX_PDU",
    "MAX_COMMAND",
    "MAX_CONTROL_PDU",
    "MAX_MESSAGE_DATASET",
    "PDU_NAMES",
    "BODY_WAIT",
    "PduReader",
    "REQUEST_TIMEOUT",
    "ReadResult",
    "pdu_limit",
    "recv_some",
    "timed_receive",
]

#: Seconds an accepted connection has to send its whole A-ASSOCIATE-RQ (a real caller
#: needs milliseconds); then it is closed.
REQUEST_TIMEOUT = 10.0
#: Largest PDU other than P-DATA-TF we accept (variable field, bytes).
MAX_CONTROL_PDU = 1 << 20
#: Largest command set of a request we accept: a real one is a few hundred bytes.
MAX_COMMAND = 65535
#: Largest dataset of a message other than a C-STORE (query identifiers and the like).
MAX_MESSAGE_DATASET = 8 << 20
#: The PDU types of PS3.8 9.3 by their first byte; any other first byte is not DICOM.
PDU_NAMES = {
    0x01: "A-ASSOCIATE-RQ",
    0x02: "A-ASSOCIATE-AC",
    0x03: "A-ASSOCIATE-RJ",
    0x04: "P-DATA-TF",
    0x05: "A-RELEASE-RQ",
    0x06: "A-RELEASE-RP",
    0x07: "A-ABORT",
}
P_DATA_TF = 0x04
#: Longest a read waits for more of a PDU body that is arriving (seconds).
BODY_WAIT = 0.005
#: First buffer size of a PDU body; it doubles (up to the PDU's length) as bytes arrive.
_FIRST_CHUNK = 256 * 1024
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_WAITALL = getattr(socket, "MSG_WAITALL", 0)


def pdu_limit(pdu_type: int, max_pdu: int) -> int | None:
    """Most bytes the variable field of a PDU of this type may declare (None: no limit).

    `max_pdu` is the Maximum Length we advertised for P-DATA-TF (0: unlimited).
    """
    if pdu_type == P_DATA_TF:
        return max_pdu or None
    return MAX_CONTROL_PDU


def recv_some(sock: socket.socket, view: memoryview, wait: bool = False) -> int | None:
    """Read what is there into `view`: bytes read (0: the peer closed), None: nothing yet.

    Never waits, unless `wait` and the socket has a receive timeout (see
    :func:`timed_receive`): then it waits up to that timeout to fill `view` (MSG_WAITALL:
    one system call for a whole PDU body that is arriving, as a blocking read would).

    An ssl.SSLSocket (DICOM over TLS) is switched to non-blocking for the call: select()
    may say its descriptor is readable while only part of a TLS record has arrived (a
    blocking read would then wait for the rest), and SSLWantReadError means "nothing to
    return yet". (Bytes already decrypted wait in the SSL buffer where select() does not
    see them: callers check ``sock.pending()`` before waiting, see fast_dul.FastDUL._wait.)
    """
    if isinstance(sock, ssl.SSLSocket) or sock.gettimeout() is not None or not _DONTWAIT:
        timeout = sock.gettimeout()
        sock.settimeout(0.0)
        try:
            return sock.recv_into(view, len(view))
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError, InterruptedError):
            return None
        finally:
            sock.settimeout(timeout)
    try:
        return sock.recv_into(view, len(view), _WAITALL if wait else _DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return None


def timed_receive(sock: socket.socket) -> bool:
    """Give a plain blocking TCP socket a receive timeout of BODY_WAIT; True if it has one.

    With it, a blocking read returns what arrived after BODY_WAIT at most (or fails with
    EAGAIN if nothing did), so :func:`recv_some` may wait for a body without ever blocking
    the reactor for longer. TLS sockets and sockets with a Python timeout are left alone.
    """
    if isinstance(sock, ssl.SSLSocket) or sock.gettimeout() is not None or not _WAITALL:
        return False
    seconds = int(BODY_WAIT)
    micros = int((BODY_WAIT - seconds) * 1_000_000)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", seconds, micros))
    except (OSError, struct.error):
        return False
    return True


Outcome = Literal["wait", "pdu", "closed", "not_dicom", "too_long"]


@dataclass
class ReadResult:
    """What :meth:`PduReader.read` found.

    * ``wait``: no complete PDU yet (call again when the socket is readable);
    * ``pdu``: a complete PDU: ``header`` (6 bytes) and ``body`` (a view valid until the
      next read);
    * ``closed``: the peer closed the connection (or it broke); ``partial`` if inside a PDU;
    * ``not_dicom``: the first byte is no PDU type (``header`` holds the bytes seen);
    * ``too_long``: the header declares more than ``limit`` bytes (nothing was allocated).
    """

    outcome: Outcome
    header: bytes = b""
    body: memoryview | None = None
    pdu_type: int = 0
    length: int = 0
    limit: int = 0
    partial: bool = False


_WAIT = ReadResult("wait")


class PduReader:
    """Assembles PDUs from a socket without waiting, within the limits above.

    Called for every PDU: the common case (a plain TCP socket) is kept to a few calls.
    """

    def __init__(self) -> None:
        """An empty reader (no PDU started)."""
        self._header = bytearray(6)
        self._header_got = 0
        self._buffer = bytearray()
        self._length = -1  # body length of the PDU being read, -1 while in its header
        self._got = 0
        self._sock: socket.socket | None = None  # the socket the flags below are for
        self._plain = False  # read with MSG_DONTWAIT (else through recv_some)
        self._wait = False  # body reads may wait BODY_WAIT (SO_RCVTIMEO + MSG_WAITALL)

    @property
    def partial(self) -> bool:
        """True while part of a PDU has been received."""
        return self._header_got > 0

    def _recv(self, sock: socket.socket, view: memoryview, wait: bool) -> int | None:
        """recv_some, with the flags already worked out for a plain socket."""
        if not self._plain:
            return recv_some(sock, view)
        try:
            return sock.recv_into(view, 0, _WAITALL if wait else _DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return None

    def read(self, sock: socket.socket, max_pdu: int) -> ReadResult:
        """Read what the socket has, up to the end of the current PDU.

        `max_pdu` is the Maximum Length we advertised (0: unlimited), checked against a
        P-DATA-TF's declared length before its body is read.
        """
        if sock is not self._sock:
            self._sock = sock
            plain = not isinstance(sock, ssl.SSLSocket) and sock.gettimeout() is None
            self._plain = plain and bool(_DONTWAIT)
            self._wait = self._plain and timed_receive(sock)
        while self._length < 0:
            view = memoryview(self._header)[self._header_got :]
            count = self._recv(sock, view, False)
            view.release()
            if count is None:
                return _WAIT
            if count == 0:
                return self._closed()
            if self._header_got == 0 and self._header[0] not in PDU_NAMES:
                head = bytes(self._header[:count])
                self._reset()
                return ReadResult("not_dicom", header=head)
            self._header_got += count
            if self._header_got < 6:
                continue
            pdu_type, _, length = struct.unpack(">BBL", self._header)
            limit = (max_pdu or None) if pdu_type == P_DATA_TF else MAX_CONTROL_PDU
            if limit is not None and length > limit:
                header = bytes(self._header)
                self._reset()
                return ReadResult("too_long", header, None, pdu_type, length, limit)
            self._length, self._got = length, 0
        wait = self._wait
        while self._got < self._length:
            if len(self._buffer) <= self._got:
                self._grow()
            view = memoryview(self._buffer)[self._got : self._length]
            room = len(view)
            count = self._recv(sock, view, wait)
            view.release()
            if count is None:
                return _WAIT
            if count == 0:
                return self._closed()
            self._got += count
            if wait and count < room and self._got < self._length:
                return _WAIT  # waited once without getting all: back to the caller's timers
        header = bytes(self._header)
        length = self._length
        self._header_got, self._length, self._got = 0, -1, 0
        return ReadResult("pdu", header, memoryview(self._buffer)[:length], header[0], length)

    def _grow(self) -> None:
        """Make room for more of the body: double the buffer, never past the PDU's length."""
        size = len(self._buffer)
        wanted = min(self._length, max(_FIRST_CHUNK, 2 * size))
        self._buffer.extend(bytes(wanted - size))

    def _closed(self) -> ReadResult:
        """The peer closed: report whether it was inside a PDU."""
        partial = self.partial
        self._reset()
        return ReadResult("closed", partial=partial)

    def _reset(self) -> None:
        """Ready for the next PDU (the body buffer is kept for reuse)."""
        self._header_got = 0
        self._length = -1
        self._got = 0
