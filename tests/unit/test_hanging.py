"""Hanging protocols (tuipacs.view.hanging): matching, priorities, the choice of series per
viewport, the built-in set, and protocol files as hostile input (one line per file or
protocol skipped, never an exception, bounded time)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tuipacs import locations
from tuipacs.imaging.presets import preset_names
from tuipacs.safe_text import clean
from tuipacs.view.hanging import (
    GRIDS,
    Hanging,
    HangingProtocol,
    Placement,
    SeriesFacts,
    StudyFacts,
    builtin_protocols,
    hang,
    load_protocols,
    match,
    parse_text,
)

BUILT_IN = list(builtin_protocols()[0])


def study(modalities: tuple[str, ...], description: str = "", body_part: str = "") -> StudyFacts:
    """A study with these facts."""
    return StudyFacts("1.2.3", modalities, description, body_part)


def series(uid: str, description: str, number: int | None, images: int, modality: str = "CT"):
    """A series with these facts (no body part)."""
    return SeriesFacts(uid, modality, description, "", number, images)


def write(folder: Path, name: str, text: str | bytes) -> Path:
    """``text`` written to ``folder/name``."""
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def one(text: str) -> HangingProtocol:
    """The one protocol of ``text`` (which must load without a line)."""
    found, lines = parse_text(text, "mine.toml")
    assert lines == [] and len(found) == 1
    return found[0]


def where(hanging: Hanging) -> dict[int, tuple[str, str]]:
    """viewport -> (study, series UID)."""
    return {p.viewport: (p.study, p.series_uid) for p in hanging.placements}


# --- matching -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (study(("CT",), "CT THORAX W CONTRAST"), "CT chest with prior"),
        (study(("CT", "SR"), "", "CHEST"), "CT chest with prior"),  # body part alone
        (study(("CT",), "CT HEAD WO", ""), "CT head with prior"),
        (study(("CT",), "", "ABDOMEN"), "CT abdomen with prior"),
        (study(("MR",), "MRI BRAIN W/WO"), "MR brain: T1, T2, FLAIR, DWI"),
        (study(("MR",), "MR KNEE"), "Default"),  # MR, not a brain
        (study(("DX",), "XR CHEST 2 VIEWS"), "Chest radiograph with prior"),
        (study(("CR",), "", "thorax"), "Chest radiograph with prior"),  # any case
        (study(("MG",), "SCREENING MAMMO"), "Mammography: RCC LCC / RMLO LMLO"),
        (study(("US",), "US ABDOMEN"), "Ultrasound"),
        (study(("NM",), "BONE SCAN"), "Default"),
        (study((), ""), "Default"),
        (study(("MR",), "", "CHEST"), "Default"),  # region of CT chest, modality not
    ],
)
def test_built_in_matching_by_modality_body_part_and_description(
    facts: StudyFacts, expected: str
) -> None:
    found = match(BUILT_IN, facts)
    assert found is not None and found.name == expected


def test_a_rule_matches_only_the_first_256_characters() -> None:
    chest = one('[[protocol]]\nmatch.description = "chest"\n')
    assert match([chest], study(("CT",), "x" * 250 + " chest")) is chest
    assert match([chest], study(("CT",), "x" * 256 + " chest")) is None


def test_priority_then_user_before_built_in_then_file_order(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", '[[protocol]]\nname = "A chest"\nmatch.description = "chest"\n')
    write(
        tmp_path,
        "b.toml",
        '[[protocol]]\nname = "B urgent"\npriority = 10\nmatch.modality = "CT"\n'
        '[[protocol]]\nname = "B chest"\nmatch.description = "chest"\n',
    )
    protocols, lines = load_protocols(tmp_path)
    assert lines == []
    names = [p.name for p in protocols]
    assert names[:3] == ["A chest", "B urgent", "B chest"]  # user files first, by name
    assert [p.source for p in protocols[:3]] == ["a.toml", "b.toml", "b.toml"]
    assert protocols[3].source == "built-in"
    # priority wins over order, user wins over built-in at equal priority, file order last
    assert match(protocols, study(("CT",), "CT CHEST")).name == "B urgent"  # type: ignore[union-attr]
    assert match(protocols, study(("DX",), "CHEST PA")).name == "A chest"  # type: ignore[union-attr]
    assert match(protocols, study(("MG",), "MAMMO")).name.startswith("Mammo")  # type: ignore[union-attr]
    below = one('[[protocol]]\nname = "low"\npriority = -101\n')
    assert match([below, *BUILT_IN], study(("NM",))).name == "Default"  # type: ignore[union-attr]
    assert match([below], study(("NM",))) is below
    assert match([], study(("NM",))) is None


def test_no_folder_means_the_built_in_set_only(tmp_path: Path) -> None:
    assert load_protocols(tmp_path / "missing") == (BUILT_IN, [])
    assert load_protocols(None) == (BUILT_IN, [])


def test_protocols_dir_is_next_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUIPACS_HOME", str(tmp_path))
    assert locations.protocols_dir() == tmp_path / "protocols"
    assert not locations.protocols_dir().exists()  # named, not created


# --- placing series -----------------------------------------------------------------------

CT_CHEST = next(p for p in BUILT_IN if p.name == "CT chest with prior")


def test_regex_picks_the_first_by_series_number_else_the_largest() -> None:
    current = [
        series("s1", "Scout", 1, 2),
        series("s4", "Lung 5mm", 4, 80),
        series("s3", "LUNG thin 1mm", 3, 400),
        series("s2", "Soft tissue", 2, 900),
    ]
    hung = hang(CT_CHEST, study(("CT",), "CT CHEST"), current, None)
    assert hung.grid == "1x2" and hung.wants_prior and hung.protocol == CT_CHEST.name
    # viewport 0: the lowest-numbered lung series; the prior viewport, with no prior,
    # takes the current study's next unused series matching its rule
    assert hung.placements == (
        Placement(0, "current", "s3", None),  # the built-in set keeps the files' windows
        Placement(1, "current", "s4", None),
    )
    largest = one('[[protocol]]\ngrid = "1x2"\n[[protocol.viewport]]\nseries = "nothing"\n')
    assert where(hang(largest, study(("CT",)), current, None)) == {
        0: ("current", "s2"),  # no description matches: the most images
        1: ("current", "s3"),  # an unlisted viewport: the largest unused one
    }


def test_prior_viewports_take_the_prior_when_given() -> None:
    current = [series("c1", "Lung", 2, 100), series("c2", "Soft", 3, 300)]
    prior = [series("p1", "Body", 1, 50), series("p2", "thin lung", 7, 60)]
    hung = hang(CT_CHEST, study(("CT",), "CHEST"), current, prior)
    assert hung.placements == (
        Placement(0, "current", "c1", None),
        Placement(1, "prior", "p2", None),
    )
    # a prior without images is no prior: the current study's next unused series
    empty_prior = [series("p1", "Lung", 1, 0)]
    assert where(hang(CT_CHEST, study(("CT",)), current, empty_prior)) == {
        0: ("current", "c1"),
        1: ("current", "c2"),
    }


def test_no_series_twice_and_fewer_series_than_viewports() -> None:
    two_by_two = one('[[protocol]]\ngrid = "2x2"\n' + '[[protocol.viewport]]\nseries = "ax"\n' * 4)
    current = [
        series("a", "AX T1", 1, 20),
        series("b", "AX T2", 2, 20),
        series("z", "AX empty", 3, 0),  # no images: never placed
        series("a", "AX T1 again", 4, 20),  # the same UID twice (hostile): once
    ]
    hung = hang(two_by_two, study(("MR",)), current, None)
    assert where(hung) == {0: ("current", "a"), 1: ("current", "b")}  # 2 and 3 stay empty
    assert hang(two_by_two, study(("MR",)), [], None).placements == ()


def test_a_viewport_modality_only_takes_that_modality() -> None:
    ct_only = one(
        '[[protocol]]\ngrid = "1x2"\n[[protocol.viewport]]\nmodality = "ct"\npreset = "bone"\n'
        '[[protocol.viewport]]\nmodality = "CT"\n'
    )
    current = [series("pt", "PET", 1, 500, "PT"), series("ct", "CT AC", 2, 300)]
    hung = hang(ct_only, study(("CT", "PT")), current, None)
    assert hung.placements == (Placement(0, "current", "ct", "bone"),)


def test_a_preset_the_modality_has_not_is_not_applied() -> None:
    prior_dx = [series("p", "CHEST PA", 1, 1, "DX")]
    lung = one(
        '[[protocol]]\ngrid = "1x2"\n[[protocol.viewport]]\npreset = "lung"\n'
        '[[protocol.viewport]]\nstudy = "prior"\npreset = "lung"\n'
    )
    hung = hang(lung, study(("CT",)), [series("c", "lung", 1, 90)], prior_dx)
    assert hung.placements == (
        Placement(0, "current", "c", "lung"),
        Placement(1, "prior", "p", None),  # a lung window on a radiograph: no
    )
    mine = one('[[protocol]]\n[[protocol.viewport]]\npreset = "user:Lung wide"\n')
    assert hang(mine, study(("DX",)), prior_dx, None).placements[0].preset == "user:Lung wide"


def test_mr_brain_hangs_t1_t2_flair_dwi() -> None:
    brain = next(p for p in BUILT_IN if p.name.startswith("MR brain"))
    current = [
        series("loc", "3-plane loc", 1, 9, "MR"),
        series("dwi", "ep2d_diff_3scan_trace", 2, 75, "MR"),
        series("flair", "AX T2 FLAIR", 3, 30, "MR"),
        series("t2", "AX T2 TSE", 4, 30, "MR"),
        series("t1", "SAG T1 MPRAGE", 5, 176, "MR"),
    ]
    hung = hang(brain, study(("MR",), "MRI BRAIN"), current, None)
    assert hung.grid == "2x2" and not hung.wants_prior
    assert [p.series_uid for p in hung.placements] == ["t1", "t2", "flair", "dwi"]


def test_mammography_hangs_rcc_lcc_rmlo_lmlo() -> None:
    mammo = next(p for p in BUILT_IN if p.name.startswith("Mammo"))
    current = [
        series("lmlo", "L MLO", 1, 1, "MG"),
        series("rmlo", "R MLO", 2, 1, "MG"),
        series("lcc", "LCC", 3, 1, "MG"),
        series("rcc", "RCC", 4, 1, "MG"),
    ]
    hung = hang(mammo, study(("MG",)), current, None)
    assert [p.series_uid for p in hung.placements] == ["rcc", "lcc", "rmlo", "lmlo"]


def test_default_shows_the_largest_series_alone() -> None:
    default = BUILT_IN[-1]
    current = [series("a", "small", 1, 3), series("b", "big", 2, 30), series("c", "", None, 30)]
    hung = hang(default, study(("OT",)), current, [series("p", "", 1, 99)])
    assert (hung.protocol, hung.source, hung.grid) == ("Default", "built-in", "1x1")
    assert hung.placements == (Placement(0, "current", "b", None),)  # first of the largest
    assert not hung.wants_prior


# --- the built-in set ---------------------------------------------------------------------


def test_every_built_in_protocol_parses_and_names_existing_presets() -> None:
    protocols, lines = builtin_protocols()
    assert lines == ()
    names = {p.name for p in protocols}
    for wanted in ("CT chest", "CT head", "CT abdomen", "MR brain", "Chest radiograph",
                   "Mammography", "Ultrasound", "Default"):  # fmt: skip
        assert any(n.startswith(wanted) for n in names), wanted
    for protocol in protocols:
        assert protocol.grid in GRIDS and 1 <= len(protocol.viewports) <= protocol.cells
        assert protocol.source == "built-in"
        for rule in protocol.viewports:
            if rule.preset is not None:
                for modality in protocol.modalities:
                    assert rule.preset in preset_names(modality), (protocol.name, rule.preset)
    default = protocols[-1]
    assert default.name == "Default" and default.priority == -100 and default.grid == "1x1"
    assert not default.modalities and default.body_part is None and default.description is None


def test_the_readme_sample_loads_as_documented() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Hanging protocols", 1)[1]
    sample = section.split("```toml\n", 1)[1].split("```", 1)[0]
    protocol = one(sample)
    assert (protocol.name, protocol.priority, protocol.grid) == ("CT chest with prior", 10, "1x2")
    assert protocol.modalities == ("CT",) and protocol.wants_prior
    assert [(r.study, r.preset) for r in protocol.viewports] == [
        ("current", "lung"),
        ("prior", "lung"),
    ]


# --- bad files: one line each, never an exception -----------------------------------------

VIEWPORT = '[[protocol.viewport]]\nseries = "x"\n'
BAD_PROTOCOLS = {
    "wrong type": ('[[protocol]]\npriority = "high"\n', "priority must be a whole number"),
    "bool priority": ("[[protocol]]\npriority = true\n", "priority must be a whole number"),
    "unknown grid": ('[[protocol]]\ngrid = "3x3"\n', "grid '3x3' is not one of"),
    "bad regex": ('[[protocol]]\nmatch.description = "(chest"\n', "not a valid regular"),
    "long regex": (f'[[protocol]]\nmatch.body_part = "{"a" * 201}"\n', "longer than 200"),
    "nested repeat": ('[[protocol]]\nmatch.description = "(a+)+$"\n', "inside a repetition"),
    "repeated branch": ('[[protocol]]\nmatch.description = "(a|ab)*c"\n', "alternatives"),
    "three repeats": ('[[protocol]]\nmatch.description = ".*.*.*x"\n', "more than 2"),
    "back reference": ('[[protocol]]\nmatch.description = "(a)\\\\1"\n', "refers back"),
    "5 viewports": ("[[protocol]]\n" + VIEWPORT * 5, "more than 4 viewports"),
    "grid too small": ('[[protocol]]\ngrid = "1x2"\n' + VIEWPORT * 3, "grid 1x2 has 2"),
    "unknown preset": (
        '[[protocol]]\n[[protocol.viewport]]\npreset = "lungs!"\n',
        "preset 'lungs!' is not known",
    ),
    "unknown key": ('[[protocol]]\nmatch.modalty = "CT"\n', "did you mean 'modality'"),
    "bad study": ('[[protocol]]\n[[protocol.viewport]]\nstudy = "older"\n', "study must be"),
    "bad modality": ('[[protocol]]\nmatch.modality = ["C T!"]\n', "modality code"),
    "one bracket": ('[[protocol]]\n[protocol.viewport]\nseries = "x"\n', "two brackets"),
}


@pytest.mark.parametrize("case", sorted(BAD_PROTOCOLS))
def test_each_bad_protocol_is_skipped_with_one_line(tmp_path: Path, case: str) -> None:
    text, problem = BAD_PROTOCOLS[case]
    good = '[[protocol]]\nname = "fine"\n'
    write(tmp_path, "mine.toml", good + text + good.replace("fine", "also fine"))
    protocols, lines = load_protocols(tmp_path)
    assert [p.name for p in protocols if p.source == "mine.toml"] == ["fine", "also fine"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("mine.toml: protocol 2 skipped: ") and problem in lines[0]


BAD_FILES = {
    "invalid TOML": ("[[protocol]\nname = 1", "is not valid TOML"),
    "not UTF-8": (b'[[protocol]]\nname = "\xff\xfe"\n', "is not UTF-8"),
    "too large": ("#" * (256 * 1024) + "\n[[protocol]]\n", "larger than 256 KiB"),
    "no protocol": ('name = "x"\n', "unknown key 'name' at the top"),
    "empty": ("", "holds no [[protocol]]"),
    "one bracket": ('[protocol]\nname = "x"\n', "two brackets"),
    "deep key": ("[[protocol]]\n" + "a." * 20_000 + "b = 1\n", "line 2 has more than 16 dots"),
    "deep header": ("[" + "a." * 20_000 + "b]\n", "line 1 has more than 16 dots"),
    "deep arrays": ("a = " + "[" * 5_000 + "]" * 5_000 + "\n", "nests brackets"),
    "deep tables": ("a = " + "{b = " * 5_000 + "1" + "}" * 5_000, "nests brackets"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_each_bad_file_is_skipped_with_one_line(tmp_path: Path, case: str) -> None:
    text, problem = BAD_FILES[case]
    write(tmp_path, "bad.toml", text)
    write(tmp_path, "good.toml", '[[protocol]]\nname = "good"\n')
    started = time.monotonic()
    protocols, lines = load_protocols(tmp_path)
    assert time.monotonic() - started < 5  # a hang check, not a speed figure
    assert [p.name for p in protocols if p.source != "built-in"] == ["good"]
    assert len(lines) == 1 and lines[0].startswith("bad.toml: ") and problem in lines[0], lines


def test_more_than_64_protocols_keeps_the_first_64_with_one_line(tmp_path: Path) -> None:
    write(tmp_path, "many.toml", "".join(f'[[protocol]]\nname = "p{n}"\n' for n in range(70)))
    protocols, lines = load_protocols(tmp_path)
    assert [p.name for p in protocols if p.source == "many.toml"] == [f"p{n}" for n in range(64)]
    assert lines == ["many.toml: 6 protocols after the first 64 skipped: split it"]


def test_a_fifo_or_folder_named_toml_is_skipped_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.toml")  # opening it for reading would wait for a writer
    (tmp_path / "dir.toml").mkdir()
    write(tmp_path, ".hidden.toml", "not even toml")  # editors' files: ignored
    protocols, lines = load_protocols(tmp_path)
    assert protocols == BUILT_IN
    assert lines == [
        "dir.toml: is not a regular file: remove it from the protocols folder",
        "pipe.toml: is not a regular file: remove it from the protocols folder",
    ]


def test_lines_and_names_are_safe_for_a_terminal(tmp_path: Path) -> None:
    write(tmp_path, "evil\x1b]52;c;eA==\x07.toml", "[[protocol]]\nname = 3\n")
    write(tmp_path, "name.toml", '[[protocol]]\nname = "Chest\\u001b[2J\\u202e"\n')
    write(tmp_path, "key.toml", '[[protocol]]\n"k\\u001b[31m" = 1\n')
    protocols, lines = load_protocols(tmp_path)
    assert [p.name for p in protocols if p.source == "name.toml"] == ["Chest\ufffd[2J\ufffd"]
    assert len(lines) == 2
    for line in lines:
        assert clean(line) == line and "\x1b" not in line
    assert any(line.startswith("evil\ufffd]52;c;eA==\ufffd.toml: protocol 1 ") for line in lines)
