"""The local archive: atomic adds, dedup, listing, eviction, recovery."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tuipacs.store.archive import Archive, ArchiveError
from tuipacs.store.importer import import_paths
from tuipacs.store.query import (
    FilterError,
    StudyFilter,
    list_instances,
    list_series,
    list_studies,
    parse_date_range,
    wildcard_to_glob,
)
from tuipacs.store.records import BadDicomError, NotDicomError, read_record
from tuipacs.store.schema import SCHEMA_VERSION, SchemaError


def make_file(
    folder: Path,
    *,
    name: str = "DOE^JOHN",
    pid: str = "P1",
    study: str | None = None,
    series: str | None = None,
    modality: str = "CT",
    date: str = "20240102",
    accession: str = "A1",
    charset: str = "ISO_IR 100",
    number: int = 1,
) -> Path:
    """Write a small synthetic Part-10 file and return its path."""
    ds = Dataset()
    ds.SpecificCharacterSet = charset
    ds.PatientName = name
    ds.PatientID = pid
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyInstanceUID = study or generate_uid()
    ds.SeriesInstanceUID = series or generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.StudyDate = date
    ds.StudyTime = "101010"
    ds.AccessionNumber = accession
    ds.StudyDescription = "Synthetic"
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = number
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.SamplesPerPixel = 1
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(range(16))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive.open(tmp_path / "archive")


def test_add_copies_atomically_and_indexes(archive: Archive, tmp_path: Path) -> None:
    src = make_file(tmp_path / "in")
    result = archive.add_file(src)
    assert result.status == "added"
    stored = archive.instance_path(result.sop_uid)
    assert stored is not None and stored.read_bytes() == src.read_bytes()
    assert src.exists()  # copy, not move
    assert archive.verify().ok
    assert not list((archive.root / "tmp").rglob("*.part"))


def test_same_sop_instance_kept_once(archive: Archive, tmp_path: Path) -> None:
    src = make_file(tmp_path / "in")
    copy = tmp_path / "copy.dcm"
    shutil.copy(src, copy)
    assert archive.add_file(src).status == "added"
    assert archive.add_file(copy, move=True).status == "duplicate"
    assert not copy.exists()
    assert archive.usage().instances == 1
    assert len(list(archive.files_dir.rglob("*.dcm"))) == 1


def test_counters_and_modalities(archive: Archive, tmp_path: Path) -> None:
    study = generate_uid()
    series_ct, series_sr = generate_uid(), generate_uid()
    for n in range(3):
        archive.add_file(make_file(tmp_path / "in", study=study, series=series_ct, number=n))
    archive.add_file(make_file(tmp_path / "in", study=study, series=series_sr, modality="SR"))
    (row,) = list_studies(archive)
    assert (row.num_series, row.num_instances, row.modalities) == (2, 4, "CT\\SR")
    assert row.size_bytes == sum(p.stat().st_size for p in archive.files_dir.rglob("*.dcm"))
    series = {s.series_uid: s for s in list_series(archive, study)}
    assert series[series_ct].num_instances == 3
    numbers = [i.instance_number for i in list_instances(archive, series_ct)]
    assert numbers == [0, 1, 2]


def test_filters(archive: Archive, tmp_path: Path) -> None:
    archive.add_file(make_file(tmp_path, name="Müller^Jürgen", pid="M1", date="20230105"))
    archive.add_file(
        make_file(tmp_path, name="SMITH^ANNA", pid="S1", modality="MR", accession="X9")
    )
    archive.add_file(make_file(tmp_path, name="smithers^bob", pid="S2", date="20250101"))

    def names(**kw: str) -> set[str]:
        return {s.patient_name for s in list_studies(archive, StudyFilter(**kw))}

    assert names(patient_name="smith*") == {"SMITH^ANNA", "smithers^bob"}
    assert names(patient_name="SMITH^?NNA") == {"SMITH^ANNA"}
    assert names(patient_name="müller*") == {"Müller^Jürgen"}
    assert names(patient_name="anna") == {"SMITH^ANNA"}
    assert names(patient_id="S2") == {"smithers^bob"}
    assert names(modality="mr") == {"SMITH^ANNA"}
    assert names(accession="X9") == {"SMITH^ANNA"}
    assert names(date="20230101-20231231") == {"Müller^Jürgen"}
    assert names(date="20250101-") == {"smithers^bob"}
    assert names(date="-20240102") == {"Müller^Jürgen", "SMITH^ANNA"}
    with pytest.raises(FilterError):
        list_studies(archive, StudyFilter(date="2023-01-01"))


def test_wildcard_and_date_helpers() -> None:
    assert wildcard_to_glob("Doe*") == "doe*"
    assert wildcard_to_glob("doe") == "*doe*"
    assert wildcard_to_glob("a[b") == "*a[[]b*"
    assert parse_date_range("20200101") == ("20200101", "20200101")
    assert parse_date_range("-20200101") == ("", "20200101")


@pytest.mark.parametrize(
    ("charset", "name"),
    [("ISO_IR 100", "Müller^Jürgen"), ("ISO_IR 192", "Ñúñez^Zoë"), ("ISO_IR 192", "山田^太郎")],
)
def test_names_decoded_per_character_set(tmp_path: Path, charset: str, name: str) -> None:
    path = make_file(tmp_path, name=name, charset=charset)
    raw = path.read_bytes()
    encoding = "latin-1" if charset == "ISO_IR 100" else "utf-8"
    assert name.encode(encoding) in raw  # really stored in that character set
    assert read_record(path).patient_name == name


def test_bad_input_is_classified(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(2000))
    with pytest.raises(NotDicomError):
        read_record(junk)
    good = make_file(tmp_path).read_bytes()
    truncated = tmp_path / "trunc.dcm"
    truncated.write_bytes(good[:-8])
    with pytest.raises(BadDicomError, match="truncated"):
        read_record(truncated)
    header_cut = tmp_path / "cut.dcm"
    header_cut.write_bytes(good[:200])
    with pytest.raises(BadDicomError):
        read_record(header_cut)


def test_import_pydicom_test_files(archive: Archive) -> None:
    folder = Path(get_testdata_file("CT_small.dcm")).parent
    first = import_paths(archive, [folder])
    assert first.added > 50 and first.errors  # some bundled files are deliberately broken
    assert any("MR_truncated.dcm" in path for path, _ in first.errors)
    again = import_paths(archive, [folder])
    assert again.added == 0
    assert again.duplicates == first.added + first.duplicates
    assert archive.usage().instances == first.added
    assert archive.verify().ok


def test_import_dicomdir(archive: Archive) -> None:
    dicomdir = Path(get_testdata_file("DICOMDIR"))
    ds = pydicom.dcmread(dicomdir)
    images = [r for r in ds.DirectoryRecordSequence if r.DirectoryRecordType == "IMAGE"]
    summary = import_paths(archive, [dicomdir])
    assert summary.files == len(images)
    assert summary.added + summary.duplicates == len(images)


def test_link_indexes_in_place(archive: Archive, tmp_path: Path) -> None:
    src = make_file(tmp_path / "in")
    summary = import_paths(archive, [src.parent], link=True)
    assert summary.added == 1
    assert archive.instance_path(read_record(src).sop_uid) == src.resolve()
    assert not list(archive.files_dir.rglob("*.dcm"))
    study = list_studies(archive)[0].study_uid
    archive.delete_study(study)
    assert src.exists()  # linked files are never deleted


def test_eviction_order_and_pins(archive: Archive, tmp_path: Path) -> None:
    studies = []
    for i in range(4):
        path = make_file(tmp_path / str(i), pid=f"P{i}")
        studies.append(archive.add_file(path).study_uid)
    for uid in (studies[2], studies[0], studies[3]):
        archive.touch_study(uid)  # opened order: 2, 0, 3 (1 never opened, oldest received)
    assert archive.set_pinned(studies[2], True)
    # the files differ by a byte or two (UID lengths): room for two of the largest
    one = max(s.size_bytes for s in list_studies(archive))
    result = archive.evict(limit_bytes=2 * one)
    assert result.studies == 2
    left = {s.study_uid for s in list_studies(archive)}
    assert left == {studies[2], studies[3]}  # 1 then 0 went; 2 is pinned
    assert archive.verify().ok
    archive.evict(limit_bytes=0)
    assert {s.study_uid for s in list_studies(archive)} == {studies[2]}
    assert not archive.set_pinned("1.2.3.404", True)


def test_recovery_indexes_renamed_file_and_drops_temp(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    archive = Archive.open(root)
    src = make_file(tmp_path / "in")
    record = read_record(src)
    rel = archive.relative_path(record)
    # simulate a writer killed after the rename but before the index transaction
    archive._conn().execute("INSERT INTO pending(path, created) VALUES (?, 0)", (rel,))
    (root / rel).parent.mkdir(parents=True)
    shutil.copy(src, root / rel)
    dead = root / "tmp" / "999999-dead"
    dead.mkdir()
    (dead / "x.part").write_bytes(b"half")
    archive.close()
    reopened = Archive.open(root)
    assert reopened.has_instance(record.sop_uid)
    assert not dead.exists()
    assert reopened.verify().ok


def test_newer_schema_refused(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    archive = Archive.open(root)
    archive._conn().execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    archive.close()
    with pytest.raises(SchemaError, match="upgrade tuipacs"):
        Archive.open(root)


def test_full_disk_is_an_archive_error(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes that hit ENOSPC (here: /dev/full behind the temp name) fail cleanly."""
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is not available on this system")
    src = make_file(tmp_path / "in")
    os.symlink("/dev/full", archive.tmp_dir() / "fixed.part")

    class FixedUUID:
        hex = "fixed"

    monkeypatch.setattr("tuipacs.store.adding.uuid.uuid4", lambda: FixedUUID())
    with pytest.raises(ArchiveError, match="No space left"):
        archive.add_file(src)
    assert archive.usage().instances == 0
    assert archive.verify().ok


