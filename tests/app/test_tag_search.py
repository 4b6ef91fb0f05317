"""Pilot tests of the tag browser's search box: ``/`` focuses it without typing a slash."""

from __future__ import annotations

from typing import Any

from apphelpers import SIZE, until
from textual.pilot import Pilot
from textual.widgets import Input, Tree

from tuipacs.app.screens.tags import TagScreen
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_instances, list_series, list_studies


async def tag_screen(pilot: Pilot[object], archive: Archive) -> TagScreen:
    """Open the tag browser on the first image of the first study, once its header is read."""
    study = list_studies(archive)[0]
    series = list_series(archive, study.study_uid)[0]
    path = list_instances(archive, series.series_uid)[0].path
    await pilot.pause()
    pilot.app.push_screen(TagScreen(path, "test"))

    def read() -> bool:
        screen = pilot.app.screen
        return isinstance(screen, TagScreen) and bool(screen.entries)

    await until(pilot, read, "the tag browser to read the header")
    screen = pilot.app.screen
    assert isinstance(screen, TagScreen)
    return screen


async def test_slash_from_tree_focuses_empty_search(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await tag_screen(pilot, archive)
        search = screen.query_one("#tag-search", Input)
        await pilot.press("enter")  # from the search to the tree
        assert screen.query_one("#tag-tree", Tree).has_focus
        await pilot.press("slash")
        await pilot.pause()
        assert search.has_focus
        assert search.value == ""


async def test_slash_keeps_previous_search_text(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await tag_screen(pilot, archive)
        search = screen.query_one("#tag-search", Input)
        await pilot.press(*"modality", "enter")
        assert screen.query_one("#tag-tree", Tree).has_focus
        await pilot.press("slash")
        await pilot.pause()
        assert search.has_focus
        assert search.value == "modality"


async def test_slash_in_focused_search_does_not_type(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await tag_screen(pilot, archive)
        search = screen.query_one("#tag-search", Input)
        assert search.has_focus  # the search has the focus when the screen opens
        await pilot.press("slash", *"rows")
        await pilot.pause()
        assert search.value == "rows"


async def test_slash_inside_a_search_is_typed(archive: Archive, make_app: Any) -> None:
    """A search already begun takes / as text (values such as "Thorax/Abdomen")."""
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await tag_screen(pilot, archive)
        search = screen.query_one("#tag-search", Input)
        await pilot.press(*"thorax", "slash", *"abd")
        await pilot.pause()
        assert search.value == "thorax/abd"
        labels = [str(n.label) for n in screen.query_one("#tag-tree", Tree).root.children]
        assert labels and all("Thorax/Abdomen" in label for label in labels)


async def test_search_ignores_case_and_accents(archive: Archive, make_app: Any) -> None:
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await tag_screen(pilot, archive)
        await pilot.press(*"MULLER")
        await pilot.pause()
        labels = [str(n.label) for n in screen.query_one("#tag-tree", Tree).root.children]
        assert any("PatientName" in label and "Müller" in label for label in labels)


async def test_keys_right_after_slash_go_to_the_search(archive: Archive, make_app: Any) -> None:
    """'/modality' arriving in one read from the tree searches; no key is lost."""
    from textual import events

    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await tag_screen(pilot, archive)
        search = screen.query_one("#tag-search", Input)
        await pilot.press("enter")  # from the search to the tree
        assert screen.query_one("#tag-tree", Tree).has_focus
        keys = [events.Key("slash", "/")] + [events.Key(c, c) for c in "modality"]
        for key in keys:  # queued together, before the app handles the first one
            pilot.app.post_message(key)
        await pilot.pause()
        await pilot.pause()
        assert search.has_focus and search.value == "modality"
