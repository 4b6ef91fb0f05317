"""pynetdicom's own C-STORE receive (``STORE_RECV_CHUNKED_DATASET``), made safe.

pynetdicom writes the dataset of a received C-STORE, as it arrives, after a Part-10
preamble and File Meta, to a ``NamedTemporaryFile`` and gives the handler its path
(``event.dataset_path``); it deletes the file after the handler returns unless the
handler moved it. This is the only C-STORE receive of the stock transport, and the fast
transport's fallback. Two things are changed (safety, both transports):

* the file is created in the association's spool folder (:func:`set_spool`), removed with
  the folder, so that a file left half written by a dropped connection is cleaned up;
* the Study and Series Instance UIDs are read from the first bytes of the file, as the fast
  path reads them as the dataset arrives (:func:`store_request`);
* a dataset left half received when the association ends is removed (:func:`discard`);
* a write error (a full disk) no longer escapes into pynetdicom's state machine, which
  would stop the association's DUL and drop the connection without an answer: the file
  (a :class:`SpoolFile`) notes the error, removes itself and discards the rest of the
  dataset; the C-STORE completes, :func:`store_request` reports the error and the handler
  answers a failure status (0xA700, see :func:`store_handler`): the sender goes on.
"""

from __future__ import annotations

import logging
import struct
import threading
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from pynetdicom import dimse_messages
from pynetdicom.association import Association
from pynetdicom.dul import DULServiceProvider

from tuipacs.dicom.transport.codec import header_uids
from tuipacs.dicom.transport.spool import (
    StoreCallback,
    StoreRequest,
    detached,
    disk_full,
    unlink_quietly,
)

LOG = logging.getLogger(__name__)

_SPOOL_ATTR = "_tuipacs_spool"
_real_named_temporary_file = dimse_messages.NamedTemporaryFile
_installed = False
_lock = threading.Lock()
#: Status answered when a handler fails (as the fast path does).
_CANNOT_UNDERSTAND = 0xC000
#: Bytes read from the start of a received file to find its Study/Series UIDs (as the fast
#: path: 64 KiB of dataset, and the file meta before it).
_HEAD_READ = 65536 + 4096


class SpoolFile:
    """The file pynetdicom writes a received dataset to; it remembers a write error."""

    def __init__(self, handle: Any, name: str = "", error: OSError | None = None) -> None:
        """Wrap an open NamedTemporaryFile (pynetdicom only writes, flushes and closes), or
        stand for one that could not be created (`error`, and the `name` it would have)."""
        self._handle = handle
        self.name: str = handle.name if handle is not None else name
        #: The OSError that stopped writing (the file is gone then), else None.
        self.error: OSError | None = error

    @property
    def file(self) -> SpoolFile:
        """pynetdicom flushes through ``.file``: the same object."""
        return self

    def write(self, data: Any) -> int:
        """Write, or after an error discard, a fragment (never raises)."""
        if self.error is None:
            try:
                return int(self._handle.write(data))
            except OSError as exc:
                self._failed(exc)
        return len(data)

    def flush(self) -> None:
        """Flush (an error is noted, never raised)."""
        if self.error is None:
            try:
                self._handle.flush()
            except OSError as exc:
                self._failed(exc)

    def close(self) -> None:
        """Close the file (an error is noted, never raised)."""
        if self._handle is None:
            return
        try:
            self._handle.close()
        except OSError as exc:
            if self.error is None:
                self._failed(exc)

    def discard(self) -> None:
        """Close and remove the file (a dataset that will never be complete)."""
        self.close()
        unlink_quietly(Path(self.name))

    def _failed(self, exc: OSError) -> None:
        """Note the error, close and remove the file: the rest of the dataset is dropped."""
        self.error = detached(exc)
        what = "the disk is full" if disk_full(exc) else (exc.strerror or str(exc))
        # INFO: the store handler is told (StoreRequest.error) and reports it its way
        LOG.info("cannot write a received C-STORE to %s (%s): discarding it", self.name, what)
        if self._handle is not None:
            with suppress(OSError):
                self._handle.close()  # flushing what is buffered may fail once more
        unlink_quietly(Path(self.name))


