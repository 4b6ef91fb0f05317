"""Issue 12, finding 3, in the TUI: a study whose every text field (and, in a second study,
every UID) carries escape sequences, C1 controls, BEL, newlines and bidi overrides.

What is checked is what Textual would write to the terminal for a full repaint of the
screen (its own colour and cursor sequences taken out): no ESC, no other control, no C1,
no bidi character from the data; and the placeholder is on screen, so the user sees that
something was there.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apphelpers import SIZE, settle, thumbnails_done, until
from hostile_text import hostile, index_as_legacy, unsafe_characters, write_hostile_study
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable

from tuipacs.app.messages import LoadFailed, RemoteQueryFailed, RemoteStudiesFound
from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.screens.tags import TagScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.remote_panel import RemoteStudy
from tuipacs.safe_text import PLACEHOLDER
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths

#: What Textual itself writes: SGR (colours, styles) and cursor positioning.
TEXTUAL_SEQUENCES = re.compile(r"\x1b\[[0-9;:]*m|\x1b\[\d+;\d+H")
#: The attack of the issue, defused: the placeholder before the OSC 52 body.
DEFUSED = f"{PLACEHOLDER}]52;c;cm0gLXJmIH4K{PLACEHOLDER}"


def terminal_output(pilot: Pilot[object]) -> str:
    """What Textual writes to the terminal to paint the whole screen (as for a
    screenshot, but the terminal's byte stream instead of an SVG)."""
    app = pilot.app
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def screen_text(pilot: Pilot[object]) -> str:
    """The characters on screen, row by row."""
    return "\n".join(strip.text for strip in pilot.app.screen._compositor.render_strips())


def assert_safe(pilot: Pilot[object], placeholder: bool = True) -> str:
    """No control, C1 or bidi character from the data reaches the terminal (Textual's own
    sequences and line breaks aside); returns the screen's text."""
    output = TEXTUAL_SEQUENCES.sub("", terminal_output(pilot))
    assert "\x1b" not in output
    assert [c for c in unsafe_characters(output) if c not in "\n\r"] == []
    text = screen_text(pilot)
    assert unsafe_characters(text.replace("\n", "")) == []
    if placeholder:
        assert PLACEHOLDER in text
    return text


async def wait_for(pilot: Pilot[object], what: str, done: Callable[[], object]) -> None:
    """Let the app run until ``done()`` is true (checked after each message; 10 s is a
    hang, not a speed bound)."""
    await until(pilot, done, what)


@pytest.fixture
def hostile_archive(tmp_path: Path) -> Archive:
    """An archive of two hostile studies: text fields; text fields and UIDs. Import refuses
    invalid UIDs now, so the second is indexed as an older tuipacs did (index_as_legacy):
    an archive may still hold such UIDs, and they must show defused."""
    write_hostile_study(tmp_path / "in" / "text")
    write_hostile_study(tmp_path / "legacy", hostile_uids=True)
    assert index_as_legacy(tmp_path / "archive", tmp_path / "legacy") == 2
    archive = Archive.open(tmp_path / "archive")
    summary = import_paths(archive, [tmp_path / "in"])
    assert summary.added == 2 and not summary.errors
    return archive


async def browser_loaded(pilot: Pilot[object]) -> BrowserScreen:
    """The browser once its tables and the thumbnail of the highlighted study are shown."""
    screen = pilot.app.screen
    assert isinstance(screen, BrowserScreen)
    series = screen.query_one("#series", DataTable)
    await wait_for(pilot, "the browser", lambda: len(screen.all_studies) == 2 and series.row_count)
    await thumbnails_done(pilot, 1)
    return screen


@pytest.mark.parametrize("row", [0, 1])
async def test_browser_series_and_thumbnails_hold_no_control(
    hostile_archive: Archive, make_app: Any, row: int
) -> None:
    async with make_app(hostile_archive).run_test(size=SIZE) as pilot:
        screen = await browser_loaded(pilot)
        screen.query_one("#studies", DataTable).move_cursor(row=row)
        await wait_for(
            pilot, "the series", lambda: screen.series_study == screen.shown[row].study_uid
        )
        await thumbnails_done(pilot, 1)
        text = assert_safe(pilot)
        assert "MALLORY" + PLACEHOLDER in text  # the patient's name, its payload defused
        assert "SERIES" + PLACEHOLDER in text  # the series description (table and tile)
        assert "forged line" not in [line.strip() for line in text.split("\n")]


async def test_remote_results_and_error_toasts_hold_no_control(
    hostile_archive: Archive, make_app: Any
) -> None:
    async with make_app(hostile_archive).run_test(size=SIZE) as pilot:
        screen = await browser_loaded(pilot)
        keywords = ("PatientName", "PatientID", "StudyDescription", "AccessionNumber")
        rows = []
        for number in range(2):
            found = {k: hostile(k[:6].upper()) for k in keywords}
            found["StudyInstanceUID"] = f"1.2.3.{number}\x1b[2J"
            found["StudyDate"] = "2024\x1b[2J0101"
            found["ModalitiesInStudy"] = "CT\\\x9b2J"
            found["NumberOfStudyRelatedInstances"] = "3\x07"
            rows.append(RemoteStudy.from_find(found))
        screen.remote.post_message(RemoteStudiesFound("NODE\x1b]0;pwned\x07[b]", rows))
        remote = screen.query_one("#remote", DataTable)
        await wait_for(pilot, "the remote rows", lambda: remote.row_count == 2)
        await pilot.pause()
        text = assert_safe(pilot)
        assert "PATIEN" + PLACEHOLDER in text
        assert f"Remote: NODE{PLACEHOLDER}]0;pwned{PLACEHOLDER}[b]" in text  # not markup
        # error lines that quote peer or file text: status bar and toast
        screen.remote.post_message(RemoteQueryFailed(f"query failed: {hostile('PEER')} [/]"))
        await wait_for(pilot, "the toast", lambda: "PEER" in screen_text(pilot))
        assert_safe(pilot)
        screen.post_message(LoadFailed("series", f"cannot list: {hostile('FILE')} [/]"))
        await wait_for(pilot, "the toast", lambda: "FILE" in screen_text(pilot))
        assert "FILE" + PLACEHOLDER in assert_safe(pilot)


async def open_viewer(pilot: Pilot[object], row: int) -> ViewerScreen:
    screen = await browser_loaded(pilot)
    screen.query_one("#studies", DataTable).move_cursor(row=row)
    await pilot.pause()
    await pilot.press("enter")
    await settle(pilot)
    viewer = pilot.app.screen
    assert isinstance(viewer, ViewerScreen)
    return viewer


@pytest.mark.parametrize("row", [0, 1])
async def test_viewer_overlays_hold_no_control(
    hostile_archive: Archive, make_app: Any, row: int
) -> None:
    async with make_app(hostile_archive).run_test(size=SIZE) as pilot:
        viewer = await open_viewer(pilot, row)
        assert viewer.frame is not None
        text = assert_safe(pilot)
        overlay = viewer.overlay_text()
        assert unsafe_characters(overlay.replace("\n", "")) == []
        assert "MALLORY" + PLACEHOLDER in overlay and "PATIEN" + PLACEHOLDER in overlay
        assert "STUDYD" + PLACEHOLDER in overlay and "SERIES" + PLACEHOLDER in overlay
        assert "INSTIT" + PLACEHOLDER in overlay and "WINDOW" + PLACEHOLDER not in overlay
        # a newline in a value adds no overlay line: one line per fact
        assert "forged line" not in [line.strip() for line in text.split("\n")]
        # the file's own window, named by its hostile explanation
        key = next(c.key for c in viewer.choices if c.name == "file1")
        await pilot.press(key)
        await settle(pilot)
        assert "WINDOW" + PLACEHOLDER in assert_safe(pilot)
        viewer.show_message(f"image 1: {hostile('DECODER')}")
        await pilot.pause()
        assert "DECODER" + PLACEHOLDER in assert_safe(pilot)


async def test_viewer_help_with_hostile_preset_names_holds_no_control(
    hostile_archive: Archive, make_app: Any
) -> None:
    async with make_app(hostile_archive).run_test(size=SIZE) as pilot:
        await open_viewer(pilot, 0)
        await pilot.press("question_mark")
        await pilot.pause()
        # the presets open the help, above the keys: in view from the start
        assert "WINDOW" + PLACEHOLDER in assert_safe(pilot)


async def test_tag_browser_holds_no_control(hostile_archive: Archive, make_app: Any) -> None:
    async with make_app(hostile_archive).run_test(size=SIZE) as pilot:
        await open_viewer(pilot, 1)
        await pilot.press("t")
        tags = pilot.app.screen
        assert isinstance(tags, TagScreen)
        await wait_for(pilot, "the header", lambda: tags.entries)
        assert_safe(pilot)
        await pilot.press(*"pwned")  # only the hostile values, all on screen
        await pilot.pause()
        text = assert_safe(pilot)
        for name in ("MALLORY", "PATIEN", "ACCESS", "STUDYD", "SERIES", "REFERR", "INSTIT"):
            assert name + PLACEHOLDER in text, name
        for name in ("BODYPA", "MODALI", "MANUFA", "WINDOW"):
            assert name + PLACEHOLDER in text, name
