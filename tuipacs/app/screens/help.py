"""The help screen: the keys of the screen that opened it, made from its bindings.

The keys come from the :class:`~tuipacs.app.keymap.Key` bindings of the screen, of the widgets
on it (in the order they appear) and of the app; see :mod:`tuipacs.app.keymap`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tuipacs.app.keymap import Section, help_sections, remapped
from tuipacs.safe_text import clean


def keys_table(sections: tuple[Section, ...], extra: str = "") -> Table:
    """A two-column table of keys and what they do, grouped in sections."""
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold", no_wrap=True)
    table.add_column()
    for line in extra.split("\n") if extra else ():  # the viewer's hanging protocol and
        table.add_row("", Text(clean(line), style="italic"))  # presets: before the fold
        table.add_row("", "")
    for number, (title, rows) in enumerate(sections):
        if number:
            table.add_row("", "")
        # the underline on the title only: a Text's own style would also underline the
        # spaces that right-justify it (a line left of each title in xterm)
        table.add_row(Text.assemble((title, "underline")), "")
        for keys, what in rows:
            table.add_row(keys, what)
    return table


def screen_bindings(screen: Screen[Any]) -> list[BindingType]:
    """The bindings of ``screen``, of the widgets on it (each class once, in DOM order) and
    of its app, each once (a subclass shares its parent's): what the help lists."""
    nodes: list[DOMNode] = [screen, *screen.query("*")]
    classes: list[type[DOMNode]] = []
    for node in nodes:
        if type(node) not in classes:
            classes.append(type(node))
    bindings: list[BindingType] = []
    for source in [*(cls.BINDINGS for cls in classes), screen.app.BINDINGS]:
        bindings += [b for b in source if not any(b is seen for seen in bindings)]
    return bindings


BOX_WIDTH = 96
"""The help box's width (cells) on a terminal wide enough for it and a margin."""

MARGIN = 8
"""Columns of the screen below that must show on each side of the box: with fewer, the
box takes the whole width, since a sliver of one or two columns shows only the cut ends
of the words below it (stray glyphs beside the border)."""


def full_width(screen_width: int) -> bool:
    """Does the help box take the whole width of a screen ``screen_width`` cells wide?"""
    return screen_width < BOX_WIDTH + 2 * MARGIN


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; any of Escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, screen_name: str, sections: tuple[Section, ...], extra: str = "") -> None:
        super().__init__()
        self.screen_name = screen_name
        self._sections = sections
        self.extra = extra

    @classmethod
    def of(
        cls,
        screen: Screen[Any],
        name: str,
        order: Sequence[str] = (),
        extra: str = "",
        keymap: Mapping[str, str] | None = None,
    ) -> HelpScreen:
        """The help of ``screen`` (sections in ``order`` first), with an ``extra`` line;
        the keys as ``keymap`` (binding id -> keys, from [keys] in the config) maps them."""
        bindings = remapped(screen_bindings(screen), keymap or {})
        return cls(name, help_sections(bindings, order), extra)

    def sections(self) -> tuple[Section, ...]:
        """The key sections shown."""
        return self._sections

    def compose(self) -> ComposeResult:
        """The key table in a scrollable, bordered box."""
        with VerticalScroll(id="help-box") as box:
            box.border_title = f"Keys · {self.screen_name}"
            box.border_subtitle = "Esc closes"
            yield Static(keys_table(self._sections, self.extra), id="help-text")

    def on_mount(self) -> None:
        """Sized for the terminal from the first frame."""
        self.set_class(full_width(self.app.size.width), "-full")

    def on_resize(self) -> None:
        """The whole width on a narrow terminal (see MARGIN), else a centred box."""
        self.set_class(full_width(self.app.size.width), "-full")
