"""One clear line for each way a DICOMweb node can fail: nothing listening, a DICOM (DIMSE)
port given as a URL (a real Orthanc's), an untrusted certificate (an in-test HTTPS server),
and hostile answers from an in-test HTTP server (malformed JSON, a wrong shape, a huge
Content-Length, a multipart with a bad boundary or cut short): no traceback, and nothing
half-stored in the archive."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pydicom
import pytest
from helpers import free_port
from peers import OrthancPeer, SyntheticArchive
from tlskit import make_pki

from tuipacs.remote import RemoteNetError, client_for
from tuipacs.remote.web_node import WebNode
from tuipacs.store.archive import Archive

Handler = Callable[[BaseHTTPRequestHandler], None]


class _Server:
    """An HTTP(S) server in this process on 127.0.0.1 whose answers the test sets."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Handler] = {}
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?")[0]
                for prefix, handler in sorted(owner.routes.items(), key=lambda i: -len(i[0])):
                    if path.startswith(prefix):
                        handler(self)
                        return
                self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        if context is not None:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def _send(body: bytes, kind: str = "application/dicom+json", status: int = 200,
          length: int | None = None) -> Handler:  # fmt: skip
    """A handler answering ``body`` (with a Content-Length of ``length`` if given)."""

    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body) if length is None else length))
        request.end_headers()
        request.wfile.write(body)
        request.close_connection = True

    return handle


@pytest.fixture
def server() -> Iterator[_Server]:
    """A plain HTTP server for hostile answers."""
    srv = _Server()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Archive]:
    archive = Archive.open(tmp_path / "local")
    yield archive
    archive.close()


def _echo_error(url: str, **settings: object) -> str:
    """The one line of a failed echo of the node at ``url``."""
    node = WebNode("bad", url, timeout=10, **settings)  # type: ignore[arg-type]
    with pytest.raises(RemoteNetError) as caught:
        client_for(node, None).echo()  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_nothing_listening() -> None:
    port = free_port()
    message = _echo_error(f"http://127.0.0.1:{port}/dicom-web")
    assert "refused the connection" in message and f"127.0.0.1:{port}" in message


def test_dimse_port_given_as_url(orthanc: OrthancPeer) -> None:
    message = _echo_error(f"http://127.0.0.1:{orthanc.dicom_port}/dicom-web")
    assert "this looks like a DICOM (DIMSE) port" in message
    assert f"AE@127.0.0.1:{orthanc.dicom_port}" in message


def test_base_url_without_dicom_web(orthanc: OrthancPeer) -> None:
    """Orthanc's REST root is not its DICOMweb root: 404 (or 400) with the advice."""
    message = _echo_error(orthanc.url)
    assert "/dicom-web" in message or "base URL" in message


def test_untrusted_certificate_then_trusted_by_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    for cert, key, ca, ok in (
        (pki.other_cert, pki.other_key, None, False),  # unknown CA, no ca set
        (pki.server_cert, pki.server_key, None, False),  # our test CA, not the system's
        (pki.server_cert, pki.server_key, pki.ca, True),  # ca = the CA that signed it
    ):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        srv = _Server(context)
        srv.routes["/dicom-web/studies"] = _send(b"[]")
        try:
            url = f"https://127.0.0.1:{srv.port}/dicom-web"
            settings = {"ca": str(ca)} if ca else {}
            if ok:
                node = WebNode("tls", url, timeout=10, ca=str(ca))
                assert client_for(node, None).echo().ok  # type: ignore[arg-type]
            else:
                message = _echo_error(url, **settings)
                assert "TLS certificate is not trusted" in message
                assert 'set ca = "path.pem" in [nodes.bad]' in message
        finally:
            srv.stop()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (_send(b"[{\"0020000D\": {\"vr\": \"UI\", \"Value\": [\"1.2\""), "malformed JSON"),
        (_send(b'{"0020000D": {}}'), "wrong shape"),
        (_send(b'[{"0020000D": {"vr": "UI", "Value": "1.2"}}]'), "not a list"),
        (_send(b'[{"not-a-tag": 1}]'), "not a DICOM tag"),
        (_send(b"[]", length=10**12), "more than the 64 MiB allowed"),
        (_send(b"<html>hello</html>", kind="text/html"), "not JSON"),
        (_send(b"", status=404), "base URL is wrong"),
        (_send(b"", status=403), "403 Forbidden"),
    ],
)
def test_hostile_search_answers(server: _Server, answer: Handler, expected: str) -> None:
    server.routes["/dicom-web/studies"] = answer
    node = WebNode("hostile", f"http://127.0.0.1:{server.port}/dicom-web", timeout=10)
    with pytest.raises(RemoteNetError) as caught:
        client_for(node, None).find("study")  # type: ignore[arg-type]
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def _listing(study: str, series: str, sops: list[str]) -> bytes:
    """A QIDO-RS instance list."""
    return json.dumps([
        {"0020000E": {"vr": "UI", "Value": [series]}, "00080018": {"vr": "UI", "Value": [s]}}
        for s in sops
    ]).encode()  # fmt: skip


