"""The viewer's series loader: a widget without a picture that lists a study's series and a
series' images from the archive in thread workers.

Its workers post to it; it opens the requested series when the series are listed and lets
:class:`~tuipacs.app.messages.SeriesOpened`, :class:`~tuipacs.app.messages.SeriesGrew` and
:class:`~tuipacs.app.messages.LoadFailed` bubble up to the screen. While a series is open it
looks every second for images that landed since (progressive viewing of a retrieve).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget

from tuipacs.app.messages import LoadFailed, SeriesFound, SeriesGrew, SeriesOpened
from tuipacs.app.screens.documents import DocumentOpened, screen_document
from tuipacs.store.archive import Archive
from tuipacs.store.query import InstanceRow, SeriesRow, list_instances, list_series
from tuipacs.view.frames import ImageRef
from tuipacs.view.pdf import series_images
from tuipacs.view.sync import StackPlanes, stack_planes
from tuipacs.writeback.keyimages import KEY_SERIES_UID, study_keys, with_key_series

GROWTH_POLL = 1.0
"""Seconds between looks for new images of the open series."""


class SeriesLoader(Widget):
    """Lists the series of ``study_uid`` on mount and opens ``start_series`` (or the first)."""

    @dataclass
    class Relisted(Message):
        """The series were listed again: the open one (request ``seq``) is now ``index``."""

        index: int
        seq: int

    DEFAULT_CSS = """
    SeriesLoader { display: none; }
    """

    def __init__(
        self, archive: Archive, study_uid: str, start_series: str = "", pane: int = 0
    ) -> None:
        super().__init__()
        self.pane = pane
        """The viewport this loader lists for (its messages name it)."""
        self.archive = archive
        self.study_uid = study_uid
        self.start_series = start_series
        self.series: list[SeriesRow] = []
        self.index = 0
        """The series open (or being opened), in the study's series order."""
        self.seq = 0
        """Request number of the open series: answers to older requests are dropped."""
        self.known = 0
        """Images of the open series the viewer shows (set by the viewer)."""
        self._poll: Timer | None = None
        self.open_uid = ""
        self.keys_of: Callable[[], Mapping[tuple[str, int], bool]] = dict
        self.prefer: Callable[[list[SeriesRow]], int] | None = None
        """Which series to open when no ``start_series`` is asked for (a prior: the one
        comparable with the series beside it)."""
        """The reader's key image flags of the study (the virtual series of key images)."""

    def on_mount(self) -> None:
        """List the study's series."""
        self.relist()

    def relist(self) -> None:
        """List the study's series (again: the key images changed)."""
        flags = dict(self.keys_of())
        self.run_worker(
            lambda: self._list_series(flags),
            name="list_series",
            group="viewer-series",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def on_series_found(self, message: SeriesFound) -> None:
        """Open the requested series, or the first."""
        message.stop()
        self.series = message.rows
        if not self.series:
            self.post_message(
                LoadFailed("series", "this study has no series in the archive", self.pane)
            )
            return
        uids = [s.series_uid for s in self.series]
        if self.seq:  # listed again: the open series stays open (where it is now listed)
            if self.open_uid in uids:
                self.index = uids.index(self.open_uid)
                self.post_message(self.Relisted(self.index, self.seq))
            return
        if self.start_series in uids:
            self.open(uids.index(self.start_series))
        else:
            self.open(self.prefer(self.series) if self.prefer is not None else 0)

    def open(self, index: int) -> bool:
        """List the images of series ``index``; False when there is no such series."""
        if not 0 <= index < len(self.series):
            return False
        self.index = index
        self.open_uid = self.series[index].series_uid
        self.seq += 1
        series_uid, seq = self.series[index].series_uid, self.seq
        flags = dict(self.keys_of())
        self.run_worker(
            lambda: self._list_images(series_uid, seq, flags),
            name="list_images",
            group="viewer-images",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )
        if self._poll is None:
            self._poll = self.set_interval(GROWTH_POLL, self._look_for_more)
        return True

    def _look_for_more(self) -> None:
        """Look for images of the open series that landed since it was listed."""
        if not self.series or not self.known:
            return
        series_uid, seq, known = self.series[self.index].series_uid, self.seq, self.known
        self.run_worker(
            lambda: self._grow(series_uid, seq, known),
            name="grow_images",
            group="viewer-grow",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def _images(self, series_uid: str) -> tuple[list[ImageRef], StackPlanes]:
        """Every frame of every instance (every page of a PDF), in instance order, and the
        plane of each."""
        rows = list_instances(self.archive, series_uid)
        images = series_images(rows)
        return images, stack_planes(rows, images, frame_of_reference(rows))

    def _list_series(self, flags: Mapping[tuple[str, int], bool]) -> None:
        """Worker: the series (and the virtual series of key images), and a note that the
        study was opened."""
        try:
            rows = list_series(self.archive, self.study_uid)
            rows = with_key_series(self.archive, self.study_uid, rows, flags)
            self.archive.touch_study(self.study_uid)
        except Exception as exc:
            self.post_message(LoadFailed("series", f"cannot list the series: {exc}", self.pane))
            return
        self.post_message(SeriesFound(self.study_uid, rows))

    def _list_images(
        self, series_uid: str, seq: int, flags: Mapping[tuple[str, int], bool]
    ) -> None:
        """Worker: every frame of every instance of the series, in instance order (the key
        images of the study for the virtual series)."""
        if series_uid == KEY_SERIES_UID:
            try:
                keys = study_keys(self.archive, self.study_uid, flags)
            except Exception as exc:
                reason = f"cannot list the key images: {exc}"
                self.post_message(LoadFailed("images", reason, self.pane))
                return
            refs = [ImageRef(Path(path), frame) for path, frame in keys]
            self.post_message(SeriesOpened(series_uid, refs, seq, pane=self.pane))
            return
        try:
            rows = list_instances(self.archive, series_uid)
            modality = self.series[self.index].modality if self.series else ""
            kind = screen_document(rows, modality)  # a report: shown in its own screen
            images = [] if kind else series_images(rows)
            planes = stack_planes(rows, images, frame_of_reference(rows))
        except Exception as exc:
            self.post_message(LoadFailed("images", f"cannot list the images: {exc}", self.pane))
            return
        if kind:
            paths = [row.path for row in rows]
            self.post_message(DocumentOpened(series_uid, kind, paths, seq, self.pane))
            return
        self.post_message(SeriesOpened(series_uid, images, seq, planes, self.pane))

    def _grow(self, series_uid: str, seq: int, known: int) -> None:
        """Worker: SeriesGrew when the archive holds more images than the viewer shows."""
        try:
            images, planes = self._images(series_uid)
        except Exception:  # noqa: BLE001 - a failed poll is retried on the next tick
            return
        if len(images) > known:
            self.post_message(SeriesGrew(series_uid, images, seq, planes, self.pane))


def frame_of_reference(rows: list[InstanceRow]) -> str:
    """The Frame of Reference UID of the first image of ``rows`` that has one readable
    ('' when none: a missing or damaged header only costs synchronisation by position)."""
    import pydicom

    for row in rows[:3]:
        try:
            header = pydicom.dcmread(
                row.path, stop_before_pixels=True, specific_tags=["FrameOfReferenceUID"]
            )
            value = str(header.get("FrameOfReferenceUID", "") or "")
        except Exception:  # noqa: BLE001 - an unreadable header has no frame of reference
            continue
        if value:
            return value
    return ""
