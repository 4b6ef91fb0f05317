"""Our C-MOVE receiver: one Storage SCP shared by retrieves, routing each file to its own."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Sequence
from pathlib import Path

from tuipacs.dicom.nodes import LocalAE
from tuipacs.dicom.storage import ReceivedInstance, StorageServer, StoreHandler
from tuipacs.dicom.transport import StoreRequest


class MoveReceiver:
    """Our Storage SCP for C-MOVE, shared by retrieves: routes files by SOP Instance UID.

    Each retrieve registers a StoreHandler with the UIDs it expects; a file nobody
    expects goes to the only registered handler, else to `default` (if any), else it
    is refused (0xA700).
    """

    def __init__(
        self,
        local: LocalAE,
        default: StoreHandler | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Describe the receiver; start() listens on local.bind_host:local.port (TLS only
        with an ssl_context: for nodes with tls = true)."""
        self.local = local
        self.default = default
        self._routes: dict[str, StoreHandler] = {}
        self._studies: dict[str, StoreHandler] = {}
        self._handlers: list[StoreHandler] = []
        self._lock = threading.Lock()
        self._server = StorageServer(local, StoreHandler(self._refuse), ssl_context=ssl_context)
        self._server.handler = self  # type: ignore[assignment]

    def _refuse(self, path: Path, instance: ReceivedInstance) -> None:
        """Sink of last resort: nobody expects this instance."""
        raise OSError(f"no retrieve expects instance {instance.sop_instance_uid}")

    def start(self) -> MoveReceiver:
        """Start listening (ReceiverError if the port is taken)."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop listening and clean the spool folder."""
        self._server.stop()

    @property
    def port(self) -> int:
        """The port actually bound."""
        return self._server.port

    def register(
        self, handler: StoreHandler, uids: Sequence[str], study_uids: Sequence[str] = ()
    ) -> None:
        """Route these SOP Instance UIDs, instances of these studies (and strays, if
        alone) to handler."""
        with self._lock:
            self._handlers.append(handler)
            for uid in uids:
                self._routes[uid] = handler
            for uid in study_uids:
                self._studies[uid] = handler

    def unregister(self, handler: StoreHandler) -> None:
        """Forget a retrieve's routes."""
        with self._lock:
            self._handlers = [h for h in self._handlers if h is not handler]
            self._routes = {k: v for k, v in self._routes.items() if v is not handler}
            self._studies = {k: v for k, v in self._studies.items() if v is not handler}

    def _route(self, sop_uid: str, study_uid: str | None = None) -> StoreHandler | None:
        """The handler for an incoming instance (by SOP Instance UID, then study)."""
        with self._lock:
            handler = self._routes.get(sop_uid)
            if handler is None and study_uid:
                handler = self._studies.get(study_uid)
            if handler is None and len(self._handlers) == 1:
                handler = self._handlers[0]
        return handler or self.default

    def store(self, request: StoreRequest) -> int:
        """Store callback (the transport's, see StorageServer): route then store."""
        handler = self._route(request.sop_instance_uid, request.study_uid)
        if handler is None:
            return 0xA700
        return handler.store(request)
