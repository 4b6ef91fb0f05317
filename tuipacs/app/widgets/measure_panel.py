"""The viewer's measurement panel: a narrow column beside the picture listing the image's
measurements, numbered as they are drawn (:func:`tuipacs.view.measure.listing`)."""

from __future__ import annotations

from textual.widgets import Static

EMPTY = (
    "No measurements on this image.\n\n"
    "M: tool (length, angle,\nrectangle, ellipse)\nEnter: place a point"
)


class MeasurePanel(Static):
    """The measurements of the image on screen (text made by the caller, cleaned)."""

    DEFAULT_CSS = """
    MeasurePanel {
        dock: right;
        width: 34;
        height: 1fr;
        padding: 0 1;
        border-left: solid $panel-lighten-2;
        overflow-y: auto;
        display: none;
    }
    """

    def __init__(self) -> None:
        super().__init__("", id="measure-panel", markup=False)
        self.text = ""
        """What the panel shows (also while hidden: the tests read it)."""

    def show_text(self, title: str, listing: str) -> None:
        """``title`` (which image) over ``listing``, or :data:`EMPTY` when there is none."""
        text = f"{title}\n\n{listing or EMPTY}"
        if text != self.text:
            self.text = text
            self.update(text)
