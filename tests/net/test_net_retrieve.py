"""C-GET and C-MOVE retrieves against real archives, resume, cancel and failures."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from peers import DirSink, SyntheticArchive, start_dcmqrscp
from peers import RemoteArchive as Archive
from pydicom import dcmread

from tuipacs.dicom import retrieve as retrieve_module
from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.retrieve import RetrieveProgress, retrieve
from tuipacs.dicom.storage import StoreHandler

pytestmark = pytest.mark.net


def _check_files(sink: DirSink, expected: set[str]) -> None:
    """Every received file is complete Part-10 with its pixel data and meta."""
    assert {p.stem for p in sink.files} == expected
    for path in sink.files:
        ds = dcmread(path)
        assert ds.SOPInstanceUID == path.stem
        assert ds.file_meta.MediaStorageSOPInstanceUID == path.stem
        assert len(ds.PixelData) == ds.Rows * ds.Columns * 2


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_study(
    archive: Archive, local_ae: LocalAE, test_data: SyntheticArchive, sink: DirSink, method: str
) -> None:
    chest = test_data.study("CT CHEST")
    seen: list[RetrieveProgress] = []
    summary = retrieve(
        archive.node,
        local_ae,
        chest.uid,
        sink,
        method=method,
        progress=seen.append,  # type: ignore[arg-type]
    )
    assert summary.ok, summary.errors
    assert (summary.total, summary.completed, summary.failed) == (12, 12, 0)
    assert summary.bytes > 12 * 64 * 64 * 2
    assert summary.first_image_seconds is not None
    _check_files(sink, {u for s in chest.series for u in s.instance_uids})
    instance = next(iter(sink.instances.values()))
    assert instance.study_uid == chest.uid
    assert instance.series_uid in {s.uid for s in chest.series}
    assert instance.transfer_syntax_uid.startswith("1.2.840.10008.1.2")
    assert seen and seen[-1].completed == 12


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_one_series(
    archive: Archive, local_ae: LocalAE, test_data: SyntheticArchive, sink: DirSink, method: str
) -> None:
    brain = test_data.study("MR BRAIN")
    chest = test_data.study("CT CHEST")
    series = chest.series[1]
    summary = retrieve(
        archive.node,
        local_ae,
        chest.uid,
        sink,
        series_uids=[series.uid],
        method=method,  # type: ignore[arg-type]
    )
    assert summary.ok, summary.errors
    assert summary.completed == len(series.instance_uids) == 4
    _check_files(sink, set(series.instance_uids))
    assert brain.uid not in {i.study_uid for i in sink.instances.values()}


def test_resume_after_cancel(
    archive: Archive, local_ae: LocalAE, test_data: SyntheticArchive, sink: DirSink
) -> None:
    abdomen = test_data.study("CT ABDOMEN")
    cancel = threading.Event()

    def cancelling_sink(path: Path, instance: object) -> None:
        sink(path, instance)  # type: ignore[arg-type]
        if sink.calls >= 5:
            cancel.set()

    node = Node("one", archive.node.ae_title, "127.0.0.1", archive.node.port, parallel=1)
    first = retrieve(node, local_ae, abdomen.uid, cancelling_sink, cancel=cancel)
    assert first.cancelled and not first.ok
    assert 5 <= first.completed < abdomen.instance_count
    assert first.remaining > 0
    had = set(sink.instances)

    second = retrieve(archive.node, local_ae, abdomen.uid, sink, have=sink.have)
    assert second.ok, second.errors
    assert second.skipped == len(had)
    assert second.completed == abdomen.instance_count - len(had)
    assert second.total == abdomen.instance_count
    _check_files(sink, {u for s in abdomen.series for u in s.instance_uids})


def test_nothing_to_do_when_all_present(
    archive: Archive, local_ae: LocalAE, test_data: SyntheticArchive, sink: DirSink
) -> None:
    brain = test_data.study("MR BRAIN")
    summary = retrieve(archive.node, local_ae, brain.uid, sink, have=lambda uid: True)
    assert summary.ok and summary.skipped == 5 and summary.completed == 0 and sink.calls == 0


def test_unknown_move_destination(
    archive: Archive, local_ae: LocalAE, test_data: SyntheticArchive, sink: DirSink
) -> None:
    node = Node("peer", archive.node.ae_title, "127.0.0.1", archive.node.port, method="move")
    stranger = LocalAE("STRANGER", port=local_ae.port)
    summary = retrieve(node, stranger, test_data.study("MR BRAIN").uid, sink)
    assert not summary.ok and summary.completed == 0 and sink.calls == 0
    assert summary.failed == 5
    if archive.kind == "dcmqrscp":
        assert any("0xA801" in e and "list of modalities" in e for e in summary.errors)
        assert summary.error is not None and summary.error.status == 0xA801  # type: ignore[attr-defined]
    else:  # Orthanc 1.10 answers 0xC000 here
        assert any("nothing arrived" in e and "STRANGER" in e for e in summary.errors)


def test_unknown_study(archive: Archive, local_ae: LocalAE, sink: DirSink) -> None:
    summary = retrieve(archive.node, local_ae, "1.2.3.4.5.6.7.8.9", sink)
    assert not summary.ok and summary.total == 0
    assert "no instances" in summary.errors[0]


def test_refused_is_a_summary_not_an_exception(local_ae: LocalAE, sink: DirSink) -> None:
    from helpers import free_port

    node = Node("closed", "NOBODY", "127.0.0.1", free_port(), timeout=5)
    summary = retrieve(node, local_ae, "1.2.3", sink)
    assert not summary.ok and "connection refused" in summary.errors[0]


def test_peer_killed_mid_transfer(
    tmp_path: Path, shim: Path, local_ae: LocalAE, test_data: SyntheticArchive, sink: DirSink
) -> None:
    abdomen = test_data.study("CT ABDOMEN")
    files = [
        f for f in test_data.files if any(u in f.name for u in [s.uid for s in abdomen.series])
    ]
    peer = start_dcmqrscp(tmp_path / "victim", shim, local_ae, files)
    try:
        node = Node("victim", peer.aet, "127.0.0.1", peer.port, parallel=1, timeout=5)

        def killing_sink(path: Path, instance: object) -> None:
            sink(path, instance)  # type: ignore[arg-type]
            if sink.calls == 3:
                peer.kill_hard()

        summary = retrieve(node, local_ae, abdomen.uid, killing_sink)
    finally:
        peer.stop()
    assert not summary.ok
    assert summary.completed == 3 == sink.calls
    assert summary.failed == abdomen.instance_count - 3
    assert summary.errors and "\n" not in summary.errors[0]
    _check_files(sink, set(sink.instances))


@pytest.mark.parametrize("method", ["get", "move"])
def test_nothing_local_skips_the_instance_listing(
    archive: Archive,
    local_ae: LocalAE,
    test_data: SyntheticArchive,
    sink: DirSink,
    method: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chest = test_data.study("CT CHEST")
    plan = retrieve_module.quick_plan(archive.node, local_ae, chest.uid, None)
    if archive.kind == "dcmqrscp":  # no SOPClassesInStudy: retrieve lists instances
        assert plan is None
        return
    assert plan is not None
    assert plan.series == {s.uid: len(s.instance_uids) for s in chest.series}

    def no_listing(*_args: object) -> None:
        raise AssertionError("instances listed although nothing is stored locally")

    monkeypatch.setattr(retrieve_module, "list_instances", no_listing)
    summary = retrieve(
        archive.node,
        local_ae,
        chest.uid,
        sink,
        method=method,  # type: ignore[arg-type]
        have=sink.have,
        have_any=lambda study: False,
    )
    assert summary.ok, summary.errors
    assert (summary.total, summary.completed, summary.skipped) == (12, 12, 0)
    _check_files(sink, {u for s in chest.series for u in s.instance_uids})
    by_uid = {u: s.uid for s in chest.series for u in s.instance_uids}
    for uid, instance in sink.instances.items():  # UIDs read from the received headers
        assert (instance.study_uid, instance.series_uid) == (chest.uid, by_uid[uid])


def test_something_local_lists_and_skips(
    archive: Archive, local_ae: LocalAE, test_data: SyntheticArchive, sink: DirSink
) -> None:
    chest = test_data.study("CT CHEST")
    kept = set(chest.series[0].instance_uids)
    summary = retrieve(
        archive.node,
        local_ae,
        chest.uid,
        sink,
        have=lambda uid: uid in kept,
        have_any=lambda study: study == chest.uid,
    )
    assert summary.ok, summary.errors
    assert summary.skipped == len(kept) and summary.completed == 12 - len(kept)
    assert not kept & set(sink.instances)


def test_shared_receiver_routes_by_study(
    archive: Archive, local_ae: LocalAE, test_data: SyntheticArchive, sink: DirSink
) -> None:
    brain = test_data.study("MR BRAIN")
    others: list[str] = []
    receiver = retrieve_module.MoveReceiver(local_ae).start()
    try:
        other = StoreHandler(lambda path, inst: others.append(inst.sop_instance_uid))
        receiver.register(other, ["1.2.3.999"], ["1.2.3.998"])  # a second retrieve
        summary = retrieve(
            archive.node, local_ae, brain.uid, sink, method="move", receiver=receiver
        )
    finally:
        receiver.stop()
    assert summary.ok, summary.errors
    assert summary.completed == 5 and not others
    _check_files(sink, {u for s in brain.series for u in s.instance_uids})
