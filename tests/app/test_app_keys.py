"""[keys] in the config: the viewer's named actions on other keys, in the help as mapped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apphelpers import HALFCELL, open_study, settle, until

from tuipacs import config
from tuipacs.app.app import build_app
from tuipacs.app.screens.help import HelpScreen
from tuipacs.app.screens.viewer_keys import viewer_bindings
from tuipacs.store.archive import Archive
from tuipacs.view.actions import VIEWER_ACTIONS, action_name

HORIZON = """
[keys]
next_image = "down,j"
previous_image = "up,k"
level_up = "shift+up"
level_down = "shift+down"
"""
"""Up/Down scroll images as in Horos and RadiAnt; the level moves with Shift."""


def load(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)


def test_every_viewer_action_has_a_name() -> None:
    actions = {b.action for b in viewer_bindings()}
    assert actions <= set(VIEWER_ACTIONS.values()), actions - set(VIEWER_ACTIONS.values())
    assert all(b.id == f"viewer.{action_name(b.action)}" for b in viewer_bindings())


async def test_up_and_down_scroll_images_when_mapped(
    archive: Archive, tmp_path: Path, tuipacs_home: Path
) -> None:
    cfg = load(tmp_path, HORIZON)
    app = build_app(archive, cfg, graphics=HALFCELL, theme="reading-room")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_study(pilot, 0)
        await pilot.press("down", "down", "j")
        await settle(pilot)
        assert screen.state.index == 3
        await pilot.press("up")
        await settle(pilot)
        assert screen.state.index == 2 and screen.state.center == 40, "up no longer moves WL"
        await pilot.press("shift+up")
        await settle(pilot)
        assert screen.state.center == 50
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        rows = dict(row for _title, rows in app.screen.sections() for row in rows)
        assert rows["Down / Up, j / k"].startswith("next / previous image"), rows
        assert rows["Shift+Up / Shift+Down"].startswith("window level"), rows


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ('[keys]\nnext_imag = "j"\n', "next_imag"),
        ('[keys]\nnext_image = "j;rm"\n', "not a key name"),
        ("[keys]\nnext_image = 3\n", "expected str"),
        ('[keys]\nnext_image = ""\n', "not a key name"),
    ],
)
def test_bad_keys_get_one_line(tmp_path: Path, text: str, what: str) -> None:
    with pytest.raises(config.ConfigError) as info:
        load(tmp_path, text)
    assert what in str(info.value) and "\n" not in str(info.value)
    assert "keys" in str(info.value)


def test_keys_are_kept_normalised(tmp_path: Path, make_app: Any) -> None:
    assert load(tmp_path, HORIZON).keys["next_image"] == "down,j"
    assert load(tmp_path, '[keys]\ncine = " space , c "\n').keys == {"cine": "space,c"}
