"""Presets beyond nine: every preset of a modality is offered (keys 1 .. 9, 0, then the list),
the file's second and further windows among them (named by their explanation, made safe),
and the reader's own presets from [presets.MODALITY] in config.toml, checked as untrusted
input: a bad entry is skipped with one line naming the file, line and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from tuipacs import config, config_presets
from tuipacs.cli import main
from tuipacs.imaging import presets
from tuipacs.imaging.voi import Window, file_windows
from tuipacs.safe_text import PLACEHOLDER
from tuipacs.view.state import preset_choices


def _ct_with_windows(centers: list[float], widths: list[float], notes: list[str]) -> Dataset:
    ds = Dataset()
    ds.Modality = "CT"
    ds.WindowCenter = centers
    ds.WindowWidth = widths
    ds.WindowCenterWidthExplanation = notes
    return ds


def test_every_ct_preset_has_a_place_and_the_tenth_is_key_0() -> None:
    ds = _ct_with_windows([40, 300], [400, 1500], ["SOFT", "BONE"])
    choices = preset_choices("CT", file_windows(ds))
    names = [c.name for c in choices]
    assert names[:8] == [p.name for p in presets.CT_PRESETS]
    assert names[8:] == ["file1", "file2", "minmax", "auto"]
    assert [c.key for c in choices] == [*"1234567890", "", ""]
    second = choices[9]
    assert (second.label, second.window) == ("BONE", Window(300, 1500, "BONE"))


@pytest.mark.filterwarnings("ignore:The value length")
def test_a_file_window_explanation_is_made_safe_and_cut_short() -> None:
    hostile = "EVIL\x1b]52;c;cm0gLXJmIH4K\x07" + "x" * 10_000
    ds = _ct_with_windows([40, 50], [400, 500], ["", hostile])
    first, second = preset_choices("MR", file_windows(ds))[:2]
    assert first.label == "file 1"  # no explanation: named by its number
    assert second.label.startswith("EVIL" + PLACEHOLDER)
    assert second.label.isprintable() and len(second.label) == presets.MAX_LABEL


def test_a_file_with_thousands_of_windows_offers_a_bounded_list() -> None:
    windows = [Window(float(n), 100.0) for n in range(5000)]
    choices = preset_choices("MR", windows)
    assert len([c for c in choices if c.name.startswith("file")]) == presets.MAX_FILE_WINDOWS
    assert [c.name for c in choices[-2:]] == ["minmax", "auto"]


def test_a_file_window_that_is_not_finite_is_no_preset() -> None:
    windows = [Window(float("nan"), 400), Window(40, float("inf")), Window(1e308, 1e308)]
    choices = preset_choices("MR", [*windows, Window(40, 400, "OK")])
    assert [(c.name, c.label) for c in choices][0] == ("file1", "OK")
    assert [c.name for c in choices[1:]] == ["minmax", "auto"]


def test_user_presets_replace_a_built_in_by_name_and_follow_the_others() -> None:
    user = {"CT": [("lung ", -500.0, 1600.0), ("Lung wide", -500.0, 2000.0)], "MR": []}
    ct = presets.presets_for("ct", user)
    lung = next(p for p in ct if p.name == "lung")
    assert (lung.center, lung.width) == (-500.0, 1600.0)  # in place: still key 4
    assert [p.name for p in ct if p.is_fixed].index("lung") == 3
    assert ct[-1] == presets.Preset("user:Lung wide", "Lung wide", -500.0, 2000.0)
    mr = preset_choices("MR", [], {"MR": [("T2 soft", 400.0, 800.0)]})
    assert [(c.key, c.label) for c in mr] == [("1", "T2 soft"), ("2", "Min-max"), ("3", "Auto")]
    assert mr[0].window == Window(400.0, 800.0, "T2 SOFT")
    # a user preset called 'file' is not the file's own window (state.window_name 'file')
    odd = preset_choices("US", [], {"US": [("file", 1.0, 2.0)]})
    assert odd[0].name == "user:file"


def _load(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)


def test_presets_from_config(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        '[presets.CT]\n"Lung wide" = [-500, 2000]   # center, width\nBone = [480.5, 2500]\n'
        '\n[presets.mr]\n"T2 soft" = [400, 800]\n',
    )
    assert cfg.warnings == []
    assert cfg.presets == {
        "CT": [("Lung wide", -500.0, 2000.0), ("Bone", 480.5, 2500.0)],
        "MR": [("T2 soft", 400.0, 800.0)],
    }


HOSTILE = [
    ('"NaN window" = [nan, 400]', 2, "finite"),
    ('"inf" = [40, inf]', 2, "finite"),
    ('"negative" = [40, -400]', 2, "at least 1"),
    ('"zero" = [40, 0]', 2, "at least 1"),
    ('"tiny" = [40, 0.5]', 2, "at least 1"),
    ('"huge" = [9223372036854775807, 400]', 2, "finite, at most 10,000,000"),
    ('"text" = ["40", "400"]', 2, "two numbers"),
    ('"one" = [40]', 2, "two numbers"),
    ('"three" = [40, 400, 1]', 2, "two numbers"),
    ('"bool" = [true, 400]', 2, "two numbers"),
    ('"table" = {center = 40, width = 400}', 2, "two numbers"),
    ('"scalar" = 40', 2, "two numbers"),
    ('"" = [40, 400]', 2, "needs a name"),
    ('"esc\\u001b[31m" = [40, 400]', 1, "printable"),  # line of its table
]


@pytest.mark.parametrize(("entry", "line", "problem"), HOSTILE)
def test_a_bad_preset_is_skipped_with_one_line_and_the_rest_loads(
    tmp_path: Path, entry: str, line: int, problem: str
) -> None:
    text = f'[presets.CT]\n{entry}\n"Good" = [40, 400]\n\n[serve]\nsync = false\n'
    cfg = _load(tmp_path, "port = 4000\n" + text)
    assert cfg.port == 4000 and cfg.serve_sync is False  # the rest of the file counts
    assert cfg.presets == {"CT": [("Good", 40.0, 400.0)]}
    [warning] = cfg.warnings
    assert warning.startswith(f"{tmp_path / 'config.toml'}:{line + 1}: key 'presets.CT.")
    assert problem in warning and warning.endswith("; skipped")
    assert warning.isprintable()


def test_a_10kb_name_is_refused_and_not_echoed_whole(tmp_path: Path) -> None:
    name = "N" * 10_240
    cfg = _load(tmp_path, f'[presets.CT]\n"{name}" = [40, 400]\n')
    assert cfg.presets == {}
    [warning] = cfg.warnings
    assert "at most 40 characters" in warning and ":2: key 'presets.CT.NNN" in warning
    assert len(warning) < len(str(tmp_path)) + 200


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("presets = 5\n", "expected tables like [presets.CT]"),
        ("[presets]\nCT = 5\n", "must be a table"),
        ('[presets."C T"]\nx = [1, 2]\n', "a modality is like CT"),
        ('[presets."\\u001b]0;pwn\\u0007"]\nx = [1, 2]\n', "a modality is like CT"),
    ],
)
def test_a_bad_presets_table_is_skipped_with_one_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    cfg = _load(tmp_path, "ae_title = 'ME'\n" + text)
    assert cfg.ae_title == "ME" and cfg.presets == {}
    [warning] = cfg.warnings
    assert problem in warning and warning.isprintable() and "\n" not in warning


def test_presets_per_modality_are_bounded(tmp_path: Path) -> None:
    entries = "".join(f'"p{n}" = [{n}, 100]\n' for n in range(config_presets.MAX_PRESETS + 8))
    cfg = _load(tmp_path, f"[presets.CT]\n{entries}")
    assert len(cfg.presets["CT"]) == config_presets.MAX_PRESETS
    [warning] = cfg.warnings
    assert f"more than {config_presets.MAX_PRESETS} presets" in warning


def test_the_readme_sample_presets_load_as_documented() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text(encoding="utf-8")
    start = text.index("```toml", text.index("## Configuration")) + len("```toml\n")
    sample = text[start : text.index("```", start)]
    cfg = config.parse_text(readme, sample)
    assert cfg.warnings == []
    assert cfg.presets["CT"] == [("Lung wide", -500.0, 2000.0), ("Lung", -550.0, 1600.0)]
    ct = preset_choices("CT", [], cfg.presets)
    assert [(c.key, c.label) for c in ct][3] == ("4", "Lung")  # in place of the built-in
    assert ct[3].window == Window(-550.0, 1600.0, "LUNG")
    assert ct[8].label == "Lung wide"


def test_config_check_prints_each_skipped_preset(
    tuipacs_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tuipacs_home / "config.toml"
    path.write_text("[presets.CT]\nGood = [40, 400]\nBad = [40, -1]\n", encoding="utf-8")
    assert main(["config", "check"]) == 0
    captured = capsys.readouterr()
    assert "ok" in captured.out
    [line] = captured.err.splitlines()
    assert line.startswith("tuipacs: warning: ") and ":3: key 'presets.CT.Bad'" in line
    assert main(["config", "check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and len(report["warnings"]) == 1