@pytest.mark.parametrize("synced", [False, True])
def test_moving_synced_files_fsyncs_only_their_folders(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synced: bool
) -> None:
    """The server's inbox files are fsynced before the answer: the archive moves them into
    place without a second flush of the data (folders are still flushed); files that are
    not known to be synced are flushed as before (one syncfs or an fsync each)."""
    from tuipacs.store import adding, files

    sources = [make_file(tmp_path / "inbox", number=n) for n in range(3)]
    contents = [src.read_bytes() for src in sources]
    flushed: list[tuple[int, int]] = []  # (files, folders) of each flush
    real_flush = files.flush_files

    def recording_flush(paths: Any, folder: Path, pool: Any = None, dirs: Any = ()) -> None:
        dirs = list(dirs)
        flushed.append((len(paths), len(dirs)))
        real_flush(paths, folder, pool, dirs)

    monkeypatch.setattr(adding, "flush_files", recording_flush)
    results = archive.add_files([(src, None) for src in sources], move=True, synced=synced)
    assert [r.status for r in results] == ["added"] * 3
    assert sum(n for n, _ in flushed) == (0 if synced else 3)
    assert sum(d for _, d in flushed) >= 1
    assert not any(src.exists() for src in sources)
    for result, content in zip(results, contents, strict=True):
        stored = archive.instance_path(result.sop_uid)
        assert stored is not None and stored.read_bytes() == content
