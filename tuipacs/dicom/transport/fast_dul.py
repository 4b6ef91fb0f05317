"""The fast transport's DUL (speed): a reactor waiting in select(), with fast routes.

pynetdicom's reactor (kept by :class:`~tuipacs.dicom.transport.safe_dul.SafeDUL`, the
stock transport) polls: it sleeps its loop delay whenever nothing happened, so each
request and each response waits for the next turn. :class:`FastDUL` keeps SafeDUL's
bounded reading, guard and notes, and changes two things:

* the reactor waits in ``select()`` on the socket and on a wake-up socket written by
  every outgoing primitive, instead of sleeping and polling (at most _WAIT_MAX, so that
  the timers and kill still fire on time);
* P-DATA-TF PDUs in state Sta6 go through the
  :class:`~tuipacs.dicom.transport.fastpath.FastRouter`: C-STOREs are written straight
  to a spool file and answered here, pending C-GET/C-MOVE and C-FIND responses go to
  callbacks (see that module).
"""

from __future__ import annotations

import queue
import select
import socket
import ssl
import time
from typing import Any

from tuipacs.dicom.transport.fastpath import FastRouter
from tuipacs.dicom.transport.guard import MessageGuard
from tuipacs.dicom.transport.options import LinkOptions
from tuipacs.dicom.transport.safe_dul import SafeDUL
from tuipacs.dicom.transport.safe_dul import install as install_safe

_WAIT_MAX = 0.005  # longest select() wait, bounds timer and kill latency


class _WakingQueue(queue.Queue):
    """The DUL's to_provider_queue: every put() wakes the reactor's select()."""

    def __init__(self, waker: socket.socket) -> None:
        """Wrap a queue around the writing end of the reactor's wake-up socket pair."""
        super().__init__()
        self._waker = waker

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Queue the primitive and wake the reactor."""
        super().put(item, block, timeout)
        try:
            self._waker.send(b"\x00")
        except OSError:
            pass  # full (already awake) or closed (reactor gone)


class FastDUL(SafeDUL):
    """SafeDUL with a select()-driven reactor and the fast routes.

    Never instantiated directly: :func:`install` switches an existing (not started)
    DUL to this class.
    """

    _wake_r: socket.socket
    _wake_w: socket.socket

    def _install(self, options: LinkOptions) -> None:
        """Add our state and the wake-up socket pair (called before the DUL starts)."""
        super()._install(options)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.to_provider_queue = _WakingQueue(self._wake_w)

    def _make_router(self, options: LinkOptions) -> MessageGuard:
        """The guard with the fast routes."""
        return FastRouter(self, options)

    def _ended(self) -> None:
        """Close the wake-up socket pair."""
        self._wake_r.close()
        self._wake_w.close()

    def _wait(self) -> None:
        """Block until the socket is readable, a primitive is queued, or _WAIT_MAX."""
        readers: list[Any] = [self._wake_r]
        sock = getattr(self.socket, "socket", None)
        if sock is not None and sock.fileno() >= 0:
            # TLS: bytes already decrypted wait in the SSL buffer, where select() on the
            # descriptor cannot see them; read them before waiting for more.
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                return
            readers.append(sock)
        try:
            ready, _, _ = select.select(readers, [], [], _WAIT_MAX)
        except (OSError, ValueError):
            time.sleep(0.0005)
            return
        if self._wake_r in ready:
            try:
                while self._wake_r.recv(4096):
                    pass
            except OSError:
                pass

    def _loop(self) -> None:
        """The DUL loop of pynetdicom, waiting in select() instead of sleeping."""
        self._idle_timer.start()
        idle = False
        while True:
            if not self.assoc._dul_ready.is_set():
                self.assoc._dul_ready.set()
            if idle:
                self._wait()
            if self._kill_thread:
                break
            if self.artim_timer.expired:
                self.event_queue.put("Evt18")
            try:
                if self._process_recv_primitive():
                    pass
                elif self._is_transport_event():
                    self._idle_timer.restart()
            except Exception as exc:  # noqa: BLE001 - same policy as pynetdicom
                self._fail(exc)
                return
            try:
                event = self.event_queue.get(block=False)
            except queue.Empty:
                idle = True
                continue
            self.state_machine.do_action(event)
            idle = False


def install(dul: Any, options: LinkOptions) -> None:
    """Switch a not-yet-started DUL to FastDUL with these options."""
    install_safe(dul, options, FastDUL)
