"""The archive server's Query/Retrieve SCP: C-FIND, C-GET and C-MOVE over a Backend.

C-FIND (patient and study root, every level) answers pending responses from
``backend.find``; C-GET and C-MOVE (to the AE titles in ``destinations``; others get
0xA801) send ``backend.instances_for`` as C-STORE sub-operations (archived files, see
transport.sendable). Cancel is honoured between responses. Logs and the audit log carry
levels, counts and AE titles, never the values of the keys.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom.association import Association
from pynetdicom.presentation import build_context

from tuipacs.dicom.scp_access import QUERY, RETRIEVE
from tuipacs.dicom.scp_audit import ScpAudit
from tuipacs.dicom.scp_contexts import (
    FIND_MODELS,
    GET_MODELS,
    MOVE_MODELS,
    VERIFICATION,
    move_contexts,
)
from tuipacs.dicom.scp_session import Session, session_of
from tuipacs.dicom.scp_types import (
    STORE_NOT_AUTHORISED,
    Backend,
    IdentifierError,
    Root,
    StoredInstance,
    check_level,
)
from tuipacs.dicom.transport import sendable

LOG = logging.getLogger(__name__)

_CANCEL = 0xFE00
_PENDING = 0xFF00
_ID_MISMATCH = 0xA900
_UNABLE = 0xC000


class QueryRetrieveService:
    """C-FIND, C-GET and C-MOVE handlers of the archive server."""

    def __init__(
        self,
        backend: Backend,
        ae_title: str,
        destinations: Mapping[str, tuple[str, int]],
        audit: ScpAudit,
    ) -> None:
        """Serve from `backend` as `ae_title`; C-MOVE only to `destinations`."""
        self.backend = backend
        self.ae_title = ae_title
        self.destinations = destinations
        self._audit = audit

    def _request(
        self, event: Any, models: Mapping[str, Root], service: str
    ) -> tuple[Session, Root, Dataset] | int:
        """Access check and identifier of a Q/R request, or the failure status to answer."""
        info = session_of(event.assoc)
        if info is None or service not in info.allowed:
            return STORE_NOT_AUTHORISED
        root = models.get(str(event.request.AffectedSOPClassUID))
        if root is None:
            return _ID_MISMATCH
        try:
            identifier = event.identifier
        except Exception:  # noqa: BLE001 - an undecodable identifier
            LOG.warning("undecodable identifier from %s", info.peer)
            return _UNABLE
        return info, root, identifier

    def on_find(self, event: Any) -> Iterator[tuple[int, Dataset | None]]:
        """C-FIND: pending responses from backend.find, cancel honoured."""
        request = self._request(event, FIND_MODELS, QUERY)
        if isinstance(request, int):
            yield request, None
            return
        info, root, identifier = request
        started = time.monotonic()
        count = 0
        try:
            level = check_level(identifier, root)
            for match in self.backend.find(level, root, identifier):
                if event.is_cancelled:
                    LOG.info("C-FIND from %s cancelled after %d matches", info.peer, count)
                    yield _CANCEL, None
                    return
                self._fill_our_keys(match)
                count += 1
                yield _PENDING, match
        except IdentifierError as exc:
            LOG.warning("C-FIND from %s: %s", info.peer, exc)
            yield _ID_MISMATCH, None
            return
        except Exception:  # noqa: BLE001 - answered as a failure, logged
            LOG.exception("C-FIND from %s failed", info.peer)
            yield _UNABLE, None
            return
        self._audit.find(info.calling_ae, info.address, level, root, identifier, count)
        LOG.info(
            "C-FIND %s (%s root) from %s: %d matches in %.0f ms",
            level,
            root,
            info.peer,
            count,
            (time.monotonic() - started) * 1000,
        )

    def _fill_our_keys(self, match: Dataset) -> None:
        """Values only the SCP knows: where to retrieve from, availability."""
        if "RetrieveAETitle" in match:
            match.RetrieveAETitle = self.ae_title
        if "InstanceAvailability" in match:
            match.InstanceAvailability = "ONLINE"

    def _select(
        self, info: Session, root: Root, identifier: Dataset, what: str
    ) -> list[StoredInstance] | int:
        """Instances for a C-GET/C-MOVE, or the failure status to answer."""
        try:
            level = check_level(identifier, root)
            instances = self.backend.instances_for(level, root, identifier)
        except IdentifierError as exc:
            LOG.warning("%s from %s: %s", what, info.peer, exc)
            return _ID_MISMATCH
        except Exception:  # noqa: BLE001 - answered as a failure, logged
            LOG.exception("%s from %s failed", what, info.peer)
            return _UNABLE
        LOG.info("%s %s from %s: %d instances", what, level, info.peer, len(instances))
        kind, _, destination = what.partition(" to ")
        self._audit.retrieve(
            "move" if kind == "C-MOVE" else "get",
            info.calling_ae,
            info.address,
            (i.study_uid for i in instances),
            len(instances),
            destination,
        )
        return instances

    def _suboperations(
        self, event: Any, instances: list[StoredInstance], assoc: Association | None
    ) -> Iterator[tuple[int, Dataset | None]]:
        """(status, dataset) pairs for C-GET/C-MOVE sub-operations sent over `assoc` (None
        for a C-MOVE: pynetdicom opens that association; see transport.sendable)."""
        for instance in instances:
            if event.is_cancelled:
                yield _CANCEL, None
                return
            yield _PENDING, sendable(instance, assoc)

    def on_get(self, event: Any) -> Iterator[Any]:
        """C-GET: number of sub-operations, then one C-STORE per instance."""
        request = self._request(event, GET_MODELS, RETRIEVE)
        if isinstance(request, int):
            yield 1
            yield request, None
            return
        info, root, identifier = request
        selected = self._select(info, root, identifier, "C-GET")
        if isinstance(selected, int):
            yield 1
            yield selected, None
            return
        yield len(selected)
        yield from self._suboperations(event, selected, event.assoc)

    def on_move(self, event: Any) -> Iterator[Any]:
        """C-MOVE: destination, number of sub-operations, then the instances."""
        request = self._request(event, MOVE_MODELS, RETRIEVE)
        destination = str(event.move_destination or "").strip()
        if isinstance(request, int):
            yield None, None
            return
        info, root, identifier = request
        address = self.destinations.get(destination)
        if address is None:
            LOG.warning("C-MOVE from %s: unknown destination %r", info.peer, destination)
            yield None, None
            return
        selected = self._select(info, root, identifier, f"C-MOVE to {destination}")
        if isinstance(selected, int):
            yield address[0], address[1], {"contexts": [build_context(VERIFICATION)]}
            yield 1
            yield selected, None
            return
        yield address[0], address[1], {"contexts": move_contexts(selected) or None}
        yield len(selected)
        yield from self._suboperations(event, selected, None)
