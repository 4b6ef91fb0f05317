"""The count a node gave for a study when it was retrieved (tuipacs.store.expected): kept
per study in the index, carried by the study rows, dropped with the study, refused when
implausible; an index of the previous schema is migrated; `tuipacs ls` shows a study
retrieved only in part as `n of N` and its --json says `known_instances` and `complete`
(from the index, not the audit log)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_store import make_file

from tuipacs.cli import main
from tuipacs.store.archive import Archive
from tuipacs.store.expected import MAX_EXPECTED, forget_expected, get_expected
from tuipacs.store.query import get_study, list_studies
from tuipacs.store.schema import SCHEMA_VERSION

STUDY = "1.2.826.0.1.3680043.8.498.71"
SERIES = "1.2.826.0.1.3680043.8.498.72"


def _add(archive: Archive, folder: Path, count: int, study: str = STUDY) -> None:
    series = SERIES if study == STUDY else study + ".1"
    for n in range(count):
        archive.add_file(make_file(folder, study=study, series=series, number=n + 1))


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive.open(tmp_path / "archive")


def test_record_is_carried_by_the_study_rows(archive: Archive, tmp_path: Path) -> None:
    _add(archive, tmp_path / "in", 3)
    row = get_study(archive, STUDY)
    assert row is not None
    assert (row.known_instances, row.known_node, row.complete) == (None, "", None)
    assert archive.expected_instances(STUDY) is None

    assert archive.record_expected(STUDY, 5, "pacs")
    row = get_study(archive, STUDY)
    assert row is not None
    assert (row.num_instances, row.known_instances, row.known_node) == (3, 5, "pacs")
    assert row.complete is False
    data = row.to_json()
    assert (data["known_instances"], data["complete"]) == (5, False)
    assert "known_node" not in data
    assert archive.expected_instances(STUDY) == 5
    found = get_expected(archive, STUDY)
    assert found is not None and found.node == "pacs" and found.recorded > 0

    assert archive.record_expected(STUDY, 3, "AE@10.0.0.1:104")  # a later retrieve replaces it
    (row,) = list_studies(archive)
    assert (row.known_instances, row.known_node, row.complete) == (3, "AE@10.0.0.1:104", True)
    assert forget_expected(archive, STUDY)
    assert archive.expected_instances(STUDY) is None
    assert not forget_expected(archive, STUDY)


def test_nothing_recorded_for_an_absent_study_or_an_implausible_count(
    archive: Archive, tmp_path: Path
) -> None:
    assert not archive.record_expected(STUDY, 5, "pacs")  # nothing of it here
    _add(archive, tmp_path / "in", 1)
    for count in (0, -1, MAX_EXPECTED + 1, True):
        assert not archive.record_expected(STUDY, count, "pacs")
    assert archive.expected_instances(STUDY) is None
    assert archive.record_expected(STUDY, MAX_EXPECTED, "n" * 1000)
    found = get_expected(archive, STUDY)
    assert found is not None and found.instances == MAX_EXPECTED and len(found.node) == 200


def test_a_deleted_or_evicted_study_loses_its_record(archive: Archive, tmp_path: Path) -> None:
    other = "1.2.826.0.1.3680043.8.498.73"
    _add(archive, tmp_path / "a", 2)
    _add(archive, tmp_path / "b", 1, study=other)
    assert archive.record_expected(STUDY, 4, "pacs")
    assert archive.record_expected(other, 2, "pacs")
    archive.delete_study(STUDY)
    assert archive.connection().execute("SELECT count(*) FROM study_expected").fetchone()[0] == 1
    _add(archive, tmp_path / "c", 1)  # the same study again, imported: no stale count
    assert archive.expected_instances(STUDY) is None
    assert archive.evict(limit_bytes=0).studies == 2
    assert archive.connection().execute("SELECT count(*) FROM study_expected").fetchone()[0] == 0


def test_an_index_of_the_previous_schema_is_migrated(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    archive = Archive.open(root)
    _add(archive, tmp_path / "in", 2)
    conn = archive.connection()
    conn.executescript(f"DROP TABLE study_expected; PRAGMA user_version = {SCHEMA_VERSION - 1};")
    archive.close()
    reopened = Archive.open(root)
    version = reopened.connection().execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION
    (row,) = list_studies(reopened)
    assert (row.num_instances, row.known_instances, row.complete) == (2, None, None)
    assert reopened.record_expected(STUDY, 3, "pacs")
    assert reopened.expected_instances(STUDY) == 3


def test_ls_shows_n_of_known(
    tuipacs_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "1.2.826.0.1.3680043.8.498.74"
    for n in range(2):
        make_file(tmp_path / "in", study=STUDY, series=SERIES, number=n + 1)
    make_file(tmp_path / "in", pid="P2", study=other)
    assert main(["import", str(tmp_path / "in")]) == 0
    archive = Archive.open(tuipacs_home / "archive")
    try:
        assert archive.record_expected(STUDY, 300, "pacs")
        assert archive.record_expected(other, 1, "pacs")
    finally:
        archive.close()
    capsys.readouterr()
    assert main(["ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (partial,) = [line for line in lines if STUDY in line]
    (whole,) = [line for line in lines if other in line]
    assert " 2 of 300 " in partial
    assert " of " not in whole
    assert main(["ls", "--json"]) == 0
    rows = {r["study_uid"]: r for r in json.loads(capsys.readouterr().out)}
    assert (rows[STUDY]["num_instances"], rows[STUDY]["known_instances"]) == (2, 300)
    assert rows[STUDY]["complete"] is False
    assert (rows[other]["known_instances"], rows[other]["complete"]) == (1, True)
