"""The help screen is made from the bindings: every listed key is bound, every bound key of a
screen is listed (or is a variant its row names), with one way of writing keys."""

from __future__ import annotations

from textual.binding import Binding

from tuipacs.app.app import TuipacsApp
from tuipacs.app.keymap import Key, help_sections, key_label, row_keys
from tuipacs.app.screens.browser import SECTIONS as BROWSER_SECTIONS
from tuipacs.app.screens.browser import BrowserScreen
from tuipacs.app.screens.tags import TagScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.screens.viewer_keys import SECTIONS as VIEWER_SECTIONS
from tuipacs.app.widgets.study_table import BrowserTable, FilterInput


def test_key_labels() -> None:
    assert [key_label(k) for k in ("pagedown", "ctrl+r", "f5", "H", "question_mark")] == [
        "PgDn",
        "Ctrl+R",
        "F5",
        "H",
        "?",
    ]
    digits = [Binding(str(n), f"preset({n})") for n in range(1, 10)]
    assert row_keys(digits) == "1 .. 9"
    arrows = ("left", "right", "up", "down")
    pans = [Binding(f"{k},ctrl+{a}", "pan") for k, a in zip("HLKJ", arrows, strict=True)]
    assert row_keys(pans) == "H / L / K / J, Ctrl+arrows"
    assert row_keys([Binding("escape,backspace", "back")]) == "Escape, Backspace"


def test_viewer_help_lists_every_viewer_key() -> None:
    sections = help_sections([*ViewerScreen.BINDINGS, *TuipacsApp.BINDINGS], VIEWER_SECTIONS)
    assert [title for title, _rows in sections] == [*VIEWER_SECTIONS, "App"]
    listed = " ".join(keys for _title, rows in sections for keys, _text in rows)
    for binding in ViewerScreen.BINDINGS:
        assert isinstance(binding, Binding)
        if isinstance(binding, Key):
            assert binding.section and binding.tooltip, binding.key
            for key in binding.key.split(","):
                assert key_label(key) in listed or "arrows" in listed, key
        else:  # the Shift variants of the arrows, named in their rows' text
            assert binding.key.startswith("shift+") and binding.description == "fine"
    texts = [text for _title, rows in sections for _keys, text in rows]
    assert any("(Shift: fine)" in text for text in texts)


def test_browser_and_tags_help_come_from_their_widgets_too() -> None:
    bindings = [
        *BrowserScreen.BINDINGS,
        *FilterInput.BINDINGS,
        *BrowserTable.BINDINGS,
        *TuipacsApp.BINDINGS,
    ]
    sections = dict(help_sections(bindings, BROWSER_SECTIONS))
    assert list(sections) == list(BROWSER_SECTIONS)
    assert ("Enter / Down", "from the filter: back to the studies") in sections["Find"]
    assert ("PgUp / PgDn", "a page up / down") in sections["Open"]
    assert ("q / Ctrl+Q", "quit") in sections["App"]
    tags = dict(help_sections(TagScreen.BINDINGS))
    assert [keys for keys, _text in tags["Tags"]] == ["Escape", "/", "e", "?"]


def test_a_new_key_shows_up_in_the_help_by_itself() -> None:
    extra = Key("z", "zap", "Zap", section="View", tooltip="a key added later")
    sections = dict(help_sections([*ViewerScreen.BINDINGS, extra], VIEWER_SECTIONS))
    assert ("z", "a key added later") in sections["View"]
