"""Series in reading order: along the slice normal when the images form one stack."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tuipacs.server.records import fast_record
from tuipacs.store.archive import Archive
from tuipacs.store.query import InstanceRow, anatomical_order, list_instances
from tuipacs.store.records import read_record
from tuipacs.store.schema import MIGRATIONS

AXIAL = "1\\0\\0\\0\\1\\0"
SAGITTAL = "0\\1\\0\\0\\0\\-1"


def row(
    number: int | None, z: float | None, orientation: str = AXIAL, name: str = ""
) -> InstanceRow:
    position = "" if z is None else f"-120\\-130\\{z}"
    return InstanceRow(
        name or f"1.2.{number}.{z}", "1.2.840.10008.5.1.4.1.1.2", number, "", 4, 4, 1, 0,
        Path(name or f"{number}.dcm"), position, orientation,
    )  # fmt: skip


def numbers(rows: list[InstanceRow]) -> list[int | None]:
    return [r.instance_number for r in rows]


def test_well_numbered_series_keeps_its_order() -> None:
    head_first = [row(n, 100.0 - 5 * n) for n in range(1, 6)]  # z falls as numbers rise
    assert numbers(anatomical_order(head_first)) == [1, 2, 3, 4, 5]
    feet_first = [row(n, 5.0 * n) for n in range(1, 6)]
    assert numbers(anatomical_order(feet_first)) == [1, 2, 3, 4, 5]


def test_out_of_order_numbers_are_sorted_by_position() -> None:
    # numbers run with z overall, but slices 2 and 3 were numbered the wrong way round
    rows = sorted(
        [row(1, 0.0), row(2, 10.0), row(3, 5.0), row(4, 15.0), row(5, 20.0)],
        key=lambda r: r.instance_number or 0,
    )
    assert numbers(anatomical_order(rows)) == [1, 3, 2, 4, 5]


def test_without_numbers_sorted_along_the_normal() -> None:
    rows = [row(None, z, name=f"s{z}") for z in (3.0, -1.0, 2.0)]
    assert [r.sop_uid for r in anatomical_order(rows)] == ["s-1.0", "s2.0", "s3.0"]


def test_same_position_keeps_number_order() -> None:
    # two echoes per position: grouped by position, echoes in number order
    rows = [row(1, 0.0), row(2, 0.0), row(3, 5.0), row(4, 5.0)]
    assert numbers(anatomical_order(rows)) == [1, 2, 3, 4]
    mixed = [row(1, 0.0), row(2, 5.0), row(3, 0.0), row(4, 5.0)]  # echo-major numbering
    assert numbers(anatomical_order(mixed)) == [1, 3, 2, 4]


def test_sagittal_stack_uses_its_own_normal() -> None:
    # sagittal: the normal is x; positions differ in x only
    rows = []
    for n, x in enumerate((0.0, 8.0, 4.0), start=1):
        r = row(n, 0.0, SAGITTAL)
        rows.append(InstanceRow(*[getattr(r, f) for f in r.__slots__][:9], f"{x}\\0\\0", SAGITTAL))
    assert numbers(anatomical_order(rows)) == [1, 3, 2]


@pytest.mark.parametrize(
    "rows",
    [
        [row(1, 5.0), row(2, None), row(3, 0.0)],  # an image without a position
        [row(1, 5.0), row(2, 0.0, SAGITTAL), row(3, 2.0)],  # two orientations (a localizer)
        [row(1, 5.0), row(2, 0.0, "garbage"), row(3, 2.0)],
        [row(1, 5.0), row(2, 0.0, ""), row(3, 2.0)],
    ],
)
def test_anything_but_one_stack_is_left_alone(rows: list[InstanceRow]) -> None:
    assert anatomical_order(rows) == rows


def _slice(folder: Path, series: str, study: str, number: int, z: float) -> Path:
    ds = Dataset()
    ds.PatientName = "ORDER^TEST"
    ds.PatientID = "ORD1"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = generate_uid()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.Modality = "CT"
    ds.InstanceNumber = number
    ds.ImagePositionPatient = [-120, -130, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = folder / f"{number}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_archive_lists_a_shuffled_series_in_slice_order(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    study, series = generate_uid(), generate_uid()
    # numbers 1..6 mostly running down in z, but 3 and 4 swapped by the "scanner"
    heights = {1: 50.0, 2: 40.0, 3: 20.0, 4: 30.0, 5: 10.0, 6: 0.0}
    paths = [_slice(folder, series, study, n, z) for n, z in heights.items()]
    for path in paths:
        assert read_record(path) == fast_record(path)  # both readers see the position
        orientation = read_record(path).image_orientation.split("\\")
        assert [float(v) for v in orientation] == [1, 0, 0, 0, 1, 0]
    archive = Archive.open(tmp_path / "archive")
    try:
        for path in paths:
            archive.add_file(path)
        listed = list_instances(archive, series)
        assert numbers(listed) == [1, 2, 4, 3, 5, 6]
    finally:
        archive.close()


def test_index_of_the_first_schema_is_migrated(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    conn = sqlite3.connect(root / "index.sqlite")
    conn.executescript("BEGIN;" + MIGRATIONS[0] + "PRAGMA user_version=1; COMMIT;")
    conn.close()
    archive = Archive.open(root)
    try:
        version = archive.execute("PRAGMA user_version")[0][0]
        assert version == len(MIGRATIONS)
        columns = {r[1] for r in archive.execute("PRAGMA table_info(instance)")}
        assert {"image_position", "image_orientation"} <= columns
    finally:
        archive.close()
