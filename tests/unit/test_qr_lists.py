"""C-FIND and C-GET/C-MOVE identifiers with long value lists (thousands of UIDs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from identity_files import write_image
from pydicom.dataset import Dataset

from tuipacs.server import qr
from tuipacs.store.archive import Archive

STUDY = "1.2.826.0.1.3680043.8.498.801"
SERIES = "1.2.826.0.1.3680043.8.498.802"
COUNT = 30


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    opened = Archive.open(tmp_path / "archive")
    files = [
        write_image(
            tmp_path / "in" / f"{n}.dcm",
            patient_id="P1",
            name=f"PATIENT^{n}",
            study=STUDY,
            series=SERIES,
            sop=f"1.2.826.0.1.3680043.8.498.9.{n}",
            seed=n,
            size=4,
        )
        for n in range(COUNT)
    ]
    opened.add_files([(f, None) for f in files])
    yield opened
    opened.close()


def _uid_list(real: int, total: int) -> list[str]:
    fake = [f"1.2.826.0.1.3680043.8.498.99.{n}" for n in range(total - real)]
    return [f"1.2.826.0.1.3680043.8.498.9.{n}" for n in range(real)] + fake


def test_find_with_5000_sop_instance_uids(archive: Archive) -> None:
    query = Dataset()
    query.QueryRetrieveLevel = "IMAGE"
    query.StudyInstanceUID = STUDY
    query.SOPInstanceUID = _uid_list(COUNT, 5000)
    found = list(qr.find(archive, "IMAGE", query))
    assert sorted(str(d.SOPInstanceUID) for d in found) == sorted(_uid_list(COUNT, COUNT))


def test_retrieve_with_5000_sop_instance_uids(archive: Archive) -> None:
    query = Dataset()
    query.QueryRetrieveLevel = "IMAGE"
    query.StudyInstanceUID = STUDY
    query.SeriesInstanceUID = SERIES
    query.SOPInstanceUID = _uid_list(10, 5000)
    selected = qr.instances_for(archive, "study", query)
    assert sorted(s.sop_instance_uid for s in selected) == sorted(_uid_list(10, 10))


def test_find_with_thousands_of_wildcard_names(archive: Archive) -> None:
    """Lists that cannot be one IN (wildcards, person names) stay within SQLite's depth."""
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    query.PatientName = [f"NOBODY{n}*" for n in range(3000)] + ["patient^2*"]
    found = list(qr.find(archive, "STUDY", query))
    assert [str(d.StudyInstanceUID) for d in found] == [STUDY]
