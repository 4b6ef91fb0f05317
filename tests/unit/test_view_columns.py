"""The table columns for the terminal's width: which show, how wide, who gets the rest."""

from __future__ import annotations

import pytest

from tuipacs.view.columns import Column, fit_columns

#: the browser's study columns (the same as tuipacs.app.widgets.study_table's, which this
#: Textual-free test cannot import) and their priority
STUDY = (
    Column("name", "Patient", 26, minimum=14, grow=1, limit=40),
    Column("id", "Patient ID", 12),
    Column("birth", "Birth date", 10),
    Column("sex", "Sex", 3),
    Column("date", "Study date", 16),
    Column("modality", "Mod", 7, minimum=5),
    Column("description", "Description", 34, minimum=16, grow=2),
    Column("accession", "Accession", 16),
    Column("referring", "Referring", 20, minimum=12),
    Column("series", "Ser", 4),
    Column("images", "Images", 8),
    Column("pinned", "Pin", 3),
)
PRIORITY = (
    "name", "date", "modality", "description", "images",
    "id", "pinned", "series", "birth", "accession", "referring", "sex",
)  # fmt: skip
CORE = {"name", "date", "modality", "description", "images"}


def widths(available: int) -> dict[str, int]:
    """Key -> width of the study columns shown in ``available`` cells (padding 2)."""
    columns = fit_columns(STUDY, PRIORITY, available, keep=len(CORE))
    return {key: width for key, _label, width in columns}


@pytest.mark.parametrize("available", [80, 100, 160, 250])
def test_widths_fill_the_table(available: int) -> None:
    shown = widths(available)
    assert sum(shown.values()) + 2 * len(shown) == available
    assert CORE <= set(shown)
    for column in STUDY:
        if column.key in shown:
            assert shown[column.key] >= column.narrowest, column.key


def test_80_columns_keep_the_reading_columns_only() -> None:
    shown = widths(80)
    assert set(shown) == CORE  # Patient ID does not fit, and nothing smaller takes its room
    assert shown["description"] > 16  # the spare room goes to the description
    assert shown["date"] == 16 and shown["images"] == 8  # never cut


def test_120_columns_add_the_patient_id_and_pin() -> None:
    assert set(widths(100)) == CORE  # the description and patient keep their room
    assert set(widths(120)) == CORE | {"id", "pinned"}


def test_160_columns_show_what_the_fixed_table_showed() -> None:
    shown = widths(160)
    assert set(shown) == CORE | {"id", "pinned", "series", "birth", "accession"}
    assert set(widths(158)) == set(shown)  # with a scroll bar
    for column in STUDY:
        if column.key in shown:
            assert shown[column.key] >= column.width, column.key


def test_250_columns_widen_description_and_patient_and_add_columns() -> None:
    wide, narrow = widths(250), widths(160)
    assert set(wide) == {c.key for c in STUDY}  # Sex and Referring appear
    assert wide["description"] > narrow["description"] and wide["name"] > narrow["name"]
    assert wide["name"] <= 40  # its limit; the description takes the rest
    fixed = set(wide) - {"name", "description"}
    assert all(wide[key] == next(c.width for c in STUDY if c.key == key) for key in fixed)


def test_order_is_the_tables_not_the_priority() -> None:
    keys = [key for key, _label, _width in fit_columns(STUDY, PRIORITY, 250)]
    assert keys == [c.key for c in STUDY]


def test_the_first_column_shows_even_when_nothing_fits() -> None:
    assert fit_columns(STUDY, PRIORITY, 5) == [("name", "Patient", 14)]
    assert fit_columns(STUDY, PRIORITY, 0) == [("name", "Patient", 14)]
    assert set(widths(20)) == CORE  # the kept ones all show, at their narrowest
    assert widths(20)["description"] == 16


def test_columns_left_out_of_the_priority_never_show() -> None:
    assert [k for k, _l, _w in fit_columns(STUDY, ("date", "images"), 250)] == ["date", "images"]


def test_spare_room_with_every_grower_at_its_limit_goes_to_the_last_column() -> None:
    columns = (Column("a", "A", 5, grow=1, limit=6), Column("b", "B", 4))
    assert fit_columns(columns, ("a", "b"), 30, padding=0) == [("a", "A", 6), ("b", "B", 24)]


def test_growth_follows_the_weights() -> None:
    columns = (Column("a", "A", 10, grow=1), Column("b", "B", 10, grow=2))
    assert fit_columns(columns, ("a", "b"), 50, padding=0) == [("a", "A", 20), ("b", "B", 30)]


def test_columns_shrink_to_their_minimum_in_reverse_priority() -> None:
    columns = (Column("a", "A", 20, minimum=10), Column("b", "B", 20, minimum=10))
    # both at their minimum fit in 24; "a" (first in priority) grows back first
    assert fit_columns(columns, ("a", "b"), 24, padding=0) == [("a", "A", 14), ("b", "B", 10)]
