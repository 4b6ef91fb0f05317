"""Batched ingest (tuipacs.store.batch.Ingest): files handed over one by one are committed
in batches, the first at once; close() returns once everything is indexed; refusals,
unreadable files and a failing archive are reported, never lost silently."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from test_store import make_file

from tuipacs.store import files as store_files
from tuipacs.store.archive import Archive, ArchiveError
from tuipacs.store.batch import Ingest


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    opened = Archive.open(tmp_path / "archive")
    yield opened
    opened.close()


def test_files_are_committed_in_batches_with_one_flush_each(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 moved files in batches of 20: the first batch holds one file (the first image is
    openable at once), the rest close by size; each batch flushes its files once."""
    from tuipacs.store import adding

    flushes: list[int] = []
    real = store_files.flush_files

    def counting(paths, folder, pool=None, dirs=()):  # type: ignore[no-untyped-def]
        if paths:
            flushes.append(len(paths))
        real(paths, folder, pool, dirs)

    monkeypatch.setattr(adding, "flush_files", counting)
    study, series = "1.2.3.4", "1.2.3.4.5"
    sources = [make_file(tmp_path / "in", study=study, series=series, number=n) for n in range(50)]
    ingest = Ingest(archive, source="test", move=True, max_files=20, max_delay=60.0)
    first = threading.Event()
    ingest.on_commit = lambda report: first.set()
    ingest.put(sources[0])
    assert first.wait(30), "the first file was not committed on its own"
    assert archive.usage().instances == 1
    for src in sources[1:]:
        ingest.put(src)
    report = ingest.close()
    assert (report.added, report.batches, report.errors) == (50, 4, [])
    assert flushes == [1, 20, 20, 9]
    assert not any(src.exists() for src in sources)
    assert archive.usage().instances == 50 and archive.verify().ok
    assert report.first_commit is not None


def test_refused_and_unreadable_files_are_reported(archive: Archive, tmp_path: Path) -> None:
    """A series under another study is refused (quarantined) and a non-DICOM file is an
    error: both listed, neither indexed, the good file added."""
    series = "1.2.3.9"
    archive.add_file(make_file(tmp_path / "a", study="1.2.3.1", series=series))
    clash = make_file(tmp_path / "b", study="1.2.3.2", series=series)
    junk = tmp_path / "b" / "junk.dcm"
    junk.write_bytes(b"not dicom at all" * 20)
    good = make_file(tmp_path / "b", number=7)
    with Ingest(archive, source="test", move=True, max_delay=0.01) as ingest:
        for path in (clash, junk, good):
            ingest.put(path, label=path.name)
    report = ingest.report
    assert report.added == 1
    assert [label for label, _ in report.refused] == [clash.name]
    assert [label for label, _ in report.errors] == [junk.name]
    assert archive.usage().instances == 2
    assert not junk.exists()  # taken (moved), then dropped


def test_a_failing_archive_stops_the_ingest(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An archive that cannot be written fails the batch: counted as lost, the staged files
    removed, and the next put raises the archive's error (the sender is told)."""
    from tuipacs.store import adding

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(adding, "flush_files", broken)
    ingest = Ingest(archive, source="test", move=True, max_delay=0.01)
    ingest.put(make_file(tmp_path / "in", number=1))
    report = ingest.close()
    assert report.lost == 1 and report.added == 0
    assert isinstance(ingest.failure, ArchiveError)
    with pytest.raises(ArchiveError):
        ingest.put(make_file(tmp_path / "in", number=2))
    staged = [p for p in archive.tmp_dir().iterdir() if p.name != ".lock"]
    assert staged == []


def test_import_copies_through_the_batched_path(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`import` hands files to an Ingest: at most one flush for the first batch (closed at
    once: it holds the files read before the committer took it, maybe all) and one for the
    rest, never an fsync per file; the sources stay in place."""
    from tuipacs.server.records import fast_record
    from tuipacs.store import adding, importer

    flushes: list[int] = []
    real = store_files.flush_files

    def counting(paths, folder, pool=None, dirs=()):  # type: ignore[no-untyped-def]
        if paths:
            flushes.append(len(paths))
        real(paths, folder, pool, dirs)

    monkeypatch.setattr(adding, "flush_files", counting)
    monkeypatch.setattr(importer, "BATCH_DELAY", 60.0)
    sources = [make_file(tmp_path / "in", pid="P7", number=n) for n in range(30)]
    summary = importer.import_paths(archive, [tmp_path / "in"], reader=fast_record)
    assert (summary.added, summary.errors) == (30, [])
    assert len(flushes) in (1, 2) and sum(flushes) == 30, flushes
    assert all(src.exists() for src in sources)
    assert archive.usage().instances == 30 and archive.verify().ok


def test_an_unexpected_error_in_a_batch_is_reported_not_swallowed(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the archive's code (here a ValueError) fails its batch like a full disk:
    the files are counted as lost and the next put raises, never a silent loss."""
    from tuipacs.store import adding

    def buggy(*args: object, **kwargs: object) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr(adding, "flush_files", buggy)
    ingest = Ingest(archive, source="test", move=True, max_delay=0.01)
    ingest.put(make_file(tmp_path / "in", number=1))
    report = ingest.close()
    assert (report.lost, report.added) == (1, 0)
    assert isinstance(ingest.failure, ArchiveError) and "a bug" in str(ingest.failure)
    with pytest.raises(ArchiveError):
        ingest.put(make_file(tmp_path / "in", number=2))
