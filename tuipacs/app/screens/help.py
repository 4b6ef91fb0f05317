"""The help screen: the keys of the screen that opened it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tuipacs.app.keys import SCREEN_KEYS, Section
from tuipacs.safe_text import clean

#: keys of the browser's remote query and retrieve (kept here until tuipacs.app.keys has them)
REMOTE_KEYS: tuple[Section, ...] = (
    (
        "Remote node",
        (
            ("r", "query a node: configured name or AE@host:port, name, ID, date, modality"),
            ("Enter", "in the query form: run the C-FIND"),
            ("g", "on a remote study: retrieve it into the local archive"),
            ("x, Escape", "cancel the running retrieve"),
            ("Escape", "hide the remote results"),
        ),
    ),
)

#: extra sections shown after the screen's own keys
EXTRA_KEYS: dict[str, tuple[Section, ...]] = {"browser": REMOTE_KEYS}


def keys_table(sections: tuple[Section, ...], extra: str = "") -> Table:
    """A two-column table of keys and what they do, grouped in sections."""
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold", no_wrap=True)
    table.add_column()
    for number, (title, rows) in enumerate(sections):
        if number:
            table.add_row("", "")
        table.add_row(Text(title, style="underline"), "")
        for keys, what in rows:
            table.add_row(keys, what)
    if extra:  # the viewer's presets: names from the file (window explanations)
        table.add_row("", "")
        table.add_row("", Text(clean(extra), style="italic"))
    return table


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; any of Escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, screen_name: str, extra: str = "") -> None:
        super().__init__()
        self.screen_name = screen_name
        self.extra = extra

    def sections(self) -> tuple[Section, ...]:
        """The key sections of the screen, then the extra ones (remote keys for the browser)."""
        own = SCREEN_KEYS.get(self.screen_name, ())
        return own + tuple(s for s in EXTRA_KEYS.get(self.screen_name, ()) if s not in own)

    def compose(self) -> ComposeResult:
        """The key table in a scrollable, bordered box."""
        sections = self.sections()
        with VerticalScroll(id="help-box") as box:
            box.border_title = f"Keys · {self.screen_name}"
            box.border_subtitle = "Esc closes"
            yield Static(keys_table(sections, self.extra), id="help-text")
