"""Snapshots of each screen with the half-cell renderer and the deterministic demo data.

Review changes before accepting them: ``pytest tests/app --snapshot-update`` rewrites
``__snapshots__/`` (look at the SVGs in a browser).
"""

from __future__ import annotations

from typing import Any

from apphelpers import SIZE, browser_listed, open_study, settle, thumbnails_done, until
from textual.pilot import Pilot

from tuipacs.store.archive import Archive


async def _viewer(pilot: Pilot[object]) -> None:
    await open_study(pilot, 0)


async def _viewer_changed(pilot: Pilot[object]) -> None:
    await open_study(pilot, 0)
    await pilot.press("j", "j", "4", "r", "plus", "plus", "plus", "c", "right", "m")
    await settle(pilot)


async def _help(pilot: Pilot[object]) -> None:
    await open_study(pilot, 0)
    await pilot.press("question_mark")
    await pilot.pause()


async def _tags(pilot: Pilot[object]) -> None:
    await open_study(pilot, 0)
    await pilot.press("t")
    await until(pilot, lambda: getattr(pilot.app.screen, "entries", None), "the tag browser")
    await pilot.press(*"patient")
    await pilot.pause()


async def _browser(pilot: Pilot[object]) -> None:
    from textual.widgets import DataTable

    await browser_listed(pilot)
    table = pilot.app.screen.query_one("#series", DataTable)
    await thumbnails_done(pilot, table.row_count)


def test_browser_snapshot(archive: Archive, make_app: Any, snap_compare: Any) -> None:
    assert snap_compare(make_app(archive), terminal_size=SIZE, run_before=_browser)


def test_viewer_snapshot(archive: Archive, make_app: Any, snap_compare: Any) -> None:
    assert snap_compare(make_app(archive), terminal_size=SIZE, run_before=_viewer)


def test_viewer_changed_snapshot(archive: Archive, make_app: Any, snap_compare: Any) -> None:
    assert snap_compare(make_app(archive), terminal_size=SIZE, run_before=_viewer_changed)


def test_help_snapshot(archive: Archive, make_app: Any, snap_compare: Any) -> None:
    assert snap_compare(make_app(archive), terminal_size=SIZE, run_before=_help)


def test_tags_snapshot(archive: Archive, make_app: Any, snap_compare: Any) -> None:
    assert snap_compare(make_app(archive), terminal_size=SIZE, run_before=_tags)


def test_light_theme_snapshot(archive: Archive, make_app: Any, snap_compare: Any) -> None:
    assert snap_compare(make_app(archive, theme="light"), terminal_size=SIZE, run_before=_browser)


def test_browser_80x24_snapshot(archive: Archive, make_app: Any, snap_compare: Any) -> None:
    """The browser on the smallest common terminal: the reading columns, the thumbnail card
    whole beside the series, ? and q in the footer."""
    assert snap_compare(make_app(archive), terminal_size=(80, 24), run_before=_browser)
