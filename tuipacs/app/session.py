"""What the app remembers for the reader while it runs (never on disk): whether patient
identity is masked, on every screen until turned off, and where each series was left (its
image, window, zoom and orientation), so reopening it returns there, and the measurements of
each image (by its file, named by its SOP Instance UID, and frame)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the viewer's model pulls in pydicom: not on the start-up path
    from tuipacs.view.measure import Measurement
    from tuipacs.view.state import ViewerState

KEPT_SERIES = 200
"""Series remembered at most (the oldest are forgotten first)."""
KEPT_MEASURED = 5000
"""Images whose measurements are remembered at most (the oldest are forgotten first)."""
MAX_MEASUREMENTS = 100
"""Measurements kept per image at most."""

ImageKey = tuple[str, int]
"""An image: its file in the archive and its frame number."""


@dataclass
class Session:
    """The reader's session: shared by every screen of one app."""

    masked: bool = False
    """Patient names, IDs and birth dates masked in the browser, viewer and tags."""
    series: dict[str, ViewerState] = field(default_factory=dict)
    measurements: dict[ImageKey, tuple[Measurement, ...]] = field(default_factory=dict)
    """The measurements of each image measured in this session."""
    key_flags: dict[str, dict[ImageKey, bool]] = field(default_factory=dict)
    """By study UID: images flagged key (True) or unflagged over a KOS (False)."""
    key_version: int = 0
    """Counts the changes of :attr:`key_flags` (lists of key images are made again)."""

    def flags(self, study_uid: str) -> dict[ImageKey, bool]:
        """A copy of the key flags of ``study_uid`` (for a worker to read)."""
        return dict(self.key_flags.get(study_uid, {}))

    def set_key(self, study_uid: str, image: ImageKey, on: bool) -> None:
        """Flag ``image`` of ``study_uid`` as a key image (``on``) or not."""
        flags = self.key_flags.setdefault(study_uid, {})
        flags.pop(image, None)
        if len(flags) < KEPT_MEASURED:
            flags[image] = on
        self.key_version += 1

    def measured(self, image: ImageKey) -> tuple[Measurement, ...]:
        """The measurements of ``image`` (none: empty)."""
        return self.measurements.get(image, ())

    def set_measured(self, image: ImageKey, items: tuple[Measurement, ...]) -> None:
        """Remember ``items`` (at most :data:`MAX_MEASUREMENTS`) as ``image``'s."""
        self.measurements.pop(image, None)
        if items:
            self.measurements[image] = items[-MAX_MEASUREMENTS:]
        while len(self.measurements) > KEPT_MEASURED:
            del self.measurements[next(iter(self.measurements))]

    def leave(self, series_uid: str, state: ViewerState) -> None:
        """Remember where ``series_uid`` was left (cine stopped, probe off)."""
        if not series_uid or state.count < 1:
            return
        self.series.pop(series_uid, None)
        self.series[series_uid] = replace(state, cine=False, probe=None)
        while len(self.series) > KEPT_SERIES:
            del self.series[next(iter(self.series))]

    def reopen(self, series_uid: str, series_index: int, count: int) -> ViewerState:
        """The state to open ``series_uid`` of ``count`` images in: where it was left (its
        image within the count), else its first image with the file's window."""
        from tuipacs.view.state import ViewerState

        saved = self.series.get(series_uid)
        if saved is None:
            return ViewerState(series_index=series_index, count=count, masked=self.masked)
        index = min(saved.index, count - 1)
        return replace(
            saved, series_index=series_index, count=count, index=index, masked=self.masked
        )
