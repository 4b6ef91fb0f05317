"""The imaging pipeline's own error type: one line a user can read and act on."""

from __future__ import annotations


class ImagingError(Exception):
    """A file or frame that cannot be shown; ``str()`` is a one-line message.

    Raised for bad input (missing file, not DICOM, truncated, no pixel data,
    frame out of range, undecodable or unsupported pixel data). The UI shows
    ``str(error)``; the CLI prints it after ``tuipacs: error:`` and exits 1.
    """

    def __init__(self, message: str, reason: str = "") -> None:
        line = " ".join(message.split()) or "the image cannot be displayed"
        super().__init__(line)
        self.reason = " ".join(reason.split()) or line
        """What is wrong without naming the file (for a place that shows which file it is,
        such as a thumbnail tile or the viewer); the whole message when not given."""

    @property
    def message(self) -> str:
        """The one-line message."""
        return str(self)


class NotDicomError(ImagingError):
    """The file is missing, unreadable or not a DICOM file."""


class NoPixelDataError(ImagingError):
    """The DICOM object has no image (no Pixel Data element)."""


class FrameRangeError(ImagingError):
    """A frame number outside 1..NumberOfFrames was requested."""


class DecodeError(ImagingError):
    """The pixel data of a frame is corrupt, truncated or in an unsupported encoding."""


def short_reason(exc: BaseException, limit: int = 160) -> str:
    """First meaningful line of an exception's message, trimmed to ``limit`` characters."""
    text = str(exc).strip()
    lines = [line.strip(" :") for line in text.splitlines() if line.strip(" :")]
    reason = " ".join(lines[:2]) if lines else type(exc).__name__
    if len(reason) > limit:
        reason = reason[: limit - 3].rstrip() + "..."
    return reason


def is_fatal(exc: BaseException) -> bool:
    """True for what must stop the program (Ctrl-C, exit), not become an error line.

    Everything else a decoder raises is an error to report, including BaseExceptions
    such as ``pyo3_runtime.PanicException`` (a Rust decoder's panic).
    """
    return isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit)
