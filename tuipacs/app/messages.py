"""Messages between workers, screens and widgets.

Results are named in the past tense (``StudiesFound``), requests in the imperative
(``ShowStudy``). Workers only ever post these; they never touch widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

from tuipacs.store.query import SeriesRow, StudyRow

if TYPE_CHECKING:
    from tuipacs.view.frames import ImageRef
    from tuipacs.view.info import FrameInfo


@dataclass
class StudiesFound(Message):
    """The studies of the archive were listed."""

    rows: list[StudyRow]


@dataclass
class SeriesFound(Message):
    """The series of one study were listed."""

    study_uid: str
    rows: list[SeriesRow]


@dataclass
class ThumbnailMade(Message):
    """The thumbnail of a series of ``images`` images was made: ``array`` (uint8, square
    pixels), or ``None`` and a one-line ``reason`` when there is nothing to show (a report,
    a broken file)."""

    study_uid: str
    series_uid: str
    images: int
    array: Any
    reason: str = ""


@dataclass
class LoadFailed(Message):
    """Listing or reading something failed; ``message`` is one line for the user."""

    what: str
    message: str


@dataclass
class ShowStudy(Message):
    """Open a study in the viewer, at ``series_uid`` (the first series when empty)."""

    study: StudyRow
    series_uid: str = ""


@dataclass
class ShowSeries(Message):
    """Open the highlighted study at this series (a thumbnail was clicked)."""

    series_uid: str


@dataclass
class OpenSeries(Message):
    """Show series number ``index`` (0-based, in the study's series order) in the viewer."""

    index: int


@dataclass
class SeriesGrew(Message):
    """More images of the open series landed in the archive (progressive viewing)."""

    series_uid: str
    images: list[ImageRef]
    seq: int


@dataclass
class SeriesOpened(Message):
    """The images of a series were listed, in display order."""

    series_uid: str
    images: list[ImageRef]
    cine_rate: float | None = None


@dataclass
class FrameRendered(Message):
    """A frame was windowed and is ready to display.

    ``request`` is the sequence number of the render request it answers; older answers are
    dropped. ``info`` is what the overlays show for this image.
    """

    request: int
    index: int
    array: Any
    aspect: float
    preview: bool
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class FrameFailed(Message):
    """A frame could not be shown (missing file, undecodable pixel data).

    ``info`` is what its header still says, None when even the header is unreadable.
    """

    request: int
    index: int
    message: str
    info: FrameInfo | None = None


@dataclass
class DatasetLoaded(Message):
    """The header of an image was read for the tag browser."""

    dataset: Any


@dataclass
class RemoteStudiesFound(Message):
    """A C-FIND on a remote node answered; ``rows`` are {keyword: text} dicts."""

    node: str
    rows: list[dict[str, str]]


@dataclass
class RemoteQueryFailed(Message):
    """A remote query failed; ``message`` is one line for the user."""

    message: str


@dataclass
class RetrieveProgressed(Message):
    """A retrieve made progress (``progress`` is a RetrieveProgress)."""

    study_uid: str
    progress: Any


@dataclass
class RetrieveFinished(Message):
    """A retrieve ended (``summary`` is a RetrieveSummary)."""

    summary: Any


@dataclass
class StudyArrived(Message):
    """The archive server stored an instance of ``study_uid`` (posted from its thread)."""

    study_uid: str
