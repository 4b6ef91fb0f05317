"""Identity rules of the archive through import: no wrong-patient mix-ups, conflicts are not
duplicates, the quarantine keeps what was refused, eviction deletes only indexed files."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from identity_files import write_image
from pydicom import dcmread

from tuipacs.store import quarantine
from tuipacs.store.archive import Archive, RefusedError
from tuipacs.store.query import list_instances, list_series
from tuipacs.store.records import read_record

S1, S2 = "1.2.826.0.1.3680043.8.498.101", "1.2.826.0.1.3680043.8.498.102"
X, Y = "1.2.826.0.1.3680043.8.498.201", "1.2.826.0.1.3680043.8.498.202"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m tuipacs`` with the test's TUIPACS_HOME."""
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", *args], capture_output=True, text=True, timeout=120
    )


def _sops(archive: Archive, study: str) -> set[str]:
    return {
        i.sop_uid
        for s in list_series(archive, study)
        for i in list_instances(archive, s.series_uid)
    }


def test_series_reused_by_another_patient_is_refused_on_import(
    tuipacs_home: Path, tmp_path: Path
) -> None:
    s1 = [
        write_image(tmp_path / "a" / f"{n}.dcm", patient_id="P1", study=S1, series=X, seed=n)
        for n in range(2)
    ]
    s2_own = write_image(tmp_path / "b" / "own.dcm", patient_id="P2", study=S2, series=Y, seed=7)
    s2_reuse = write_image(
        tmp_path / "b" / "reuse.dcm", patient_id="P2", study=S2, series=X, seed=8
    )
    assert run_cli("import", str(tmp_path / "a")).returncode == 0
    result = run_cli("import", str(s2_own), str(s2_reuse))
    assert result.returncode == 1
    refused = [line for line in result.stderr.splitlines() if line.startswith("tuipacs: refused:")]
    assert len(refused) == 1
    assert f"series {X} already belongs to study {S1}" in refused[0]
    assert str(s2_reuse) in refused[0]
    assert "P2" not in result.stderr and "TEST^PATIENT" not in result.stderr

    listed = json.loads(run_cli("quarantine", "--json").stdout)
    assert [(e["kind"], e["sop_uid"], e["other_uid"], e["source"]) for e in listed] == [
        ("series", dcmread(s2_reuse).SOPInstanceUID, S1, "import")
    ]
    assert Path(listed[0]["path"]).read_bytes() == s2_reuse.read_bytes()

    for study, expected in ((S1, s1), (S2, [s2_own])):
        series = json.loads(run_cli("ls", "--study", study, "--json").stdout)
        assert sum(s["num_instances"] for s in series) == len(expected)
    archive = Archive.open(tuipacs_home / "archive")
    try:
        assert _sops(archive, S1) == {dcmread(p).SOPInstanceUID for p in s1}
        kept = [archive.instance_path(dcmread(p).SOPInstanceUID) for p in s1]
        archive.delete_study(S2)  # eviction of the other study
        assert all(p is not None and p.exists() for p in kept)
        assert archive.verify().ok
    finally:
        archive.close()


def test_study_reused_by_another_patient_is_refused(archive: Archive, tmp_path: Path) -> None:
    first = write_image(tmp_path / "1.dcm", patient_id="P1", study=S1, series=X, seed=1)
    other = write_image(tmp_path / "2.dcm", patient_id="P2", study=S1, series=Y, seed=2)
    assert archive.add_file(first).status == "added"
    with pytest.raises(RefusedError, match=f"study {S1} already belongs to another patient"):
        archive.add_file(other)
    assert _sops(archive, S1) == {dcmread(first).SOPInstanceUID}
    assert [e.kind for e in quarantine.entries(archive)] == ["study"]


@pytest.mark.parametrize(
    ("first", "second", "refused"),
    [
        (("", None), ("", None), False),  # empty matches empty
        (("", None), ("P1", None), True),  # empty matches only empty
        (("P1", None), ("", None), True),
        (("P1", "HOSP-A"), ("P1", "HOSP-A"), False),
        (("P1", "HOSP-A"), ("P1", "HOSP-B"), True),  # same ID, another issuer
        (("P1", "HOSP-A"), ("P1", None), True),
    ],
)
def test_another_patient_means_id_plus_issuer(
    archive: Archive,
    tmp_path: Path,
    first: tuple[str, str | None],
    second: tuple[str, str | None],
    refused: bool,
) -> None:
    a = write_image(tmp_path / "a.dcm", patient_id=first[0], issuer=first[1], study=S1, series=X)
    b = write_image(tmp_path / "b.dcm", patient_id=second[0], issuer=second[1], study=S1, series=X)
    archive.add_file(a)
    result = archive.add_files([(b, None)])[0]
    assert result.status == ("refused" if refused else "added")


def test_batch_cannot_mix_patients_within_itself(archive: Archive, tmp_path: Path) -> None:
    """The rules see the rows the same batch inserted (one transaction)."""
    a = write_image(tmp_path / "a.dcm", patient_id="P1", study=S1, series=X, seed=1)
    b = write_image(tmp_path / "b.dcm", patient_id="P2", study=S2, series=X, seed=2)
    results = archive.add_files([(a, None), (b, None)])
    assert [r.status for r in results] == ["added", "refused"]
    assert results[1].refusal is not None and results[1].refusal.other_uid == S1


