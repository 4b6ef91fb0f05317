"""DICOM over TLS against real peers: DCMTK's TLS tools and Orthanc with DicomTlsEnabled.

Server side: `tuipacs serve` with [serve] tls = "mutual" answers DCMTK echoscu/storescu
with a trusted client certificate, refuses a plain caller and a certificate from another CA,
and a silent connection does not hold up the others. Client side: echo, find, retrieve
(C-GET and C-MOVE, whose receiver then listens with TLS) and send against Orthanc over TLS;
an archive certificate we do not trust, or a plain node pointed at a TLS port, gives one line.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port
from peers import OrthancPeer, SyntheticArchive, find_orthanc, require_dcmtk
from serve.servekit import ServerProcess, index_rows, tool_env, write_config
from tlskit import Pki, make_pki

pytestmark = pytest.mark.net


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_section(pki: Pki, cert: Path, key: Path, ca: Path | None = None) -> str:
    """A [tls] table (paths absolute)."""
    lines = ["[tls]", f'certificate = "{cert}"', f'private_key = "{key}"']
    lines.append(f'ca = "{ca or pki.ca}"')
    return "\n".join(lines) + "\n"


def node_section(name: str, ae: str, port: int, tls: bool = True) -> str:
    """A [nodes.NAME] table on 127.0.0.1."""
    return (
        f'[nodes.{name}]\nae_title = "{ae}"\nhost = "127.0.0.1"\nport = {port}\n'
        f"tls = {'true' if tls else 'false'}\n"
    )


def run_cli(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m tuipacs ARGS` with its own TUIPACS_HOME."""
    env = tool_env() | {"TUIPACS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def dcmtk_tls(pki: Pki, cert: Path | None = None, key: Path | None = None) -> list[str]:
    """DCMTK TLS options: our key and certificate, trusting the test CA."""
    return ["+tls", str(key or pki.client_key), str(cert or pki.client_cert), "+cf", str(pki.ca)]


# --------------------------------------------------------------------------- tuipacs serve


@pytest.fixture(scope="module")
def tls_server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`tuipacs serve` speaking DICOM over TLS only, client certificates required."""
    home = tmp_path_factory.mktemp("tls-server")
    write_config(
        home, tls_section(pki, pki.server_cert, pki.server_key) + '[serve]\ntls = "mutual"\n'
    )
    server = ServerProcess.start(home)
    try:
        yield server
    finally:
        server.stop()


def _echoscu(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_dcmtk("echoscu"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=tool_env(),
    )


def test_dcmtk_echo_and_store_over_tls(
    tls_server: ServerProcess, pki: Pki, test_data: SyntheticArchive
) -> None:
    port = str(tls_server.port)
    done = _echoscu(*dcmtk_tls(pki), "-aec", "TUIPACS", "127.0.0.1", port)
    assert done.returncode == 0, done.stderr
    files = [str(p) for p in test_data.files[:3]]
    stored = subprocess.run(
        [require_dcmtk("storescu"), *dcmtk_tls(pki), "-aec", "TUIPACS", "127.0.0.1", port, *files],
        capture_output=True,
        text=True,
        timeout=60,
        env=tool_env(),
    )
    assert stored.returncode == 0, stored.stderr
    wanted = {uid for study in test_data.studies for s in study.series for uid in s.instance_uids}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = index_rows(tls_server.archive_root, "SELECT sop_uid FROM instance")
        if len({r[0] for r in rows} & wanted) >= 3:
            break
        time.sleep(0.1)
    assert len({r[0] for r in rows} & wanted) >= 3


def test_plain_caller_is_refused(tls_server: ServerProcess, tmp_path: Path) -> None:
    done = _echoscu("-aec", "TUIPACS", "127.0.0.1", str(tls_server.port))
    assert done.returncode != 0
    ours = run_cli(tmp_path, "echo", f"TUIPACS@127.0.0.1:{tls_server.port}")
    assert ours.returncode == 1
    lines = ours.stderr.strip().splitlines()
    assert len(lines) == 1 and "set tls = true" in lines[0]
    assert tls_server.wait_log("TLS handshake failed"), tls_server.log[-2000:]


def test_certificate_from_another_ca_is_refused(tls_server: ServerProcess, pki: Pki) -> None:
    options = dcmtk_tls(pki, pki.other_cert, pki.other_key)
    done = _echoscu(*options, "-aec", "TUIPACS", "127.0.0.1", str(tls_server.port))
    assert done.returncode != 0
    assert tls_server.wait_log("unable to get local issuer certificate"), tls_server.log[-2000:]


def test_silent_connection_does_not_hold_up_others(tls_server: ServerProcess, pki: Pki) -> None:
    """pynetdicom handshakes in the accept loop: one silent client would stall everyone."""
    silent = [socket.create_connection(("127.0.0.1", tls_server.port)) for _ in range(3)]
    try:
        started = time.monotonic()
        done = _echoscu(*dcmtk_tls(pki), "-aec", "TUIPACS", "127.0.0.1", str(tls_server.port))
        assert done.returncode == 0, done.stderr
        assert time.monotonic() - started < 5
    finally:
        for sock in silent:
            sock.close()


def test_tuipacs_client_to_tuipacs_server(
    tls_server: ServerProcess, pki: Pki, tmp_path: Path
) -> None:
    home = tmp_path / "client"
    write_config(
        home,
        tls_section(pki, pki.client_cert, pki.client_key)
        + node_section("pacs", "TUIPACS", tls_server.port),
    )
    done = run_cli(home, "echo", "pacs")
    assert done.returncode == 0, done.stderr
    assert "echo ok" in done.stdout


def test_untrusted_server_is_one_line(tls_server: ServerProcess, pki: Pki, tmp_path: Path) -> None:
    home = tmp_path / "client"
    write_config(
        home,
        tls_section(pki, pki.client_cert, pki.client_key, ca=pki.other_ca)
        + node_section("pacs", "TUIPACS", tls_server.port),
    )
    done = run_cli(home, "echo", "pacs")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"certificate of 127.0.0.1:{tls_server.port} is not trusted" in lines[0]
    assert "[tls] ca" in lines[0]


def test_server_without_certificate_does_not_start(tmp_path: Path) -> None:
    write_config(tmp_path, '[serve]\ntls = "on"\n')
    env = tool_env() | {"TUIPACS_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "tuipacs", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "needs [tls] certificate and private_key" in done.stderr


# --------------------------------------------------------------------------- Orthanc


@pytest.fixture(scope="module")
def tls_orthanc(
    pki: Pki,
    shim: Path,
    test_data: SyntheticArchive,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[OrthancPeer, int]]:
    """Orthanc with DicomTlsEnabled (client certificates required) and our TLS receiver."""
    binary = find_orthanc()
    if binary is None:
        from helpers import require_binary

        require_binary("Orthanc")
    receiver_port = free_port()
    extra: dict[str, object] = {
        "DicomTlsEnabled": True,
        "DicomTlsCertificate": str(pki.server_cert),
        "DicomTlsPrivateKey": str(pki.server_key),
        "DicomTlsTrustedCertificates": str(pki.ca),
        "DicomTlsRemoteCertificateRequired": True,
        "DicomModalities": {
            "tuipacs": {
                "AET": "TUIPACS",
                "Host": "127.0.0.1",
                "Port": receiver_port,
                "UseDicomTls": True,
            }
        },
    }
    peer = OrthancPeer(
        tmp_path_factory.mktemp("orthanc-tls"),
        dicom_port=free_port(),
        http_port=free_port(),
        shim=shim,
        binary=binary,
        extra=extra,
    )
    try:
        peer.start()
        peer.load(test_data.files)
        yield peer, receiver_port
    finally:
        peer.stop()


def client_home(
    folder: Path, pki: Pki, orthanc: OrthancPeer, receiver_port: int, method: str = "get"
) -> Path:
    """A tuipacs home whose node 'pacs' is the TLS Orthanc."""
    write_config(
        folder,
        f"port = {receiver_port}\n"
        + tls_section(pki, pki.client_cert, pki.client_key)
        + node_section("pacs", "ORTHANC", orthanc.dicom_port)
        + f'method = "{method}"\n',
    )
    return folder


@pytest.mark.parametrize("method", ["get", "move"])
def test_query_and_retrieve_from_orthanc_over_tls(
    tls_orthanc: tuple[OrthancPeer, int],
    pki: Pki,
    test_data: SyntheticArchive,
    tmp_path: Path,
    method: str,
) -> None:
    orthanc, receiver_port = tls_orthanc
    home = client_home(tmp_path, pki, orthanc, receiver_port, method)
    assert run_cli(home, "echo", "pacs").returncode == 0
    found = run_cli(home, "find", "pacs", "--json", "-k", "StudyInstanceUID=")
    assert found.returncode == 0, found.stderr
    study = test_data.study("CT CHEST")
    assert study.uid in found.stdout
    done = run_cli(home, "retrieve", "pacs", "--study", study.uid, "--json")
    assert done.returncode == 0, done.stderr
    assert f'"completed": {study.instance_count}' in done.stdout
    listed = run_cli(home, "ls", "--study", study.uid)
    assert listed.returncode == 0 and "AXIAL" in listed.stdout


def test_send_to_orthanc_over_tls(
    tls_orthanc: tuple[OrthancPeer, int], pki: Pki, tmp_path: Path
) -> None:
    from peers import make_ct_study

    orthanc, receiver_port = tls_orthanc
    home = client_home(tmp_path / "home", pki, orthanc, receiver_port)
    study_uid, files = make_ct_study(tmp_path / "ct", 3, size=32)
    done = run_cli(home, "send", "pacs", *map(str, files))
    assert done.returncode == 0, done.stderr
    found = orthanc.rest("POST", "/tools/lookup", study_uid.encode())
    assert found


def test_plain_node_at_a_tls_port_is_one_line(
    tls_orthanc: tuple[OrthancPeer, int], tmp_path: Path
) -> None:
    orthanc, _ = tls_orthanc
    write_config(tmp_path, node_section("pacs", "ORTHANC", orthanc.dicom_port, tls=False))
    done = run_cli(tmp_path, "echo", "pacs", timeout=90)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "tls = true" in done.stderr
