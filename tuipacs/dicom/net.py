"""Opening and closing associations: associate(), association(), close(), spool folders.

The transport underneath (sockets, DUL, bounds, waits) is tuipacs.dicom.transport; the
errors of a failed attempt are worded in tuipacs.dicom.assoc_errors.
"""

from __future__ import annotations

import logging
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext

from tuipacs.dicom import tls
from tuipacs.dicom.assoc_errors import association_error, connect_error
from tuipacs.dicom.errors import NodeUnreachable
from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.transport import (
    FindCallback,
    PendingCallback,
    StoreCallback,
    TunedAE,
    abort,
    store_handler,
)

__all__ = ["abort"]  # re-exported: callers abort through net

LOG = logging.getLogger(__name__)


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

    `store` receives every C-STORE the peer sends (C-GET), on either transport. On the fast
    transport `pending`/`find` receive pending C-GET/C-MOVE responses and pending C-FIND
    identifiers as they arrive (see tuipacs.dicom.transport.fastpath); on the stock
    transport those go through pynetdicom's send_c_get/send_c_find as usual.
    """
    ae = make_ae(local, node, spool, store, pending, find)
    handlers_: list[Any] = list(handlers or [])
    if store is not None:  # pynetdicom's own C-STORE receive (stock transport, or fallback)
        handlers_.append((evt.EVT_C_STORE, store_handler(store)))
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
            evt_handlers=handlers_,
            tls_args=tls_args,
        )
    except socket.gaierror as exc:
        raise connect_error(node, exc) from None
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