def _spool_temporary_file(*args: Any, **kwargs: Any) -> Any:
    """pynetdicom's NamedTemporaryFile, in the spool folder of one of our associations.

    pynetdicom calls this from the DUL thread of the association receiving a C-STORE;
    other associations (not ours) get the plain temporary file.
    """
    thread = threading.current_thread()
    if not isinstance(thread, DULServiceProvider) or not hasattr(thread.assoc, _SPOOL_ATTR):
        return _real_named_temporary_file(*args, **kwargs)
    spool = getattr(thread.assoc, _SPOOL_ATTR)
    if spool is not None:
        kwargs["dir"] = str(spool)
        kwargs.setdefault("prefix", "recv-")
    try:
        return SpoolFile(_real_named_temporary_file(*args, **kwargs))
    except OSError as exc:  # the dataset is discarded and answered 0xA700, as a full disk
        name = str(Path(str(spool or ".")) / f"recv-unwritable-{uuid.uuid4().hex}.dcm")
        what = "the disk is full" if disk_full(exc) else (exc.strerror or str(exc))
        LOG.info("cannot create a file for a received C-STORE in %s (%s)", spool, what)
        return SpoolFile(None, name, detached(exc))


def install() -> None:
    """Give pynetdicom's chunked receive our spool files (process-wide, idempotent)."""
    global _installed
    with _lock:
        if not _installed:
            dimse_messages.NamedTemporaryFile = _spool_temporary_file
            _installed = True


def set_spool(assoc: Association, spool: Path | None) -> None:
    """Received datasets of `assoc` go to `spool` (None: the temporary folder)."""
    setattr(assoc, _SPOOL_ATTR, spool)


def discard(assoc: Association) -> None:
    """Remove the spool file of a C-STORE `assoc` was receiving (call when its DUL ended)."""
    message = getattr(assoc.dimse, "message", None)
    handle = getattr(message, "_data_set_file", None)
    if isinstance(handle, SpoolFile):
        handle.discard()


def _header_uids(path: Path, syntax: str) -> tuple[str, str] | None:
    """Study and Series Instance UIDs from the first bytes of a received Part-10 file."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_READ)
    except OSError:
        return None
    # preamble, DICM, then (0002,0000) UL: the length of the rest of the file meta
    if len(head) < 144 or head[128:136] != b"DICM\x02\x00\x00\x00":
        return None
    start = 144 + struct.unpack_from("<L", head, 140)[0]
    return header_uids(head[start:], syntax) if start < len(head) else None


def store_request(event: Any) -> StoreRequest:
    """The StoreRequest of a C-STORE received by pynetdicom (an EVT_C_STORE event).

    `error` is set when the dataset could not be written (the file is gone then). The
    Study/Series UIDs come from the file's first bytes when it is Little Endian.
    """
    request = event.request
    handle = getattr(request, "_dataset_file", None)
    error = handle.error if isinstance(handle, SpoolFile) else None
    path = Path(event.dataset_path)
    syntax = str(event.context.transfer_syntax)
    uids = _header_uids(path, syntax) if error is None else None
    return StoreRequest(
        path=path,
        size=path.stat().st_size if error is None else 0,
        sop_class_uid=str(request.AffectedSOPClassUID or ""),
        sop_instance_uid=str(request.AffectedSOPInstanceUID or ""),
        transfer_syntax_uid=syntax,
        calling_ae=str(event.assoc.requestor.ae_title or "").strip(),
        move_originator_ae=str(request.MoveOriginatorApplicationEntityTitle or "").strip(),
        move_originator_id=request.MoveOriginatorMessageID,
        study_uid=uids[0] if uids else None,
        series_uid=uids[1] if uids else None,
        error=error,
    )


def store_handler(callback: StoreCallback) -> Callable[[Any], int]:
    """An EVT_C_STORE handler that gives each received C-STORE to `callback` (its status
    is the answer; a failing callback answers 0xC000, as on the fast path)."""

    def handle(event: Any) -> int:
        try:
            return int(callback(store_request(event)))
        except Exception:  # noqa: BLE001 - the peer gets a failure status instead
            LOG.exception("store callback failed")
            return _CANNOT_UNDERSTAND

    return handle
