"""Per-association settings of our transport (attached by tuning.tune_association)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tuipacs.dicom.transport.spool import StoreCallback

#: Receives the sub-operation counts of a pending C-GET/C-MOVE response (fast transport).
PendingCallback = Callable[[dict[str, int]], None]
#: Receives the raw identifier of a pending C-FIND response and whether it is Explicit VR
#: (fast transport).
FindCallback = Callable[[bytes, bool], None]


@dataclass
class LinkOptions:
    """What one association's transport needs to know, and what it notes.

    `spool`: where received C-STORE datasets are written (both transports). `store`,
    `pending`, `find`: callbacks of the fast paths (the stock transport delivers C-STOREs
    through pynetdicom's EVT_C_STORE instead, see tuning.store_handler, and leaves pending
    and C-FIND responses to pynetdicom). `send_stored`: the association's send_c_store
    streams archived files (fast transport, see stored_send). `request_timeout`
    (acceptors): seconds a new connection has to send its whole A-ASSOCIATE-RQ before it is
    closed (None: only the ARTIM timer).

    `last_activity` is when bytes last arrived (time.monotonic); `activity`, if set,
    returns when the operation last progressed elsewhere (a C-MOVE's images arrive on
    another association): a DIMSE wait times out on silence of both (see waits).
    """

    spool: Path | None = None
    store: StoreCallback | None = None
    pending: PendingCallback | None = None
    find: FindCallback | None = None
    send_stored: bool = False
    request_timeout: float | None = None
    last_activity: float = 0.0
    activity: Callable[[], float] | None = None
