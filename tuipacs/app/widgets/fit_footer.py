"""A footer that keeps its most important keys when the terminal is narrow.

Textual's Footer lays its keys out left to right and cuts what does not fit, so on an
80-column terminal the browser lost ``? Help`` and ``q Quit`` (the last keys). This one
hides keys instead, least important first: the command palette key, then the others
from the right, but never the keys it is told to keep.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import Footer
from textual.widgets._footer import FooterKey


def keys_to_hide(widths: list[int], kept: list[bool], palette: int, room: int) -> set[int]:
    """Indexes of the keys to hide so that keys of ``widths`` (and a palette key of width
    ``palette``, index ``len(widths)``; 0: none) fit ``room`` cells: the palette first,
    then the others from the last one back, never one marked in ``kept``."""
    hidden: set[int] = set()
    total = sum(widths) + palette
    if total <= room:
        return hidden
    if palette:
        hidden.add(len(widths))
        total -= palette
    for index in range(len(widths) - 1, -1, -1):
        if total <= room:
            break
        if not kept[index]:
            hidden.add(index)
            total -= widths[index]
    return hidden


class FitFooter(Footer):
    """A Footer that hides its less important keys when they do not all fit."""

    def __init__(self, keep: Iterable[str] = (), *, id: str | None = None) -> None:
        """``keep``: the actions (``help``, ``app.quit``) whose keys always show."""
        super().__init__(id=id)
        self.keep = frozenset(keep)

    def on_resize(self) -> None:
        """Fit the keys to the new width."""
        self.fit()

    async def recompose(self) -> None:
        """New keys (the bindings changed): fit them once they are laid out."""
        await super().recompose()
        self.call_after_refresh(self.fit)

    def fit(self) -> None:
        """Show every key, then hide the least important until the rest fit the width."""
        room = self.size.width
        if not room:
            return
        keys = [key for key in self.query(FooterKey) if "-command-palette" not in key.classes]
        palettes = [key for key in self.query(FooterKey) if "-command-palette" in key.classes]
        widths = [_width(key) for key in keys]
        palette = sum(_width(key) for key in palettes)
        kept = [key.action in self.keep for key in keys]
        hidden = keys_to_hide(widths, kept, palette, room)
        for index, key in enumerate(keys):
            key.display = index not in hidden
        for key in palettes:
            key.display = len(keys) not in hidden


def _width(key: FooterKey) -> int:
    """The cells ``key`` takes: its text, padding, border and margins."""
    styles = key.styles
    return key.render().cell_len + styles.gutter.width + styles.margin.width
