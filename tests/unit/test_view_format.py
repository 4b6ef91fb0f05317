"""The text helpers behind the browser's filter and cells: folding and cutting to width."""

from __future__ import annotations

from rich.cells import cell_len

from tuipacs.view import format as fmt


def test_fold_ignores_case_and_accents() -> None:
    assert fmt.fold("Müller") == "muller"
    assert fmt.fold("MÜLLER") == "muller"
    assert fmt.fold("Núñez García^Zoë") == "nunez garcia^zoe"
    assert fmt.fold("Ecocardiografía TRANSTORÁCICA") == "ecocardiografia transtoracica"
    assert fmt.fold("Straße") == "strasse"
    assert fmt.fold("ＣＴ") == "ct"  # full-width letters
    assert fmt.fold("ℌ") == "h"  # a compatibility form that decomposes to a capital
    assert fmt.fold("山田^太郎") == "山田^太郎"  # no case, no accents: unchanged


def test_clip_keeps_what_fits_and_marks_a_cut() -> None:
    assert fmt.clip("ACC2403150042", 16) == "ACC2403150042"
    assert fmt.clip("ACC2403150042", 13) == "ACC2403150042"
    assert fmt.clip("ACC2403150042", 12) == "ACC24031500…"
    assert fmt.clip("abc", 0) == ""
    assert fmt.clip("abc", 1) == "…"


def test_clip_counts_terminal_cells() -> None:
    assert fmt.clip("頭部MRI Head", 12) == "頭部MRI Head"  # two wide characters: 12 cells
    cut = fmt.clip("頭部MRI Head", 4)
    assert cut == "頭…" and cell_len(cut) <= 4
    assert cell_len(fmt.clip("山田太郎", 6)) <= 6
