"""The archive server as an object (as the TUI runs it): start/stop, on_stored, access per
service, out-of-resources, serve() with a stop event. Clients are pynetdicom."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import SyntheticArchive
from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)
from servekit import AET, LOOPBACK, pynetdicom_store

from tuipacs.config import Config
from tuipacs.server import ArchiveServer, serve
from tuipacs.store.archive import Archive

pytestmark = pytest.mark.net


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    """An empty archive."""
    opened = Archive.open(tmp_path / "archive")
    try:
        yield opened
    finally:
        opened.close()


def _config(**serve: list[str]) -> Config:
    cfg = Config()
    for key, value in serve.items():
        setattr(cfg, f"serve_{key}", value)
    return cfg


def _ct_files(data: SyntheticArchive) -> list[Path]:
    chest = data.study("CT CHEST")
    return [p for p in data.files if chest.series[1].uid in p.name]


def test_start_stop_and_on_stored(archive: Archive, serve_data: SyntheticArchive) -> None:
    seen: list[tuple[str, str, str]] = []
    arrived = threading.Event()
    files = _ct_files(serve_data)

    def on_stored(study: str, series: str, sop: str) -> None:
        seen.append((study, series, sop))
        if len(seen) == len(files):
            arrived.set()

    server = ArchiveServer(archive, Config(), port=0, bind=LOOPBACK, on_stored=on_stored)
    server.start()
    try:
        assert server.port > 0
        for path in files:
            assert pynetdicom_store(server.port, path) == 0x0000
        assert arrived.wait(10)
    finally:
        server.stop()
    chest = serve_data.study("CT CHEST")
    assert {s[2] for s in seen} == set(chest.series[1].instance_uids)
    assert {(s[0], s[1]) for s in seen} == {(chest.uid, chest.series[1].uid)}
    with pytest.raises(OSError):
        socket.create_connection((LOOPBACK, server.port), timeout=1).close()
    assert archive.usage().instances == len(files)


def test_disk_full_answers_out_of_resources(archive: Archive, serve_data: SyntheticArchive) -> None:
    server = ArchiveServer(archive, Config(), port=0, bind=LOOPBACK).start()
    try:
        server.backend.min_free = 1 << 62  # "no space left"
        assert pynetdicom_store(server.port, _ct_files(serve_data)[0]) == 0xA700
    finally:
        server.stop()
    assert archive.usage().instances == 0


def _associate(port: int, calling: str, called: str = AET) -> object:
    ae = AE(calling)
    for uid in (Verification, CTImageStorage, StudyRootQueryRetrieveInformationModelFind):
        ae.add_requested_context(uid)
    return ae.associate(LOOPBACK, port, ae_title=called)


def test_access_per_service(archive: Archive, serve_data: SyntheticArchive) -> None:
    cfg = _config(allow=["ADMIN"], allow_store=["MODALITY"], allow_query=["VIEWER@127.0.0.1"])
    server = ArchiveServer(archive, cfg, port=0, bind=LOOPBACK).start()
    try:
        modality = _associate(server.port, "MODALITY")
        accepted = {str(cx.abstract_syntax) for cx in modality.accepted_contexts}  # type: ignore[attr-defined]
        modality.release()  # type: ignore[attr-defined]
        assert accepted == {Verification, CTImageStorage}
        viewer = _associate(server.port, "VIEWER")
        accepted = {str(cx.abstract_syntax) for cx in viewer.accepted_contexts}  # type: ignore[attr-defined]
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = ""
        statuses = [
            int(status.Status)
            for status, _ in viewer.send_c_find(query, StudyRootQueryRetrieveInformationModelFind)  # type: ignore[attr-defined]
        ]
        viewer.release()  # type: ignore[attr-defined]
        assert accepted == {Verification, StudyRootQueryRetrieveInformationModelFind}
        assert statuses == [0x0000]
        assert pynetdicom_store(server.port, _ct_files(serve_data)[0], "MODALITY") == 0
        # ADMIN may retrieve (storage contexts are kept for C-GET) but not store
        assert pynetdicom_store(server.port, _ct_files(serve_data)[1], "ADMIN") == 0x0124
        for calling, called, reason in (("NOBODY", AET, 3), ("ADMIN", "SOMEONE", 7)):
            refused = _associate(server.port, calling, called)
            assert refused.is_rejected  # type: ignore[attr-defined]
            assert refused.acceptor.primitive.diagnostic == reason  # type: ignore[attr-defined]
    finally:
        server.stop()
    assert archive.usage().instances == 1


def test_serve_until_stopped(archive: Archive) -> None:
    stop = threading.Event()
    cfg = Config()
    cfg.port = 0
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(serve(archive, cfg, bind=LOOPBACK, stop=stop))
    )
    thread.start()
    time.sleep(1.0)
    stop.set()
    thread.join(10)
    assert result == [0]


def test_stored_file_is_the_received_dataset(
    archive: Archive, serve_data: SyntheticArchive
) -> None:
    path = _ct_files(serve_data)[0]
    with ArchiveServer(archive, Config(), port=0, bind=LOOPBACK) as server:
        assert pynetdicom_store(server.port, path) == 0
        server.inbox.flush()
    original = dcmread(path)
    kept_path = archive.instance_path(original.SOPInstanceUID)
    assert kept_path is not None
    kept = dcmread(kept_path)
    assert kept.PixelData == original.PixelData
    assert kept.PatientName == original.PatientName


def test_store_through_pynetdicoms_own_path(
    archive: Archive, serve_data: SyntheticArchive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the stock transport (and the fast one's fallback) pynetdicom's chunked receive
    hands over the file: the same outcome."""
    monkeypatch.setenv("TUIPACS_TRANSPORT", "stock")
    files = _ct_files(serve_data)
    with ArchiveServer(archive, Config(), port=0, bind=LOOPBACK) as server:
        for path in files:
            assert pynetdicom_store(server.port, path) == 0
        server.inbox.flush()
        spool = server.settings.spool
        assert spool is not None
        assert [p.name for p in spool.iterdir()] == [".lock"]
    assert archive.usage().instances == len(files)
    assert archive.verify().ok


def test_dead_servers_inbox_is_indexed_on_start(
    archive: Archive, serve_data: SyntheticArchive
) -> None:
    dead = archive.root / "inbox" / "12345-deadbeef"
    dead.mkdir(parents=True)
    (dead / ".lock").touch()
    files = _ct_files(serve_data)
    for path in files:
        (dead / f"{path.stem}.dcm").write_bytes(path.read_bytes())
    (dead / "half-linked.idx").write_bytes(b"")
    with ArchiveServer(archive, Config(), port=0, bind=LOOPBACK) as server:
        assert server.inbox.flush()
    assert archive.usage().instances == len(files)
    assert not dead.exists()
    assert list((archive.root / "inbox").iterdir()) == []


def test_no_sync_still_stores_and_indexes(archive: Archive, serve_data: SyntheticArchive) -> None:
    files = _ct_files(serve_data)
    with ArchiveServer(archive, Config(), port=0, bind=LOOPBACK, sync=False) as server:
        assert not server.inbox.sync
        for path in files:
            assert pynetdicom_store(server.port, path) == 0
    assert archive.usage().instances == len(files)
    assert archive.verify().ok
