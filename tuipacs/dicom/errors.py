"""Error types of the DICOM layer: one-line messages that say what to do."""

from __future__ import annotations


class DicomError(Exception):
    """Base class of every error raised by tuipacs.dicom."""

    def __init__(self, message: str) -> None:
        """Store the one-line message."""
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        """The one-line message."""
        return self.message


class NodeError(DicomError, ValueError):
    """A node definition or node spec is invalid (config or command line)."""


class DicomNetError(DicomError):
    """A network operation with a DICOM peer failed."""


class NodeUnreachable(DicomNetError):
    """No TCP connection: refused, unknown host, no route."""


class PeerNotDicom(DicomNetError):
    """Something listens at the node's address, but it is not a DICOM service (HTTP, TLS...)."""


class NetTimeout(DicomNetError):
    """The peer did not answer in time (connect, association, DIMSE or network)."""


class AssociationRejected(DicomNetError):
    """The peer rejected our association request (A-ASSOCIATE-RJ)."""

    def __init__(self, message: str, result: int = 0, source: int = 0, reason: int = 0) -> None:
        """Keep the A-ASSOCIATE-RJ result, source and reason for diagnosis."""
        super().__init__(message)
        self.result = result
        self.source = source
        self.reason = reason


class AssociationAborted(DicomNetError):
    """The association was aborted or the connection dropped."""


class ServiceNotAccepted(DicomNetError):
    """The peer accepted the association but none of the services we need."""


class ServiceFailed(DicomNetError):
    """A DIMSE request ended with a failure status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        """Keep the DIMSE status code (None when there was no response)."""
        super().__init__(message)
        self.status = status


class MoveDestinationUnknown(ServiceFailed):
    """C-MOVE status 0xA801: the archive does not know our AE title."""


class ReceiverError(DicomNetError):
    """Our own Storage SCP (C-MOVE receiver) could not start."""


class QueryError(DicomError, ValueError):
    """A query (level, root or keys) is invalid before anything is sent."""