def test_conflict_is_not_a_duplicate(tuipacs_home: Path, tmp_path: Path) -> None:
    sop = "1.2.826.0.1.3680043.8.498.301"
    first = write_image(
        tmp_path / "first.dcm", patient_id="P1", study=S1, series=X, sop=sop, seed=1
    )
    again = tmp_path / "again.dcm"
    again.write_bytes(first.read_bytes())
    other = write_image(
        tmp_path / "other.dcm", patient_id="P1", study=S1, series=X, sop=sop, seed=2
    )
    assert run_cli("import", str(first)).returncode == 0
    same = json.loads(run_cli("import", "--json", str(again)).stdout)
    assert (same["added"], same["already_present"], same["conflicts"]) == (0, 1, 0)
    result = run_cli("import", str(other))
    assert result.returncode == 1
    assert f"conflict: {other}: a different object with SOP Instance UID {sop}" in result.stderr
    assert "1 quarantined (0 refused, 1 conflict" in result.stdout
    archive = Archive.open(tuipacs_home / "archive")
    try:
        kept = archive.instance_path(sop)
        assert kept is not None and kept.read_bytes() == first.read_bytes()  # the first stays
        entries = quarantine.entries(archive)
        assert [(e.kind, e.sop_uid) for e in entries] == [("instance", sop)]
    finally:
        archive.close()
    # the same conflicting object again counts, it is not kept twice
    assert run_cli("import", str(other)).returncode == 1
    listed = json.loads(run_cli("quarantine", "--json").stdout)
    assert [e["times"] for e in listed] == [2]


def test_quarantine_release_and_delete(tuipacs_home: Path, tmp_path: Path) -> None:
    write_image(tmp_path / "a" / "1.dcm", patient_id="P1", study=S1, series=X, seed=1)
    wrong = write_image(tmp_path / "b" / "2.dcm", patient_id="P2", study=S2, series=X, seed=2)
    write_image(tmp_path / "c" / "3.dcm", patient_id="P3", study=S1, series=Y, seed=3)
    run_cli("import", str(tmp_path / "a"))
    assert run_cli("import", str(tmp_path / "b"), str(tmp_path / "c")).returncode == 1
    listed = json.loads(run_cli("quarantine", "--json").stdout)
    assert sorted(e["kind"] for e in listed) == ["series", "study"]
    by_kind = {e["kind"]: e["id"] for e in listed}
    table = run_cli("quarantine")
    assert table.returncode == 0 and "already belongs to" in table.stdout
    assert "P2" not in table.stdout and "TEST^PATIENT" not in table.stdout

    stays = run_cli("quarantine", "--release", str(by_kind["series"]))
    assert stays.returncode == 1 and "stays" in stays.stderr
    archive = Archive.open(tuipacs_home / "archive")
    archive.delete_study(S1)  # the study it clashed with is gone: now it may enter
    archive.close()
    released = run_cli("quarantine", "--release", str(by_kind["series"]))
    assert released.returncode == 0, released.stderr
    series = json.loads(run_cli("ls", "--study", S2, "--json").stdout)
    assert [(s["series_uid"], s["num_instances"]) for s in series] == [(X, 1)]
    archive = Archive.open(tuipacs_home / "archive")
    assert _sops(archive, S2) == {dcmread(wrong).SOPInstanceUID}
    archive.close()

    assert run_cli("quarantine", "--delete", "999").returncode == 1
    assert run_cli("quarantine", "--delete-all").returncode == 0
    assert json.loads(run_cli("quarantine", "--json").stdout) == []
    assert not any((tuipacs_home / "archive" / "quarantine").iterdir())


def test_delete_study_removes_only_indexed_files(archive: Archive, tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.dcm", patient_id="P1", study=S1, series=X, seed=1)
    archive.add_file(path)
    kept = archive.instance_path(dcmread(path).SOPInstanceUID)
    assert kept is not None
    stranger = kept.parent / "not-indexed.dcm"
    stranger.write_bytes(b"someone else's")
    archive.delete_study(S1)
    assert not kept.exists()
    assert stranger.exists()  # the folder that holds it stays too


def test_uid_with_a_trailing_newline_is_hashed(archive: Archive, tmp_path: Path) -> None:
    """The server's header reader keeps a trailing newline: the path must not."""
    bad = "1.2.3.4.5\n"
    path = write_image(tmp_path / "a.dcm", patient_id="P1", study=S1, series=X, seed=1)
    record = dataclasses.replace(read_record(path), study_uid=bad)
    archive.add_file(path, record=record)
    rel = archive.execute("SELECT path FROM instance")[0][0]
    study_part = rel.split("/")[1]
    assert study_part.startswith("x") and "\n" not in rel
    assert archive.relative_path(dataclasses.replace(record, study_uid="1.2.3.4.5")).startswith(
        "files/1.2.3.4.5/"
    )


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    opened = Archive.open(tmp_path / "archive")
    yield opened
    opened.close()
