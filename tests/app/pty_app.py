"""A tiny app showing a synthetic CT-like frame in an ImageView (for pty and manual tests).

Run: ``python tests/app/pty_app.py [--graphics auto|kitty|sixel|halfcell] [--aspect A]``.
Keys: ``w``/``W`` widen/narrow the window, ``l``/``L`` raise/lower the level, ``n`` next
image (another phantom), ``r`` RGB test picture, ``t`` a notification, ``m`` a modal dialog
(Escape closes it), ``q`` quit. The backend comes from
``detect_graphics`` (so $TUIPACS_GRAPHICS forces it without probing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from textual.app import App, ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Static

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: synthetic pictures

from synthetic import ct_phantom, window  # noqa: E402

from tuipacs.app.widgets.image_view import ImageView  # noqa: E402
from tuipacs.view.graphics import configure, detect_graphics  # noqa: E402


def rgb_picture(size: int = 256) -> np.ndarray:
    """A colour test picture: red/green ramps and a blue disc."""
    yy, xx = np.mgrid[0:size, 0:size]
    rgb = np.zeros((size, size, 3), dtype=np.uint8)
    rgb[..., 0] = xx * 255 // (size - 1)
    rgb[..., 1] = yy * 255 // (size - 1)
    rgb[..., 2] = np.where((xx - size / 2) ** 2 + (yy - size / 2) ** 2 < (size / 4) ** 2, 255, 0)
    return rgb


class Dialog(ModalScreen[None]):
    """A small modal dialog (closes with Escape)."""

    CSS = """
    Dialog { align: center middle; }
    Dialog > Static { width: 60; height: 5; border: round white; content-align: center middle; }
    """
    BINDINGS = [("escape", "app.pop_screen", "close")]

    def compose(self) -> ComposeResult:
        yield Static("A modal dialog over the picture (Escape closes it)")


class PtyApp(App[None]):
    """One ImageView and a status line."""

    CSS = "Static { height: 1; }"
    BINDINGS = [
        ("w", "window(20, 0)", "wider"),
        ("W", "window(-20, 0)", "narrower"),
        ("l", "window(0, 10)", "level up"),
        ("L", "window(0, -10)", "level down"),
        ("n", "next_image", "next image"),
        ("r", "rgb", "rgb"),
        ("t", "toast", "notification"),
        ("m", "modal", "modal dialog"),
        ("q", "quit", "quit"),
    ]

    def __init__(self, aspect: float = 1.0) -> None:
        super().__init__()
        self.aspect = aspect
        self.index = 0
        self.hu = ct_phantom(512, seed=1)
        self.width_, self.level = 400.0, 40.0

    def compose(self) -> ComposeResult:
        yield ImageView(id="view")
        yield Static("", id="status")

    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        view = self.query_one(ImageView)
        view.show(window(self.hu, self.width_, self.level), self.aspect)
        status = f"{view.backend} W {self.width_:.0f} L {self.level:.0f} image {self.index}"
        self.query_one("#status", Static).update(status)

    def action_window(self, dw: float, dl: float) -> None:
        self.width_ = max(1.0, self.width_ + dw)
        self.level += dl
        self.redraw()

    def action_next_image(self) -> None:
        self.index += 1
        self.hu = ct_phantom(512, seed=1 + self.index, noise_hu=12.0 + self.index % 3)
        self.redraw()

    def action_toast(self) -> None:
        self.notify("A notification over the picture", timeout=1.5)

    def action_modal(self) -> None:
        self.push_screen(Dialog())

    def action_rgb(self) -> None:
        self.query_one(ImageView).show(rgb_picture(), self.aspect)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--graphics", default="auto")
    parser.add_argument("--aspect", type=float, default=1.0)
    args = parser.parse_args()
    config, _probe = detect_graphics(args.graphics)
    configure(config)
    PtyApp(aspect=args.aspect).run()


if __name__ == "__main__":
    main()
