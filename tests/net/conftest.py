"""Fixtures for network tests: a private Orthanc and a dcmqrscp on 127.0.0.1.

Each peer starts once per session (fast suite) with the same synthetic data; tests
that break a peer (kill it mid-transfer) start their own.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import free_port, require_binary
from peers import (
    DcmqrscpPeer,
    OrthancPeer,
    SyntheticArchive,
    build_bindshim,
    find_dcmtk,
    find_orthanc,
    make_test_data,
)

from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.storage import ReceivedInstance

pytestmark = pytest.mark.net

LOCAL_AE = "TUIPACS"


def require_dcmtk(name: str) -> str:
    """Path of a DCMTK program (not pynetdicom's same-named script), or skip/fail."""
    path = find_dcmtk(name)
    if path is None:
        require_binary(f"{name} (DCMTK)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LD_PRELOAD shim that keeps peers on 127.0.0.1."""
    cc = require_binary("cc")
    return build_bindshim(tmp_path_factory.mktemp("shim"), cc)


@pytest.fixture(scope="session")
def test_data(tmp_path_factory: pytest.TempPathFactory) -> SyntheticArchive:
    """The synthetic archive loaded into every peer."""
    return make_test_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def local_ae() -> LocalAE:
    """Our AE: title known to the peers, a free port for the C-MOVE receiver."""
    return LocalAE(ae_title=LOCAL_AE, port=free_port(), bind_host="127.0.0.1")


@pytest.fixture(scope="session")
def orthanc(
    tmp_path_factory: pytest.TempPathFactory,
    shim: Path,
    test_data: SyntheticArchive,
    local_ae: LocalAE,
) -> Iterator[OrthancPeer]:
    """A private Orthanc loaded with the test data (stopped by PID at the end)."""
    binary = find_orthanc()
    if binary is None:
        require_binary("Orthanc")
    peer = OrthancPeer(
        tmp_path_factory.mktemp("orthanc"),
        dicom_port=free_port(),
        http_port=free_port(),
        modalities={"tuipacs": (local_ae.ae_title, "127.0.0.1", local_ae.port)},
        shim=shim,
        binary=binary,
    )
    try:
        peer.start()
        peer.load(test_data.files)
        yield peer
    finally:
        peer.stop()


def start_dcmqrscp(
    workdir: Path, shim: Path, local_ae: LocalAE, files: list[Path], single: bool = False
) -> DcmqrscpPeer:
    """Start a dcmqrscp that knows our AE as a move destination, loaded with files."""
    binary = require_dcmtk("dcmqrscp")
    dcmsend = require_dcmtk("dcmsend")
    peer = DcmqrscpPeer(
        workdir,
        port=free_port(),
        hosts={"tuipacs": (local_ae.ae_title, "127.0.0.1", local_ae.port)},
        shim=shim,
        binary=binary,
        single_process=single,
    )
    peer.start()
    try:
        peer.load(files, dcmsend=dcmsend)
    except Exception:
        peer.stop()
        raise
    return peer


@pytest.fixture(scope="session")
def dcmqrscp(
    tmp_path_factory: pytest.TempPathFactory,
    shim: Path,
    test_data: SyntheticArchive,
    local_ae: LocalAE,
) -> Iterator[DcmqrscpPeer]:
    """A dcmqrscp archive loaded with the test data (stopped by PID at the end)."""
    peer = start_dcmqrscp(tmp_path_factory.mktemp("dcmqrscp"), shim, local_ae, test_data.files)
    try:
        yield peer
    finally:
        peer.stop()


@dataclass(frozen=True)
class Archive:
    """A running test archive and the Node that reaches it."""

    kind: str
    node: Node


@pytest.fixture(params=["orthanc", "dcmqrscp"])
def archive(request: pytest.FixtureRequest) -> Archive:
    """Each test archive in turn."""
    if request.param == "orthanc":
        peer: OrthancPeer = request.getfixturevalue("orthanc")
        node = Node("orthanc", peer.aet, "127.0.0.1", peer.dicom_port, timeout=15)
    else:
        qr: DcmqrscpPeer = request.getfixturevalue("dcmqrscp")
        node = Node("dcmqrscp", qr.aet, "127.0.0.1", qr.port, timeout=15)
    return Archive(request.param, node)


class DirSink:
    """A test sink: moves each received file into a folder, remembers the UIDs."""

    def __init__(self, folder: Path) -> None:
        """Receive into folder."""
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.instances: dict[str, ReceivedInstance] = {}
        self.calls = 0

    def __call__(self, path: Path, instance: ReceivedInstance) -> None:
        """Move the file away (as Archive.add_file(move=True) will)."""
        shutil.move(path, self.folder / f"{instance.sop_instance_uid}.dcm")
        with self.lock:
            self.calls += 1
            self.instances[instance.sop_instance_uid] = instance

    def have(self, uid: str) -> bool:
        """Resume callback: is this instance already here?"""
        with self.lock:
            return uid in self.instances

    @property
    def files(self) -> list[Path]:
        """Files received so far."""
        return sorted(self.folder.glob("*.dcm"))


@pytest.fixture
def sink(tmp_path: Path) -> DirSink:
    """A fresh directory sink."""
    return DirSink(tmp_path / "received")
