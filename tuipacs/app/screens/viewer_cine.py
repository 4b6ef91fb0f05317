"""Cine for the viewer: a timer that steps the images, and the note of a changed rate."""

from __future__ import annotations

from collections.abc import Callable

from textual.timer import Timer
from textual.widget import Widget

from tuipacs.view.state import ViewerState

NOTE_SECONDS = 2.0
"""How long a changed cine rate stays in the overlay while cine is paused."""


class Cine:
    """Plays a stack at the state's cine rate on ``owner``'s timers: ``tick`` shows the next
    image; ``changed`` refreshes the overlays (the rate shows in the bottom-right corner)."""

    def __init__(self, owner: Widget, tick: Callable[[], None], changed: Callable[[], None]):
        self.owner = owner
        self.tick = tick
        self.changed = changed
        self._timer: Timer | None = None
        self._note: Timer | None = None

    @property
    def playing(self) -> bool:
        """True while the timer steps the images."""
        return self._timer is not None

    @property
    def noting(self) -> bool:
        """True while a changed rate shows although cine is paused."""
        return self._note is not None

    def toggle(self, state: ViewerState) -> None:
        """Play or pause (a single image does not play)."""
        if state.cine:
            self.stop(state)
        elif state.count > 1:
            state.cine = True
            self._start(state.cine_rate)
        self.changed()

    def stop(self, state: ViewerState) -> None:
        """Pause."""
        state.cine = False
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def step_rate(self, state: ViewerState, faster: bool) -> None:
        """The next standard rate up or down; shown in the overlay (for a moment if paused)."""
        state.cine_faster(faster)
        if state.cine:
            self._start(state.cine_rate)
        if self._note is not None:
            self._note.stop()
        self._note = self.owner.set_timer(NOTE_SECONDS, self._end_note)
        self.changed()

    def _start(self, rate: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.owner.set_interval(1.0 / rate, self.tick)

    def _end_note(self) -> None:
        self._note = None
        self.changed()
