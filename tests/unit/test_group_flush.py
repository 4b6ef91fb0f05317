"""Group commit (tuipacs.store.group_flush): callers waiting at once share one flush, and
each returns only after a flush that held its own file finished (or raises its error)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tuipacs.store.group_flush import GroupFlush

WAITERS = 7


def _run_group(fail_second: bool) -> tuple[list[list[Path]], dict[Path, object]]:
    """One caller leads a flush that is held until WAITERS others wait; returns the flushed
    batches and, per caller, what it saw (True: its file was flushed when it returned, or
    the exception it got)."""
    batches: list[list[Path]] = []
    done: set[Path] = set()
    lock = threading.Lock()
    started = threading.Event()
    group: GroupFlush

    def flush(paths: list[Path]) -> None:
        if not started.is_set():  # hold the first flush until the others wait for the next
            started.set()
            deadline = time.monotonic() + 30
            while len(group._waiting) < WAITERS and time.monotonic() < deadline:
                time.sleep(0.001)
        with lock:
            batches.append(list(paths))
        if fail_second and len(batches) == 2:
            raise OSError(5, "Input/output error")
        with lock:
            done.update(paths)

    group = GroupFlush(flush)
    seen: dict[Path, object] = {}

    def caller(path: Path) -> None:
        try:
            group.wait(path)
        except OSError as exc:
            seen[path] = exc
        else:
            with lock:
                seen[path] = path in done

    first = threading.Thread(target=caller, args=(Path("f0"),))
    first.start()
    assert started.wait(30), "the first flush did not start"
    others = [threading.Thread(target=caller, args=(Path(f"f{n}"),)) for n in range(1, 8)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(30)
        assert not thread.is_alive(), "a caller never returned"
    return batches, seen


def test_callers_waiting_at_once_share_one_flush() -> None:
    batches, seen = _run_group(fail_second=False)
    assert batches[0] == [Path("f0")]
    assert len(batches) == 2 and sorted(batches[1]) == [Path(f"f{n}") for n in range(1, 8)]
    assert all(value is True for value in seen.values()) and len(seen) == 8


def test_a_failed_flush_is_raised_in_each_of_its_callers() -> None:
    batches, seen = _run_group(fail_second=True)
    assert seen[Path("f0")] is True
    failed = [value for path, value in seen.items() if path != Path("f0")]
    assert len(failed) == WAITERS and all(isinstance(v, OSError) for v in failed)


def test_one_caller_at_a_time_flushes_its_own_file() -> None:
    flushed: list[list[Path]] = []
    group = GroupFlush(flushed.append)
    for n in range(3):
        group.wait(Path(f"g{n}"))
    assert flushed == [[Path("g0")], [Path("g1")], [Path("g2")]]
    assert (group.flushes, group.files) == (3, 3)


def test_the_server_inbox_shares_flushes_between_associations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inbox's durable path goes through the group: six concurrent puts, each file of
    the inbox flushed exactly once (alone or with others), then all indexed."""
    from tuipacs.server import inbox as inbox_module
    from tuipacs.store.archive import Archive

    archive = Archive.open(tmp_path / "archive")
    box = inbox_module.Inbox(archive)
    box.open()
    assert isinstance(box._durable, GroupFlush)
    flushed: list[list[Path]] = []
    real = box._flush

    def recording(paths: list[Path]) -> None:
        real(paths)
        flushed.append(list(paths))

    box._durable._flush = recording
    from test_store import make_file

    from tuipacs.server.records import fast_record

    errors: list[BaseException] = []

    def store(n: int) -> None:
        src = make_file(tmp_path / f"in{n}", pid="P1", number=n)
        try:
            assert box.put(src, fast_record(src)) == "queued"
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=store, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    paths = [path for batch in flushed for path in batch]
    assert sorted(paths) == sorted(box.folder.glob("*.dcm")) and len(paths) == 6
    box.start()
    assert box.flush()
    box.stop()
    assert archive.usage().instances == 6
    archive.close()


def test_a_bug_in_the_flush_leaves_no_caller_waiting() -> None:
    """An exception other than OSError still ends the flush: the next caller leads a new
    one instead of waiting for ever."""
    calls: list[list[Path]] = []

    def flush(paths: list[Path]) -> None:
        calls.append(paths)
        if len(calls) == 1:
            raise ValueError("a bug")

    group = GroupFlush(flush)
    with pytest.raises(ValueError):
        group.wait(Path("a"))
    group.wait(Path("b"))  # returns: the group is not stuck
    assert calls == [[Path("a")], [Path("b")]]
