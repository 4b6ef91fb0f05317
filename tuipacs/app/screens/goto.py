""" "Go to image": a one-line prompt over the viewer for an image number."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


def image_number(text: str, count: int) -> int | None:
    """The 1-based image number typed, within 1..``count`` (a number past the end is the
    last image); None when the text is not a whole number."""
    text = text.strip()
    if not text.isdigit() or len(text) > 9 or count < 1:
        return None
    return min(count, max(1, int(text)))


class GoToScreen(ModalScreen[int | None]):
    """Asks for an image number (1..count); Enter goes there, Escape closes."""

    DEFAULT_CSS = """
    GoToScreen { align: center middle; }
    GoToScreen > Vertical {
        width: 44; height: auto; border: round $accent; padding: 0 1; background: $surface;
    }
    GoToScreen #goto-error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Close")]

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        """The prompt and the number field."""
        with Vertical():
            yield Static(f"Go to image (1-{self.count})", markup=False)
            yield Input(placeholder="image number", id="goto-number", type="integer")
            yield Static("", id="goto-error", markup=False)

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        """A valid number closes the prompt with it; anything else says what to type."""
        number = image_number(event.value, self.count)
        if number is None:
            self.query_one("#goto-error", Static).update(f"type a number from 1 to {self.count}")
            return
        self.dismiss(number)

    def action_cancel(self) -> None:
        """Close without moving."""
        self.dismiss(None)
