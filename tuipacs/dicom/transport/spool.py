"""A message being received by the guard or the fast path, and a C-STORE's spool file.

On the fast path the dataset of a C-STORE is written undecoded, as it arrives, after a
Part-10 preamble and File Meta, to a file in the association's spool folder; the store
callback then gets a :class:`StoreRequest` (so does pynetdicom's own receive, see
chunked). Writing may fail (a full disk): the file is removed, the rest of the dataset
discarded and the callback told (``StoreRequest.error``) so that it answers a failure
status (0xA700) and the association goes on.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pynetdicom.association import Association

from tuipacs.dicom.transport.codec import file_preamble, header_uids, text_value, us

LOG = logging.getLogger(__name__)

#: Most dataset bytes kept while looking for the Study/Series UIDs of a C-STORE.
_HEAD_MAX = 65536
_counter = itertools.count()


@dataclass
class StoreRequest:
    """A received C-STORE for the store callback, complete on disk unless `error` is set.

    `error` is the OSError that stopped writing the spool file (a full disk, say): the
    file is gone and the callback only reports it (and answers e.g. 0xA700).
    """

    path: Path
    size: int
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    calling_ae: str
    move_originator_ae: str
    move_originator_id: int | None
    study_uid: str | None = None
    series_uid: str | None = None
    error: OSError | None = None


#: Returns the C-STORE status to answer (0x0000 success).
StoreCallback = Callable[[StoreRequest], int]


def detached(exc: OSError) -> OSError:
    """`exc` without its traceback, to be kept after the handler that caught it.

    A traceback keeps the frames of the reactor alive, and with them views of the PDU
    reader's receive buffer, which then cannot grow for the next PDU (BufferError).
    """
    exc.__traceback__ = None
    exc.__context__ = None
    return exc


def disk_full(exc: BaseException | None) -> bool:
    """True if `exc` (or what caused it) says the disk or the quota is full."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class Incoming:
    """A message being received by the guard (``refused``, ``foreign``) or the fast path.

    ``store``: a C-STORE with an open spool file (`handle`, `path`), keeping its first
    dataset bytes in `head` until the Study/Series UIDs are found; ``find``: a C-FIND
    identifier (`head` holds it); ``refused``: a message whose dataset is discarded and
    answered with `status`; ``foreign``: a message for pynetdicom, kept until complete
    (`command` holds its raw command set).
    """

    def __init__(
        self,
        kind: Literal["store", "find", "refused", "foreign"],
        cmd: dict[int, bytes],
        context_id: int,
        command: bytes = b"",
    ) -> None:
        """Remember the message's command set."""
        self.kind = kind
        self.cmd = cmd
        self.context_id = context_id
        self.command = command
        self.handle: Any = None
        self.path: Path | None = None
        self.size = 0
        self.head: bytearray | None = bytearray()
        self.uids: tuple[str, str] | None = None
        self.status = 0
        self.error: OSError | None = None
        self.syntax = ""  # of a C-STORE: the transfer syntax of its context

    # -- C-STORE spool file

    def open_spool(self, spool: Path | None, preamble: bytes) -> None:
        """Create the spool file and write the preamble and file meta (raises OSError)."""
        name = f"recv-{os.getpid()}-{threading.get_ident()}-{next(_counter)}.dcm"
        self.path = Path(spool if spool is not None else tempfile.gettempdir()) / name
        self.handle = open(self.path, "xb", buffering=0)  # noqa: SIM115 - closed in finish
        self.handle.write(preamble)
        self.size = len(preamble)

    def write(self, data: memoryview) -> None:
        """Append a dataset fragment (raises OSError); look for the Study/Series UIDs."""
        self.handle.write(data)
        self.size += len(data)
        if self.head is not None:
            self.head += data
            self.uids = header_uids(self.head, self.syntax)
            if self.uids is not None or len(self.head) >= _HEAD_MAX:
                self.head = None

    def close_spool(self) -> None:
        """Close the complete spool file (raises OSError)."""
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.close()

    def drop_spool(self) -> None:
        """Close and remove the spool file, if any."""
        handle, self.handle = self.handle, None
        if handle is not None:
            try:
                handle.close()
            except OSError:
                pass
        if self.path is not None:
            unlink_quietly(self.path)

    def refuse(self, status: int, error: OSError | None = None) -> None:
        """Discard the rest of this message; answer `status` at its end."""
        self.drop_spool()
        self.kind = "refused"
        self.status = status
        self.error = detached(error) if error is not None else None
        self.head = None

    def request(self, assoc: Association) -> StoreRequest:
        """The StoreRequest for the store callback."""
        cmd = self.cmd
        assert self.path is not None
        return StoreRequest(
            path=self.path,
            size=self.size,
            sop_class_uid=text_value(cmd, 0x0002),
            sop_instance_uid=text_value(cmd, 0x1000),
            transfer_syntax_uid=self.syntax,
            calling_ae=str(assoc.requestor.ae_title or "").strip(),
            move_originator_ae=text_value(cmd, 0x1030),
            move_originator_id=us(cmd, 0x1031),
            study_uid=self.uids[0] if self.uids else None,
            series_uid=self.uids[1] if self.uids else None,
            error=self.error,
        )


def preamble_for(assoc: Association, context_id: int, sop_class: str, sop_instance: str) -> bytes:
    """Preamble and File Meta of a dataset received on a context of `assoc`."""
    syntax = str(assoc._accepted_cx[context_id].transfer_syntax[0])
    peer = assoc.acceptor if assoc.is_requestor else assoc.requestor
    return file_preamble(sop_class, sop_instance, syntax, str(peer.ae_title or "").strip())


def unlink_quietly(path: Path) -> None:
    """Remove a file if it is still there (the sink may have moved it)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        LOG.debug("cannot remove %s: %s", path, exc)
