"""The priors' ranking, merging and patient matching (tuipacs.view.priors), and the local
search by the archive's identity rules (tuipacs.view.priors_find)."""

from __future__ import annotations

from datetime import date

import pytest

from tuipacs.view.priors import (
    Candidate,
    distance_text,
    merge,
    modality_codes,
    parse_date,
    rank,
    region_terms,
    same_patient,
)

CURRENT = Candidate("1.9", "20240315", ("CT",), ("CHEST",), "CT THORAX WITH CONTRAST")


def order(candidates: list[Candidate]) -> list[str]:
    """The UIDs in ranked order for CURRENT."""
    return [p.candidate.study_uid for p in rank(CURRENT, candidates)]


def test_the_nearest_comparable_prior_comes_first() -> None:
    near_other_region = Candidate("1.1", "20240301", ("CT",), ("ABDOMEN",), "")
    far_same = Candidate("1.2", "20200101", ("CT",), (), "CHEST CT")
    near_same = Candidate("1.3", "20230110", ("CT",), ("CHEST",), "")
    later_same = Candidate("1.4", "20240401", ("CT",), ("CHEST",), "")
    undated_same = Candidate("1.5", "", ("CT",), ("CHEST",), "")
    other_modality = Candidate("1.6", "20240314", ("MR",), (), "BRAIN")
    chest_xray = Candidate("1.7", "20240201", ("DX",), ("CHEST",), "")
    ranked = order(
        [near_other_region, far_same, near_same, later_same, undated_same, other_modality,
         chest_xray]
    )  # fmt: skip
    # same modality and region: priors nearest first, then later, then undated;
    # then same modality; then same region; then neither
    assert ranked == ["1.3", "1.2", "1.4", "1.5", "1.1", "1.7", "1.6"]


def test_reasons_say_what_matched_and_how_far() -> None:
    cands = [
        Candidate("1.1", "20230110", ("CT",), ("CHEST",), ""),
        Candidate("1.2", "20240318", ("CT",), ("ABDOMEN",), ""),
        Candidate("1.3", "20240315", ("MR",), (), "BRAIN"),
        Candidate("1.4", "2024", ("DX",), ("LUNG",), ""),
    ]
    reasons = {p.candidate.study_uid: p.reason for p in rank(CURRENT, cands)}
    assert reasons == {
        "1.1": "CT CHEST, 1 y 2 m earlier",
        "1.2": "CT, other region, 3 d later",
        "1.3": "other modality and region, same day",
        "1.4": "CHEST, other modality, no date",  # LUNG folds onto CHEST
    }


def test_the_current_study_is_never_its_own_prior() -> None:
    assert order([CURRENT, Candidate("1.1", "20200101", ("CT",))]) == ["1.1"]


def test_description_keywords_stand_for_the_body_part() -> None:
    """A node does not answer BodyPartExamined at the study level: the description's words
    (not its modality words or filler) say the region."""
    assert region_terms((), "MRI BRAIN W/O CONTRAST") == {"HEAD"}
    assert region_terms(("CHEST",), "CT THORAX ROUTINE 2") == {"CHEST"}
    cands = [
        Candidate("1.1", "20240101", ("CT",), (), "ABDOMEN ROUTINE"),
        Candidate("1.2", "20200101", ("CT",), (), "THORAX HR"),
    ]
    assert order(cands) == ["1.2", "1.1"]


def test_merge_keeps_one_per_study_the_local_one_winning() -> None:
    here = [Candidate("1.1", "20240101", ("CT",), images=10), Candidate("1.2", images=3)]
    node = [
        Candidate("1.1", "20240101", ("CT",), images=99, where="node"),
        Candidate("1.3", "20230101", ("MR",), images=5, where="node"),
        Candidate("", "20230101", ("MR",), where="node"),
    ]
    merged = {c.study_uid: c for c in merge(here, node)}
    assert set(merged) == {"1.1", "1.2", "1.3"}
    assert (merged["1.1"].where, merged["1.1"].images) == ("both", 10)
    assert (merged["1.2"].where, merged["1.3"].where) == ("here", "node")


@pytest.mark.parametrize(
    ("other_id", "other_issuer", "same"),
    [
        ("P1", "", True),  # the node did not give an issuer
        ("P1", None, True),
        ("P1", "HOSP_A", True),
        (" P1 ", "HOSP_A ", True),
        ("P1", "HOSP_B", False),  # another issuer: another patient
        ("P2", "HOSP_A", False),
        ("p1", "HOSP_A", False),
        ("P*", "", False),  # a wildcard answer is not the ID
    ],
)
def test_same_patient_by_id_and_issuer(other_id: str, other_issuer: str | None, same: bool) -> None:
    assert same_patient("P1", "HOSP_A", other_id, other_issuer) is same


def test_no_patient_id_matches_nothing() -> None:
    assert not same_patient("", "", "", "")
    assert not same_patient("  ", "", "  ", None)


def test_dates_and_distances() -> None:
    assert parse_date("20240229") == date(2024, 2, 29)
    for bad in ("20230229", "2024-01-01", "", "2024013", "２０２４０１０１", "99999999"):
        assert parse_date(bad) is None
    now = date(2024, 3, 15)
    assert distance_text(now, date(2023, 1, 10)) == "1 y 2 m earlier"
    assert distance_text(now, date(2022, 3, 15)) == "2 y earlier"
    assert distance_text(now, date(2024, 2, 16)) == "28 d earlier"
    assert distance_text(now, date(2024, 3, 15)) == "same day"
    assert distance_text(now, date(2024, 5, 15)) == "2 m later"


def test_hostile_values_are_bounded_and_codes_only() -> None:
    assert modality_codes("CT\\SR\\\x1b[31m\\ct\\" + "X" * 40) == ("CT", "SR")
    assert len(region_terms((), " ".join(f"WORD{i}X" for i in range(1000)))) <= 32
    cand = Candidate("1.1", "\x1b[2J", ("CT",), (), "\x1b]0;pwn\x07CHEST")
    (prior,) = rank(CURRENT, [cand])
    assert "\x1b" not in prior.reason and prior.reason.endswith("no date")
