"""Cheap copies of presentation contexts (speed, for servers with many contexts).

pynetdicom deep-copies a server's supported contexts for every association it accepts
(~40 ms for all storage classes with all transfer syntaxes); copying the attributes
directly takes well under 1 ms. :class:`SharedContexts` is used by servers on the fast
transport (see tuning.make_server); :func:`copy_context` by anyone who hands out copies of
a context list built once.
"""

from __future__ import annotations

import copy
from typing import Any

from pynetdicom.presentation import PresentationContext


def copy_context(context: PresentationContext) -> PresentationContext:
    """A copy of a context that shares nothing mutable with it (no UID re-validation)."""
    clone = copy.copy(context)
    clone._transfer_syntax = list(context._transfer_syntax)
    return clone


class SharedContexts(list[PresentationContext]):
    """A server's supported contexts, copied cheaply for each accepted association."""

    def __deepcopy__(self, memo: dict[int, Any]) -> list[PresentationContext]:
        """Copies of the contexts, without pydicom's UID re-validation."""
        return [copy_context(context) for context in self]
