"""Raw output to the terminal: the one place tuipacs writes around Textual's screen.

Kitty images and Sixel pictures are escape sequences that must reach the terminal as they
are, in order with Textual's own output. Textual (8.x) has no public API for that; its own
clipboard (OSC 52), bell and cursor-shape code write through the App's driver, and so does
this adapter. Headless apps (tests) write nothing.

The frame gate (:mod:`tuipacs.app.graphics.flow`) must know how many bytes went out,
Textual's own screen updates included: :func:`count_writes` wraps the driver's ``write``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.driver import Driver


def driver(app: App[Any]) -> Driver | None:
    """The app's driver, None when headless or not running."""
    found = app._driver  # no public way (see the module docstring)
    if found is None or app.is_headless:
        return None
    return found


def write_raw(app: App[Any], data: str) -> None:
    """Write escape sequences to the terminal through Textual's output thread."""
    target = driver(app)
    if target is None or not data:
        return
    target.write(data)


def count_writes(app: App[Any], counted: Callable[[int], None]) -> bool:
    """Call ``counted(bytes)`` for everything the app's driver writes from now on (UTF-8
    bytes, as they reach the terminal); False when there is no driver to count."""
    target = driver(app)
    if target is None:
        return False
    write = target.write
    if getattr(write, "_tuipacs_counted", False):
        return True

    def counting_write(data: str) -> None:
        counted(len(data) if data.isascii() else len(data.encode("utf-8", "replace")))
        write(data)

    counting_write._tuipacs_counted = True  # type: ignore[attr-defined]
    target.write = counting_write  # type: ignore[method-assign]
    return True
