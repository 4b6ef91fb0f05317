"""Presentation contexts of the archive server: what it accepts, and what it proposes to a
C-MOVE destination.

:class:`ContextChooser` builds, for each association request, the supported contexts the
caller may use (see :meth:`ContextChooser.contexts`); :func:`move_contexts` the contexts
proposed to a C-MOVE destination for the instances to send.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom.presentation import PresentationContext, build_context

from tuipacs.dicom.scp_access import QUERY, RETRIEVE, STORE
from tuipacs.dicom.scp_types import Root, StoredInstance
from tuipacs.dicom.storage import acceptor_storage_contexts

LOG = logging.getLogger(__name__)

VERIFICATION = "1.2.840.10008.1.1"
_STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."
_QR = "1.2.840.10008.5.1.4.1.2."
_QR_SYNTAXES: list[str | UID] = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
]
# Patient Root (2.1.x) and Study Root (2.2.x) information models: FIND .1, MOVE .2, GET .3
FIND_MODELS: dict[str, Root] = {_QR + "1.1": "patient", _QR + "2.1": "study"}
MOVE_MODELS: dict[str, Root] = {_QR + "1.2": "patient", _QR + "2.2": "study"}
GET_MODELS: dict[str, Root] = {_QR + "1.3": "patient", _QR + "2.3": "study"}
UNCOMPRESSED: list[str | UID] = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
#: Presentation contexts an association request may carry (PS3.8: IDs 1..255, odd).
MAX_CONTEXTS = 128


def service_of(abstract_syntax: str) -> str | None:
    """The access service an abstract syntax belongs to (None: verification)."""
    if abstract_syntax in FIND_MODELS:
        return QUERY
    if abstract_syntax in GET_MODELS or abstract_syntax in MOVE_MODELS:
        return RETRIEVE
    if abstract_syntax == VERIFICATION:
        return None
    return STORE


def _preference(firsts: list[UID], rest: list[UID]) -> list[str | UID]:
    """Syntax order of one SOP class: requestor first choices (non-native first), the rest."""
    native = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
    ordered = [ts for ts in firsts if ts not in native] + [ts for ts in firsts if ts in native]
    return [*ordered, *(ts for ts in rest if ts not in ordered)]


class ContextChooser:
    """The supported contexts of each association, from the contexts the server knows."""

    def __init__(self) -> None:
        """Build the templates: abstract syntax -> supported context (roles set so that
        C-GET role selection works)."""
        templates: dict[str, PresentationContext] = {}
        for cx in acceptor_storage_contexts():
            cx.scu_role = True
            cx.scp_role = True
            templates[str(cx.abstract_syntax)] = cx
        for uid in [VERIFICATION, *FIND_MODELS, *GET_MODELS, *MOVE_MODELS]:
            templates[str(uid)] = build_context(uid, _QR_SYNTAXES)
        self._templates = templates
        self._any_storage = templates[str(acceptor_storage_contexts()[0].abstract_syntax)]

    def contexts(
        self, proposed: list[PresentationContext], allowed: frozenset[str]
    ) -> list[PresentationContext]:
        """Supported contexts for this request, preferring what the requestor proposes first.

        pynetdicom keeps one supported context per SOP class and picks, for each proposed
        context, the first of its syntaxes that the proposal contains. The syntaxes the
        requestor lists first in any of its contexts come first (compressed ones before
        uncompressed), so a context [RLE, Explicit LE] gets RLE and images stay as sent.
        Storage contexts are also kept for callers allowed to retrieve (C-GET sends over
        them); unknown standard storage classes are accepted too.
        """
        ordered: dict[str, tuple[list[UID], list[UID]]] = {}
        for cx in proposed:
            abstract = str(cx.abstract_syntax)
            template = self._templates.get(abstract)
            if template is None and abstract.startswith(_STORAGE_PREFIX):
                template = self._any_storage
            service = service_of(abstract)
            usable = service is None or service in allowed
            if service == STORE:
                usable = bool(allowed & {STORE, RETRIEVE})
            if template is None or not usable:
                continue
            supported = set(template.transfer_syntax)
            offered = [UID(ts) for ts in cx.transfer_syntax if ts in supported]
            firsts, rest = ordered.setdefault(abstract, ([], []))
            if offered and offered[0] not in firsts:
                firsts.append(offered[0])
            rest.extend(ts for ts in offered[1:] if ts not in rest)
        contexts = []
        for abstract, (firsts, rest) in ordered.items():
            syntaxes = _preference(firsts, rest)
            context = build_context(abstract, syntaxes or [ExplicitVRLittleEndian])
            if service_of(abstract) == STORE:
                context.scu_role = True
                context.scp_role = True
            contexts.append(context)
        return contexts


def move_contexts(instances: Sequence[StoredInstance]) -> list[PresentationContext]:
    """Contexts to propose to a C-MOVE destination for these instances.

    Each SOP class gets an uncompressed context; each stored compressed (or otherwise
    special) syntax gets its own context, as far as the 128-context limit allows.
    """
    classes: dict[str, list[str]] = {}
    for instance in instances:
        syntaxes = classes.setdefault(instance.sop_class_uid, [])
        if instance.transfer_syntax_uid not in syntaxes:
            syntaxes.append(instance.transfer_syntax_uid)
    contexts = [build_context(sop_class, UNCOMPRESSED) for sop_class in classes]
    for sop_class, syntaxes in classes.items():
        for syntax in syntaxes:
            if syntax in UNCOMPRESSED:
                continue
            if len(contexts) >= MAX_CONTEXTS:
                LOG.warning("too many SOP class/syntax pairs: %s will be sent decompressed", syntax)
                break
            contexts.append(build_context(sop_class, [syntax]))
    return contexts[:MAX_CONTEXTS]
