"""The archive server (``tuipacs serve``): the SCPs of tuipacs.dicom over the local archive.

Modules:

* ``server``: :class:`ArchiveServer` (start/stop in the background, as the TUI's ``--serve``
  runs it), :func:`serve` (the foreground command), exposure checks, logging set-up;
* ``backend``: what the SCP asks of the archive (store, find, the instances to send) and
  the C-STORE statuses;
* ``inbox``: received files that are durable but not yet indexed, indexed in batches;
* ``records``: the index record of a received file, read without pydicom when that is safe;
* ``qr``: C-FIND matching and C-GET/C-MOVE selection over the archive index.

The store (:mod:`tuipacs.store`) knows nothing of the server or of DICOM networking.
"""

from tuipacs.server.server import (
    ArchiveServer,
    ServerError,
    check_exposure,
    configure_logging,
    is_loopback,
    serve,
)

__all__ = [
    "ArchiveServer",
    "ServerError",
    "check_exposure",
    "configure_logging",
    "is_loopback",
    "serve",
]
