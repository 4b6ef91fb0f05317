"""The viewer's viewport: the picture and the text over it.

The four corner blocks are placed by CSS (``app.tcss``): top-left, top-right and bottom-left
are docked to their edges, bottom-right sits alone on its layer, aligned to the bottom right
of the viewport. The orientation labels (centred on each edge) and the message line are
placed at offsets from their size; the corner texts are cut to the corner's width.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Container
from textual.widgets import Static

from tuipacs.app.widgets.image_view import ImageView
from tuipacs.app.widgets.overlay_labels import (
    corner_labels,
    draws_labels,
    placed_label,
    send_labels,
)
from tuipacs.safe_text import clean
from tuipacs.view import format as fmt
from tuipacs.view.graphics.labels import Label
from tuipacs.view.graphics.probe import GraphicsConfig
from tuipacs.view.overlay_text import Corners, block_width, clip_block, corner_width

CORNERS = ("tl", "tr", "bl", "br")
EDGES = ("top", "right", "bottom", "left")


class ImageViewport(Container):
    """An ImageView with corner overlays, orientation labels and a message (the probe's
    crosshair is drawn into the picture: text would hide the pixel)."""

    def __init__(self, graphics: GraphicsConfig | None = None, *, id: str = "viewport") -> None:
        super().__init__(id=id)
        self.graphics = graphics
        self.message = ""
        """The message line across the middle ('' when none)."""
        self.shown = True
        """Overlays shown (``o`` hides them)."""
        self._corners = Corners("", "", "", "")
        self._edges = ("", "", "", "")

    def compose(self) -> ComposeResult:
        """The picture, the corner blocks, the edge labels, the message."""
        yield ImageView(config=self.graphics, id="image", auto_preview=False)
        for name in CORNERS:
            yield Static("", id=f"ov-{name}", classes="overlay corner", markup=False)
        for name in EDGES:
            yield Static("", id=f"ori-{name}", classes="overlay orient", markup=False)
        yield Static("", id="viewer-message", classes="overlay", markup=False)

    @property
    def image(self) -> ImageView:
        """The picture."""
        return self.query_one("#image", ImageView)

    def on_mount(self) -> None:
        """Place the text (on Sixel, as labels the picture draws: text and a Sixel picture
        erase each other)."""
        self.set_class(self.image.backend == "sixel", "-sixel")
        self.place()

    def on_resize(self) -> None:
        """Cut and place the text for the new size."""
        self.place()

    def set_texts(self, corners: Corners, edges: tuple[str, str, str, str]) -> None:
        """New corner texts and (top, right, bottom, left) orientation labels."""
        self._corners, self._edges = corners, edges
        self.place()

    def show_overlays(self, shown: bool) -> None:
        """Show or hide the corner texts and labels."""
        self.shown = shown
        self.place()

    def show_message(self, text: str) -> None:
        """One line across the middle (cleaned: an error may quote a file name or a value)."""
        self.message = clean(text)
        self._place_message()
        self._send_labels()

    def clear_message(self) -> None:
        """Remove the message line."""
        if self.message:
            self.message = ""
            self.query_one("#viewer-message", Static).display = False
            self._send_labels()

    def overlay_text(self) -> str:
        """All text on the picture, corners first (for tests and screen readers)."""
        if draws_labels(self.image):
            return "\n".join(label.text for label in self.labels())
        parts = []
        for widget in self.query(".overlay").results(Static):
            if widget.display:
                parts.append(str(widget.render()))
        return "\n".join(parts)

    def place(self) -> None:
        """Cut every block to its room and put the labels and message in place."""
        if not self.is_mounted:
            return
        width, height = self.content_size
        limit = corner_width(width, 2)
        texts = (
            self._corners.top_left,
            self._corners.top_right,
            self._corners.bottom_left,
            self._corners.bottom_right,
        )
        for name, text in zip(CORNERS, texts, strict=True):
            self._update(self.query_one(f"#ov-{name}", Static), clip_block(text, limit))
        for name, label in zip(EDGES, self._edges, strict=True):
            widget = self.query_one(f"#ori-{name}", Static)
            text = clip_block(label, max(1, width))
            if self._update(widget, text):
                w, h = block_width(text), len(text.split("\n"))
                widget.styles.width, widget.styles.height = w, h
                widget.styles.offset = _edge_offset(name, w, h, width, height)
        self._place_message()
        self._send_labels()

    def labels(self) -> tuple[Label, ...]:
        """The text as labels, placed as the widgets are: corners, edges, message."""
        width, height = self.content_size
        labels: list[Label] = []
        if self.shown:
            limit = corner_width(width, 2)
            corners = self._corners
            texts = (corners.top_left, corners.top_right, corners.bottom_left, corners.bottom_right)
            blocks = tuple(clip_block(text, limit) for text in texts)
            widgets = tuple(self.query_one(f"#ov-{name}") for name in CORNERS)
            labels.extend(corner_labels(blocks, width, height, widgets))
            for name, label in zip(EDGES, self._edges, strict=True):
                text = clip_block(label, max(1, width))
                if text:
                    w, h = block_width(text), len(text.split("\n"))
                    offset = _edge_offset(name, w, h, width, height)
                    widget = self.query_one(f"#ori-{name}")
                    labels.append(placed_label(text, offset, (w, h), widget))
        if self.message:
            text = fmt.clip(self.message, max(10, width - 2))
            offset = (max(0, (width - len(text) - 2) // 2), height // 2)
            message = self.query_one("#viewer-message")
            labels.append(placed_label(text, offset, (len(text) + 2, 1), message, pad=1))
        return tuple(labels)

    def _send_labels(self) -> None:
        """On Sixel: the text goes to the picture as labels."""
        if self.is_mounted and draws_labels(self.image):
            send_labels(self.image, self.labels())

    def _update(self, widget: Static, text: str) -> bool:
        """Give ``widget`` its text and show it when it has some (not on Sixel, where the
        picture draws it); True if shown."""
        if widget.content != text:
            widget.update(text)
        widget.display = self.shown and bool(text) and not draws_labels(self.image)
        return widget.display

    def _place_message(self) -> None:
        widget = self.query_one("#viewer-message", Static)
        widget.display = bool(self.message) and not draws_labels(self.image)
        if self.message:
            width, height = self.content_size
            text = fmt.clip(self.message, max(10, width - 2))
            widget.update(text)
            widget.styles.width = len(text) + 2
            widget.styles.height = 1
            widget.styles.offset = (max(0, (width - len(text) - 2) // 2), height // 2)


def _edge_offset(name: str, w: int, h: int, width: int, height: int) -> tuple[int, int]:
    """Where an orientation label of ``w`` x ``h`` cells goes: the middle of its edge."""
    x, y = {
        "top": ((width - w) // 2, 0),
        "bottom": ((width - w) // 2, height - h),
        "left": (0, (height - h) // 2),
        "right": (width - w, (height - h) // 2),
    }[name]
    return max(0, x), max(0, y)
