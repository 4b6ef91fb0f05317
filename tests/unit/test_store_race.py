"""Two imports at once of the same UIDs with different content: the index and the files
agree byte for byte, and the loser's files are reported as conflicts (never written over
the winner's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from identity_files import write_image
from pydicom import dcmread

from tuipacs.store.archive import Archive

COUNT = 250
STUDY = "1.2.826.0.1.3680043.8.498.401"
SERIES = "1.2.826.0.1.3680043.8.498.402"


def _write_sets(folder: Path) -> dict[str, dict[str, bytes]]:
    """Two folders of COUNT images with the same study, series and SOP UIDs, of two
    patients and different pixels; returns patient ID -> SOP UID -> file bytes."""
    out: dict[str, dict[str, bytes]] = {}
    for patient in ("PA", "PB"):
        out[patient] = {}
        for n in range(COUNT):
            sop = f"1.2.826.0.1.3680043.8.498.5.{n + 1}"
            seed = n if patient == "PA" else n + 10_000
            path = write_image(
                folder / patient / f"{n:03d}.dcm",
                patient_id=patient,
                study=STUDY,
                series=SERIES,
                sop=sop,
                seed=seed,
            )
            out[patient][sop] = path.read_bytes()
    return out


@pytest.mark.parametrize("run", range(3))
def test_concurrent_imports_of_conflicting_objects(
    tuipacs_home: Path, tmp_path: Path, run: int
) -> None:
    sources = _write_sets(tmp_path / "data")
    Archive.open(tuipacs_home / "archive").close()  # both start on an existing index
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tuipacs", "import", "--json", str(tmp_path / "data" / p)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for p in ("PA", "PB")
    ]
    summaries = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode in (0, 1) and out.strip(), err
        summaries.append(json.loads(out))
    archive = Archive.open(tuipacs_home / "archive")
    try:
        rows = archive.execute(
            "SELECT i.sop_uid, i.path, st.patient_id, st.study_uid, se.series_uid "
            "FROM instance i JOIN series se ON i.series_fk = se.id "
            "JOIN study st ON se.study_fk = st.id"
        )
        assert len(rows) == COUNT
        mismatched = []
        for sop, rel, patient, study, series in rows:
            path = archive.root / rel
            ds = dcmread(path, stop_before_pixels=True)
            header = (ds.SOPInstanceUID, ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID)
            if header != (sop, patient, study, series):
                mismatched.append(sop)
            elif path.read_bytes() != sources[patient][sop]:
                mismatched.append(sop)
        assert mismatched == [], f"run {run}: {len(mismatched)} files differ from the index"
        assert {row[2] for row in rows} == {rows[0][2]}  # one patient owns the study
        assert archive.verify().ok
        held = archive.execute("SELECT count(*) FROM quarantine")[0][0]
        assert held == COUNT
    finally:
        archive.close()
    # every file was either added or reported (as a conflict: never a silent duplicate)
    assert sum(s["added"] for s in summaries) == COUNT
    assert sum(s["conflicts"] + s["refused"] for s in summaries) == COUNT
    assert all(s["failed"] == 0 and s["already_present"] == 0 for s in summaries)
