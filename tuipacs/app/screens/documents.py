"""Series that are documents, not images: Structured Reports open in the report screen
(:mod:`tuipacs.app.screens.sr`), Encapsulated CDA in a text screen; both from the viewer when
such a series is chosen. (Encapsulated PDF pages are images of the viewer: :mod:`tuipacs.view.pdf`.)

Also the way back from a report to an image: :func:`find_image` looks up a referenced SOP
Instance in the archive's index and :func:`open_image` opens the viewer at it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from tuipacs.app.keymap import Key
from tuipacs.app.settings import Settings
from tuipacs.imaging.pdf import CDA_CLASS
from tuipacs.safe_text import clean
from tuipacs.store.archive import Archive
from tuipacs.store.query import InstanceRow, StudyRow, get_study, list_instances
from tuipacs.view.sr import SR_CLASS_PREFIX

if TYPE_CHECKING:
    from tuipacs.app.screens.viewer import ViewerScreen

NAMES = {"sr": "a structured report", "cda": "a CDA document"}


def screen_document(rows: list[InstanceRow], modality: str = "") -> str:
    """``'sr'`` or ``'cda'`` when every instance of a series is one (shown in its own screen),
    '' for images and PDF (shown in the viewer)."""
    if not rows:
        return ""
    classes = {row.sop_class_uid for row in rows}
    if all(uid.startswith(SR_CLASS_PREFIX) for uid in classes):
        return "sr"
    if classes == {CDA_CLASS}:
        return "cda"
    no_pixels = all(not row.rows for row in rows)
    return "sr" if modality.strip().upper() == "SR" and no_pixels else ""


@dataclass
class DocumentOpened(Message):
    """The chosen series is a report or CDA document (``kind``: ``sr`` or ``cda``)."""

    series_uid: str
    kind: str
    paths: list[Path]
    seq: int
    pane: int = 0


def show_document(viewer: ViewerScreen, message: DocumentOpened) -> None:
    """The viewer leaves the image series it showed and opens the document's screen; its
    viewport says where the document went. In a viewport other than the active one (a
    hanging protocol or ``V`` put the report there) it only says how to open it."""
    from tuipacs.app.screens import viewer_shown
    from tuipacs.app.screens.sr import SrScreen
    from tuipacs.view.state import ViewerState

    if viewer.pane.index != viewer.active:
        viewer.show_message("a report: Tab to this viewport and n / p to open it")
        return

    viewer.cine.stop(viewer.state)
    viewer_shown.leave_series(viewer)
    viewer._close_store()
    viewer.loader.known = 0  # no images to look for while the document is open
    viewer.state = ViewerState(series_index=viewer.loader.index, masked=viewer.state.masked)
    viewer.frame = viewer.rendered = None
    viewer.info = viewer.index_info()
    viewer.image.clear()
    viewer.update_overlays()
    number = viewer.loader.index + 1
    viewer.show_message(f"series {number} is {NAMES[message.kind]}: shown in its own screen")
    study = viewer.study
    if message.kind == "sr":
        viewer.app.push_screen(SrScreen(viewer.archive, study, message.paths, viewer.settings))
    else:
        viewer.app.push_screen(CdaScreen(message.paths[0]))


@dataclass(frozen=True)
class ImageLocation:
    """Where a referenced image is in the archive: its study, series and place in the
    series as the viewer lists it."""

    study: StudyRow
    series_uid: str
    index: int


def find_image(archive: Archive, sop_uid: str, frame: int = 1) -> ImageLocation | None:
    """The study, series and viewer index of SOP Instance ``sop_uid`` (frame ``frame``,
    1-based), None when the archive does not hold it. Blocking (index and disk)."""
    from tuipacs.view.pdf import series_images

    found = archive.execute(
        "SELECT se.series_uid, st.study_uid FROM instance i JOIN series se ON i.series_fk = se.id "
        "JOIN study st ON se.study_fk = st.id WHERE i.sop_uid = ?",
        (sop_uid,),
    )
    if not found:
        return None
    series_uid, study_uid = str(found[0][0]), str(found[0][1])
    study = get_study(archive, study_uid)
    if study is None:
        return None
    path = archive.instance_path(sop_uid)
    images = series_images(list_instances(archive, series_uid))
    index = next(
        (i for i, ref in enumerate(images) if ref.path == path and ref.frame == frame - 1),
        next((i for i, ref in enumerate(images) if ref.path == path), 0),
    )
    return ImageLocation(study, series_uid, index)


def open_image(
    screen: Screen[None], archive: Archive, settings: Settings, at: ImageLocation
) -> None:
    """Open the viewer on top of ``screen`` at the image ``at`` (Esc comes back)."""
    from tuipacs.app.screens.viewer import ViewerScreen
    from tuipacs.view.state import ViewerState

    session = settings.session
    saved = session.series.get(at.series_uid)
    state = ViewerState(index=at.index, count=at.index + 1, masked=session.masked)
    if saved is not None:
        state = replace(saved, index=at.index, count=max(saved.count, at.index + 1))
    session.leave(at.series_uid, state)  # the viewer opens a series where it was left
    screen.app.push_screen(ViewerScreen(archive, at.study, at.series_uid, settings))


class CdaScreen(Screen[None]):
    """The text of an Encapsulated CDA document, scrollable."""

    BINDINGS = [Key("escape", "close", "Back", section="Document", tooltip="back to the viewer")]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        """A title, the text, the footer."""
        yield Static(clean(f"CDA document · {self.path.name}"), id="cda-title", markup=False)
        with VerticalScroll(id="cda-scroll"):
            yield Static("reading…", id="cda-text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        """Read the document in a worker."""
        self.query_one("#cda-scroll", VerticalScroll).focus()
        self.read_document()

    @work(thread=True, exclusive=True, group="cda", exit_on_error=False)
    def read_document(self) -> None:
        """Worker: the bounded read and the text extraction."""
        from tuipacs.imaging.pdf import read_document
        from tuipacs.view.cda import MAX_XML, cda_text

        try:
            _, data = read_document(self.path, MAX_XML)
            text = cda_text(data)
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            text = clean(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
        self.app.call_from_thread(self._show, text or "(the document has no text)")

    def _show(self, text: str) -> None:
        self.query_one("#cda-text", Static).update(text)

    @property
    def text(self) -> str:
        """The text shown (for tests)."""
        return str(self.query_one("#cda-text", Static).content)

    def action_close(self) -> None:
        """Back to the viewer."""
        self.app.pop_screen()
