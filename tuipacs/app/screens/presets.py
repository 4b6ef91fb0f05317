"""The preset list (``w`` in the viewer): every window preset of the modality, the ones past
the number keys included (the file's further windows, min-max, auto, the reader's own from
config.toml); Enter applies the highlighted one, Escape closes."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static

from tuipacs.imaging.presets import FROM_FILE
from tuipacs.safe_text import clean
from tuipacs.view import format as fmt
from tuipacs.view.state import PresetChoice


def preset_rows(choices: Sequence[PresetChoice]) -> list[str]:
    """One line per preset: its key (blank past the tenth), its name (made safe) and its
    window, or where the window comes from."""
    labels = [clean(choice.label) for choice in choices]
    column = max((cell_len(label) for label in labels), default=0)
    rows = []
    for choice, label in zip(choices, labels, strict=True):
        window = choice.window
        what = (
            f"WL {fmt.number(window.center)}  WW {fmt.number(window.width)}"
            if window is not None
            else "from the image"
        )
        padding = " " * (column - cell_len(label))
        rows.append(f"{choice.key or ' '}  {label}{padding}   {what}")
    return rows


class PresetScreen(ModalScreen[int | None]):
    """Every preset of the modality in a list; dismissed with the 1-based number chosen
    (None when closed without one)."""

    DEFAULT_CSS = """
    PresetScreen { align: center middle; }
    PresetScreen > Vertical {
        width: auto; min-width: 40; max-width: 90%; height: auto; max-height: 90%;
        border: round $accent; padding: 0 1; background: $surface;
    }
    PresetScreen OptionList { height: auto; max-height: 30; width: auto; border: none; }
    PresetScreen .hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,w", "cancel", "Close")]

    def __init__(self, choices: Sequence[PresetChoice], current: str = "") -> None:
        super().__init__()
        self.choices = list(choices)
        self.current = current
        """The name of the window in use (its row is highlighted first)."""

    def compose(self) -> ComposeResult:
        """A title, the list and what the keys do."""
        with Vertical():
            yield Static("Window presets", markup=False)
            yield OptionList(*preset_rows(self.choices), markup=False, id="preset-list")
            yield Static("Enter applies · Esc closes", classes="hint", markup=False)

    def on_mount(self) -> None:
        """Highlight the preset in use (the file's first window for the file's own, else the
        first preset)."""
        names = [choice.name for choice in self.choices]
        current = "file1" if self.current == FROM_FILE else self.current  # the file's first
        options = self.query_one(OptionList)
        options.highlighted = names.index(current) if current in names else 0
        options.focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        """Enter (or a click) applies the preset."""
        event.stop()
        self.dismiss(event.option_index + 1)

    def action_cancel(self) -> None:
        """Close without changing the window."""
        self.dismiss(None)
