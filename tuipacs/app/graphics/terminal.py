"""Raw output to the terminal: the one place tuipacs writes around Textual's screen.

Kitty images and Sixel pictures are escape sequences that must reach the terminal as they
are, in order with Textual's own output. Textual (8.x) has no public API for that; its own
clipboard (OSC 52), bell and cursor-shape code write through the App's driver, and so does
this adapter. Headless apps (tests) write nothing.
"""

from __future__ import annotations

from textual.app import App


def write_raw(app: App[object], data: str) -> None:
    """Write escape sequences to the terminal through Textual's output thread."""
    driver = app._driver  # no public way (see the module docstring)
    if driver is None or app.is_headless or not data:
        return
    driver.write(data)
