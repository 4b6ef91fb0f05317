"""The viewport's overlay text as labels, for a picture that draws its text itself (Sixel).

The same blocks, places and colours as the Static widgets of
:class:`~tuipacs.app.widgets.viewport.ImageViewport` (placed by ``app.tcss``): corner blocks
with one cell of padding each side in the four corners, orientation labels in the middle of
each edge, the message line across the middle. The colours are the widgets' own (theme).
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.color import Color
from rich.style import Style
from textual.widget import Widget

from tuipacs.app.graphics.sixel_backend import SixelBackend
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.view.graphics.labels import RGB, Label
from tuipacs.view.overlay_text import block_width

WHITE: RGB = (216, 216, 216)
BLACK: RGB = (0, 0, 0)


def _rgb(color: Color | None, default: RGB) -> RGB:
    """A Rich colour as RGB (the default when unset)."""
    if color is None:
        return default
    triplet = color.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def style_of(widget: Widget) -> tuple[RGB, RGB, bool]:
    """(text colour, background, bold) of ``widget`` as styled by the theme."""
    try:
        style: Style = widget.rich_style
    except Exception:  # not styled yet
        return WHITE, BLACK, False
    return _rgb(style.color, WHITE), _rgb(style.bgcolor, BLACK), bool(style.bold)


def corner_labels(
    texts: tuple[str, ...], width: int, height: int, widgets: tuple[Widget, ...]
) -> Iterator[Label]:
    """Labels of the top-left, top-right, bottom-left and bottom-right blocks (``texts``
    and ``widgets`` in that order)."""
    for corner, (text, widget) in enumerate(zip(texts, widgets, strict=True)):
        if not text:
            continue
        cols, rows = block_width(text) + 2, len(text.split("\n"))
        col = width - cols if corner in (1, 3) else 0
        row = height - rows if corner in (2, 3) else 0
        colour, background, bold = style_of(widget)
        yield Label(max(0, col), max(0, row), cols, rows, text, colour, background, bold, 1)


def placed_label(
    text: str, offset: tuple[int, int], size: tuple[int, int], widget: Widget, pad: int = 0
) -> Label:
    """A label of ``size`` (cols, rows) at ``offset`` (a widget placed by its offset)."""
    colour, background, bold = style_of(widget)
    return Label(offset[0], offset[1], size[0], size[1], text, colour, background, bold, pad)


def draws_labels(view: ImageView) -> bool:
    """True when the text over ``view``'s picture must be given as labels: a Sixel picture
    erases text drawn over it, and text erases the picture."""
    return isinstance(view.graphics, SixelBackend)


def send_labels(view: ImageView, labels: tuple[Label, ...]) -> None:
    """The text to draw over ``view``'s picture now (with :func:`draws_labels`); from the
    first call on, each frame waits for the labels that describe it (one call after each
    frame shown)."""
    view.labels_follow = True
    backend = view.graphics
    if isinstance(backend, SixelBackend):
        backend.set_labels(labels)
