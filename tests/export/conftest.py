"""The export tests' study fixture (the study itself is made by tests/exportkit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from exportkit import ROOT, Study, make_instance, make_report

from tuipacs.cli import main


@pytest.fixture
def study(tuipacs_home: Path, tmp_path: Path) -> Study:
    """Series 1: three CT images (the third with two frames); series 2: two CT images and a
    report. Imported into the archive of ``tuipacs_home``."""
    folder = tmp_path / "made"
    folder.mkdir()
    made = [
        make_instance(1, 1),
        make_instance(1, 2),
        make_instance(1, 3, frames=2),
        make_instance(2, 1),
        make_instance(2, 2),
        make_report(),
    ]
    for ds in made:
        ds.save_as(folder / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
    assert main(["import", str(folder), "-q"]) == 0
    return Study(folder, [ds.SOPInstanceUID for ds in made], [f"{ROOT}.3.1", f"{ROOT}.3.2"])
