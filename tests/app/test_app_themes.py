"""Themes as TOML data files, their lookup folders, and the app's choice of theme."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from apphelpers import SIZE

from tuipacs.app import themes
from tuipacs.app.app import build_app
from tuipacs.config import Config
from tuipacs.store.archive import Archive

REPO_THEMES = Path(__file__).resolve().parents[2] / "themes"
SHIPPED = {"reading-room", "light", "high-contrast"}


def test_shipped_themes_load() -> None:
    found = themes.load_themes([REPO_THEMES])
    assert set(found.themes) == SHIPPED
    assert found.warnings == []
    reading = found.themes["reading-room"]
    assert reading.dark and reading.background == "#0b0c0e"
    assert not found.themes["light"].dark
    assert found.themes["high-contrast"].variables["viewer-background"] == "#000000"


def test_search_order_checkout_installed_user(tuipacs_home: Path) -> None:
    dirs = themes.theme_dirs()
    assert dirs[0] == REPO_THEMES
    assert dirs[1] == Path(sys.prefix) / "share" / "tuipacs" / "themes"
    assert dirs[2] == tuipacs_home / "themes"


def test_user_theme_overrides_and_bad_files_are_warnings(tuipacs_home: Path) -> None:
    user = tuipacs_home / "themes"
    user.mkdir()
    (user / "mine.toml").write_text('name = "night"\nprimary = "#334455"\n', encoding="utf-8")
    (user / "light.toml").write_text(
        'name = "light"\nprimary = "#101010"\ndark = false\n', encoding="utf-8"
    )
    (user / "broken.toml").write_text("name = [\n", encoding="utf-8")
    (user / "badcolour.toml").write_text('primary = "not-a-colour"\n', encoding="utf-8")
    found = themes.load_themes()
    assert SHIPPED | {"night"} <= set(found.themes)
    assert found.themes["light"].primary == "#101010"
    assert len(found.warnings) == 2
    assert any("broken.toml" in w and "TOML" in w for w in found.warnings)
    assert any("badcolour.toml" in w and "'primary'" in w for w in found.warnings)


def test_theme_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    with pytest.raises(themes.ThemeError, match="'primary' colour is required"):
        themes.theme_from_data(path, {"name": "x"})
    with pytest.raises(themes.ThemeError, match="'dark' must be true or false"):
        themes.theme_from_data(path, {"primary": "#000000", "dark": "yes"})
    with pytest.raises(themes.ThemeError, match="variables"):
        themes.theme_from_data(path, {"primary": "#000000", "variables": {"a": 1}})


def test_no_themes_found_falls_back_with_a_message(tmp_path: Path) -> None:
    found = themes.load_themes([tmp_path / "nowhere"])
    assert found.themes == {}
    assert "using Textual's textual-dark" in found.warnings[0]
    assert themes.pick_theme("reading-room", {"textual-dark": None}) == "textual-dark"  # type: ignore[dict-item]


def test_pick_theme() -> None:
    names = ["reading-room", "light", "textual-dark"]
    assert themes.pick_theme("light", names) == "light"
    assert themes.pick_theme(None, names) == "reading-room"
    assert themes.pick_theme("nope", names) == "reading-room"


async def test_app_uses_default_theme_and_registers_all(archive: Archive, make_app: Any) -> None:
    app = make_app(archive, theme=None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "reading-room"
        assert SHIPPED <= set(app.available_themes)


async def test_app_theme_argument_and_unknown_theme(archive: Archive, tuipacs_home: Path) -> None:
    app = build_app(archive, Config(theme="light"), graphics="halfcell", theme="high-contrast")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "high-contrast"
    app = build_app(archive, Config(theme="light"), graphics="halfcell")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "light"
    app = build_app(archive, Config(), graphics="halfcell", theme="purple")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "reading-room"
        messages = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("unknown theme 'purple'" in m for m in messages)


async def test_builtin_fallback_theme_still_styles_the_viewer(
    archive: Archive, tuipacs_home: Path
) -> None:
    app = build_app(
        archive, Config(), graphics="halfcell", theme_set=themes.ThemeSet(warnings=["none"])
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"
