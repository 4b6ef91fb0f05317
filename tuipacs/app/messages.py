"""Messages between workers, screens and widgets, with typed fields.

Results are named in the past tense (``StudiesFound``), requests in the imperative
(``ShowStudy``). Workers only ever post these; they never touch widgets. The types of the
pixel pipeline and the DICOM client are imported for type checking only, so that the app
starts without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from tuipacs.store.query import SeriesRow, StudyRow

if TYPE_CHECKING:
    import numpy as np
    from pydicom.dataset import Dataset

    from tuipacs.app.widgets.remote_panel import RemoteStudy
    from tuipacs.remote import RetrieveProgress, RetrieveResult
    from tuipacs.view.frames import Frame, ImageRef
    from tuipacs.view.info import FrameInfo
    from tuipacs.view.priors import Candidate
    from tuipacs.view.render import Rendered, RenderRequest
    from tuipacs.view.sync import StackPlanes


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
    array: np.ndarray | None
    reason: str = ""


@dataclass
class LoadFailed(Message):
    """Listing or reading something failed; ``message`` is one line for the user."""

    what: str
    message: str
    pane: int = 0
    """The viewer's viewport it concerns (0 elsewhere)."""


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
    planes: StackPlanes | None = None
    pane: int = 0


@dataclass
class SeriesOpened(Message):
    """The images of a series were listed, in display order, for the viewer's request
    number ``seq`` (an answer to an older request is dropped)."""

    series_uid: str
    images: list[ImageRef]
    seq: int = 0
    planes: StackPlanes | None = None
    """The plane of each image (synchronised scrolling and cross-reference lines)."""
    pane: int = 0
    """The viewport whose loader listed them."""


@dataclass
class FrameRendered(Message):
    """A frame was windowed and is ready to display: the answer to ``request`` (older
    answers are dropped), with the decoded ``frame`` and the ``rendered`` array."""

    request: RenderRequest
    frame: Frame
    rendered: Rendered
    pane: int = 0


@dataclass
class FrameFailed(Message):
    """A frame could not be shown (missing file, undecodable pixel data).

    ``info`` is what its header still says, None when even the header is unreadable.
    """

    seq: int
    index: int
    message: str
    info: FrameInfo | None = None
    pane: int = 0


@dataclass
class DatasetLoaded(Message):
    """The header of an image was read for the tag browser."""

    dataset: Dataset


@dataclass
class RemoteStudiesFound(Message):
    """A query on a remote node answered with these studies."""

    node: str
    rows: list[RemoteStudy]


@dataclass
class RemoteQueryFailed(Message):
    """A remote query failed; ``message`` is one line for the user."""

    message: str


@dataclass
class RetrieveProgressed(Message):
    """A retrieve made progress."""

    study_uid: str
    progress: RetrieveProgress


@dataclass
class RetrieveFinished(Message):
    """A retrieve ended."""

    summary: RetrieveResult


@dataclass
class StudyArrived(Message):
    """The archive server stored an instance of ``study_uid`` (posted from its thread)."""

    study_uid: str


@dataclass
class PriorsFound(Message):
    """Studies of the open study's patient were found ``where`` ("here" or "node");
    ``current`` is the open study as a candidate (with the local answer); ``error`` is one
    line when the search failed."""

    study_uid: str
    where: str
    candidates: list[Candidate]
    current: Candidate | None = None
    error: str = ""


@dataclass
class ShowPrior(Message):
    """Show the study ``study_uid`` (in the archive) for comparison with the open one."""

    study_uid: str
