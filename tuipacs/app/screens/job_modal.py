"""The modal of one cancellable job run in a thread worker (an export, a send): the line under
its form, the files counted for its progress bar, and Esc, which cancels a running job or
closes the modal with the last line (:class:`JobModal`)."""

from __future__ import annotations

import threading

from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Static


class JobModal(ModalScreen[str | None]):
    """A form over one job at a time; subclasses start it and set :attr:`cancel_event`."""

    DEFAULT_CSS = """
    JobModal { align: center middle; }
    JobModal > Vertical {
        width: 84; max-width: 95%; height: auto; padding: 1 2;
        border: round $primary; background: $surface;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel / close")]
    NOUN = "job"
    """What runs, as the cancel line names it (``export``, ``send``)."""
    LINE_ID = "job-line"
    """The id of the Static the lines go to."""

    total: reactive[float | None] = reactive(None)
    """Files of the job (None: not known yet)."""
    done: reactive[float] = reactive(0.0)
    """Files handled so far."""

    def __init__(self) -> None:
        super().__init__()
        self.cancel_event: threading.Event | None = None
        """Set to cancel the running job; None when none runs."""
        self.line = ""
        """The last line shown (the result once the job ended)."""
        self.finished = False
        """A job ran to its end (done, failed or cancelled)."""

    def show(self, line: str, error: bool = False) -> None:
        """Write the modal's line."""
        self.line = line
        widget = self.query_one(f"#{self.LINE_ID}", Static)
        widget.update(line)
        widget.set_class(error, "-error")

    def count(self, done: int, total: int, doing: str) -> None:
        """Move the bar to ``done`` of ``total`` files, saying what is ``doing`` (unless a
        cancel was asked for: that line stays)."""
        self.total, self.done = max(total, 1), done
        if self.cancel_event is not None and not self.cancel_event.is_set():
            self.show(f"{doing}: {done} of {total} files · Esc cancels")

    def action_cancel(self) -> None:
        """Esc: cancel the running job, else close with the last line."""
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.show(f"cancelling the {self.NOUN}…")
            return
        self.dismiss(self.line if self.finished else None)

    def on_unmount(self) -> None:
        """Leaving (quitting): stop a running job so its thread ends soon."""
        if self.cancel_event is not None:
            self.cancel_event.set()
