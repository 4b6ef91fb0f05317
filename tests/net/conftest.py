"""Fixtures for network tests: a private Orthanc and a dcmqrscp on 127.0.0.1.

Each peer starts once per session (fast suite) with the same synthetic data; tests
that break a peer (kill it mid-transfer) start their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port, require_binary
from peers import (
    DcmqrscpPeer,
    DirSink,
    OrthancPeer,
    RemoteArchive,
    SyntheticArchive,
    build_bindshim,
    find_orthanc,
    make_test_data,
    start_dcmqrscp,
    start_orthanc,
)

from tuipacs.dicom.nodes import LocalAE, Node

pytestmark = pytest.mark.net

LOCAL_AE = "TUIPACS"


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
    modalities = {"tuipacs": (local_ae.ae_title, "127.0.0.1", local_ae.port)}
    peer = start_orthanc(
        tmp_path_factory.mktemp("orthanc"), test_data.files, shim, binary, modalities
    )
    try:
        yield peer
    finally:
        peer.stop()


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


@pytest.fixture(params=["orthanc", "dcmqrscp"])
def archive(request: pytest.FixtureRequest) -> RemoteArchive:
    """Each test archive in turn."""
    if request.param == "orthanc":
        peer: OrthancPeer = request.getfixturevalue("orthanc")
        node = Node("orthanc", peer.aet, "127.0.0.1", peer.dicom_port, timeout=15)
    else:
        qr: DcmqrscpPeer = request.getfixturevalue("dcmqrscp")
        node = Node("dcmqrscp", qr.aet, "127.0.0.1", qr.port, timeout=15)
    return RemoteArchive(request.param, node)


@pytest.fixture
def sink(tmp_path: Path) -> DirSink:
    """A fresh directory sink."""
    return DirSink(tmp_path / "received")