def _multipart(parts: list[bytes], boundary: str = "b0undary", end: bool = True) -> bytes:
    """A multipart/related body of ``parts`` (closed unless ``end`` is False)."""
    body = b"".join(
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + p + b"\r\n"
        for p in parts
    )
    return body + (f"--{boundary}--\r\n".encode() if end else b"")


def _files_of(test_data: SyntheticArchive) -> tuple[str, str, list[Path]]:
    """A study, its first series and that series' files."""
    study = test_data.study("CT CHEST")
    series = study.series[0]
    files = [f for f in test_data.files if pydicom.dcmread(f).SeriesInstanceUID == series.uid]
    return study.uid, series.uid, sorted(files)


@pytest.mark.parametrize(
    ("kind", "cut", "expected", "kept"),
    [
        ('multipart/related; type="application/dicom"', False, "boundary is missing", 0),
        ('multipart/related; boundary="bad\x01"', False, "boundary is missing", 0),
        ('multipart/related; boundary=other', False, "no multipart boundary", 0),
        ("application/dicom", False, "not multipart/related", 0),
        ('multipart/related; type="application/dicom"; boundary=b0undary', True,
         "cut short", 1),
    ],
)  # fmt: skip
def test_hostile_retrieve_answers(
    server: _Server, local: Archive, test_data: SyntheticArchive,
    kind: str, cut: bool, expected: str, kept: int, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A bad boundary stores nothing; an answer cut in its second part stores the first
    (complete) instance only, and no staging file is left behind."""
    study, series, files = _files_of(test_data)
    sops = [str(pydicom.dcmread(f).SOPInstanceUID) for f in files]
    server.routes[f"/dicom-web/studies/{study}/instances"] = _send(_listing(study, series, sops))
    datas = [f.read_bytes() for f in files[:2]]
    body = _multipart([datas[0]])
    if cut:
        body = _multipart(datas, end=False)[: -len(datas[1]) // 2]
    server.routes[f"/dicom-web/studies/{study}/series/{series}"] = _send(body, kind=kind)
    node = WebNode("hostile", f"http://127.0.0.1:{server.port}/dicom-web", timeout=10)
    result = client_for(node, None, local).retrieve(study)  # type: ignore[arg-type]
    assert not result.ok and result.errors
    assert expected in result.errors[0] and "\n" not in result.errors[0]
    assert "Traceback" not in caplog.text
    assert result.completed == kept and result.failed == len(sops) - kept
    held = [u for u in sops if local.has_instance(u)]
    assert len(held) == kept
    if kept:
        stored = local.instance_path(held[0])
        assert stored is not None and stored.read_bytes() == datas[0]
    tmp = local.root / "tmp"
    leftovers = [p for p in tmp.rglob("*") if p.is_file() and p.name != ".lock"]
    assert leftovers == []


def test_cli_one_line_each(orthanc: OrthancPeer, tmp_path: Path) -> None:
    """``echo`` and ``node check`` through the CLI: one line on stderr, exit code 1."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"TUIPACS_HOME": str(home), "PATH": "/usr/bin:/bin"}
    dimse = f"http://127.0.0.1:{orthanc.dicom_port}/dicom-web"
    for args in (
        ["echo", f"http://127.0.0.1:{free_port()}/dicom-web"],
        ["echo", dimse],
        ["find", dimse],
    ):
        done = subprocess.run([sys.executable, "-m", "tuipacs", *args], capture_output=True,
                              text=True, timeout=120, env=env)  # fmt: skip
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tuipacs: error:"), done.stderr
    added = subprocess.run([sys.executable, "-m", "tuipacs", "node", "add", "d", dimse],
                           capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    check = subprocess.run([sys.executable, "-m", "tuipacs", "node", "check", "d"],
                           capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert check.returncode == 1
    assert "FAIL  echo" in check.stdout and "DICOM (DIMSE) port" in check.stdout
    assert "Traceback" not in check.stdout + check.stderr
