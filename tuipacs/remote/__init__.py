"""The client seam: one interface to remote archives for the command line and the TUI.

:class:`~tuipacs.remote.client.PacsClient` is what callers use (echo, find at each level,
retrieve into the archive with progress and cancel, send, check); :func:`client_for` picks the
implementation for a node and binds it to the local archive. Modules:

* ``client``: the protocol and its callback types;
* ``results``: the typed results (each with ``to_json()``) and errors;
* ``dimse``: the DIMSE implementation over :mod:`tuipacs.dicom`;
* ``dicomweb``: the DICOMweb implementation over :mod:`tuipacs.dicomweb` (nodes with a
  ``url``, :mod:`tuipacs.remote.web_node`).

Nothing here imports Textual, and pydicom/pynetdicom load only when a client first talks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from tuipacs.dicom.errors import NodeError
from tuipacs.remote.client import PacsClient, ProgressCallback, SendProgressCallback
from tuipacs.remote.results import (
    CheckStep,
    EchoResult,
    Level,
    QueryInvalid,
    QueryRow,
    RemoteError,
    RemoteNetError,
    RetrieveProgress,
    RetrieveResult,
    Root,
    SendResult,
)

if TYPE_CHECKING:
    from tuipacs.audit import AuditLog
    from tuipacs.config import Config
    from tuipacs.dicom.nodes import LocalAE, Method
    from tuipacs.remote.web_node import AnyNode
    from tuipacs.store.archive import Archive

__all__ = [
    "CheckStep",
    "ClientFactory",
    "EchoResult",
    "Level",
    "PacsClient",
    "ProgressCallback",
    "QueryInvalid",
    "QueryRow",
    "RemoteError",
    "RemoteNetError",
    "RetrieveProgress",
    "RetrieveResult",
    "Root",
    "SendProgressCallback",
    "SendResult",
    "client_for",
    "config_clients",
]

ClientFactory = Callable[[str], PacsClient]
"""A client for a configured node name or an ``AE@host:port`` spec (RemoteError if neither):
what the TUI is given when it is built."""


def client_for(
    node: AnyNode,
    local: LocalAE,
    archive: Archive | None = None,
    *,
    audit: AuditLog | None = None,
    method: Method | None = None,
) -> PacsClient:
    """The client for ``node`` (DIMSE, or DICOMweb for a node with a URL), bound to
    ``archive``.

    ``archive`` is needed only to retrieve; ``audit`` (None: none) gets a line per retrieve
    and send; ``method`` overrides a DIMSE node's retrieve method ("get" or "move"):
    RemoteError for a DICOMweb node, which retrieves by WADO-RS only.
    """
    from tuipacs.remote.dimse import DimseClient
    from tuipacs.remote.web_node import WebNode

    if isinstance(node, WebNode):
        from tuipacs.remote.dicomweb import DicomWebClient

        if method is not None:
            raise RemoteError(
                f"node {node.name} is a DICOMweb node: it retrieves by WADO-RS, "
                "--method get/move applies to DIMSE nodes only"
            )
        return DicomWebClient(node, archive, audit=audit)

    return DimseClient(node, local, archive, audit=audit, method=method)


def config_clients(cfg: Config, archive: Archive) -> ClientFactory:
    """Clients for the nodes of ``cfg`` (or ``AE@host:port``), retrieving into ``archive``
    (files spooled in its tmp/ folder) and writing its audit log as ``cfg`` says."""
    from tuipacs.audit import AuditLog

    local = replace(cfg.local_ae(), spool_dir=archive.root / "tmp")
    audit = AuditLog.for_archive(archive.root, cfg.audit)

    def factory(name_or_spec: str) -> PacsClient:
        try:
            node = cfg.node(name_or_spec)
        except NodeError as exc:
            raise RemoteError(str(exc)) from exc
        return client_for(node, local, archive, audit=audit)

    return factory
