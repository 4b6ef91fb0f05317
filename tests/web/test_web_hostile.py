"""``tuipacs serve --http`` under hostile requests and the access rules.

Auth: no credentials, wrong ones -> 401 (with a challenge); right ones -> 200; token mode;
anonymous only when configured. Raw sockets: a 1 MB header, ``../..`` in the path, a bad
UID, a multipart body with the wrong boundary, a Content-Length of 10^12, a body cut short,
stalled clients: one clear 4xx each (one text line), the server keeps answering others,
nothing half-stored, no traceback in the log."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from peers import SyntheticArchive, make_ct_study
from webkit import (
    LOOPBACK,
    PASSWORD,
    TOKEN,
    USER,
    WebServe,
    basic,
    config_text,
    multipart,
    raw,
    request,
    start_loaded,
    status_of,
)

from tuipacs.store.archive import Archive

pytestmark = pytest.mark.net


def count_instances(web: WebServe) -> int:
    """Instances in the server's index."""
    archive = Archive(web.archive_root)
    try:
        return int(archive.execute("SELECT count(*) FROM instance")[0][0])
    finally:
        archive.close()


def staged_files(web: WebServe) -> list[Path]:
    """Files left in the server's spool and inbox folders."""
    tmp = [p for p in (web.archive_root / "tmp").rglob("*") if p.is_file()]
    inbox = [p for p in (web.archive_root / "inbox").rglob("*.dcm")]
    return [p for p in tmp + inbox if p.name != ".lock"]


def healthy(web: WebServe) -> bool:
    """The server answers a search."""
    return request(f"{web.url}/studies?limit=1", headers=basic(), timeout=10).status == 200


def test_auth_basic(web: WebServe) -> None:
    url = f"{web.url}/studies"
    none = request(url)
    assert none.status == 401 and none.headers["WWW-Authenticate"].startswith("Basic")
    assert b"\n" == none.body[-1:] and none.body.count(b"\n") == 1
    assert request(url, headers=basic(password="wrong")).status == 401
    assert request(url, headers=basic(user="nobody")).status == 401
    assert request(url, headers={"Authorization": "Basic !!!notbase64"}).status == 401
    assert request(url, headers={"Authorization": f"Bearer {TOKEN}"}).status == 401
    assert request(url, headers=basic()).status == 200
    assert PASSWORD not in web.log and "wrong" not in web.log
    # a STOW-RS without credentials stores nothing
    before = count_instances(web)
    _, files = make_ct_study(web.home.parent / "unauth", slices=1, size=16)
    body, ctype = multipart([files[0].read_bytes()])
    assert request(url, "POST", {"Content-Type": ctype}, body).status == 401
    assert count_instances(web) == before


@pytest.fixture(scope="module")
def token_web(
    tmp_path_factory: pytest.TempPathFactory, web_data: SyntheticArchive
) -> Iterator[WebServe]:
    """A server with token auth."""
    home = tmp_path_factory.mktemp("web-token") / "home"
    server = start_loaded(home, web_data.files[:2], config_text(auth="token"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def open_web(
    tmp_path_factory: pytest.TempPathFactory, web_data: SyntheticArchive
) -> Iterator[WebServe]:
    """A server that allows anonymous access."""
    home = tmp_path_factory.mktemp("web-anon") / "home"
    server = start_loaded(home, web_data.files[:2], config_text(anonymous=True))
    try:
        yield server
    finally:
        server.stop()


def test_auth_token_and_anonymous(token_web: WebServe, open_web: WebServe) -> None:
    url = f"{token_web.url}/studies"
    none = request(url)
    assert none.status == 401 and none.headers["WWW-Authenticate"].startswith("Bearer")
    assert request(url, headers={"Authorization": "Bearer wrong"}).status == 401
    assert request(url, headers=basic()).status == 401  # basic is not token
    assert request(url, headers={"Authorization": f"Bearer {TOKEN}"}).status == 200
    assert request(f"{open_web.url}/studies").status == 200
    assert request(f"{open_web.url}/studies", headers=basic()).status == 200


def test_missing_password_variable_stops_the_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[serve]\nhttp_users = { reader = "env:TUIPACS_TEST_UNSET_PW" }\n', encoding="utf-8"
    )
    from webkit import cli

    done = cli(home, "serve", "--port", "0", "--http", "0", timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "TUIPACS_TEST_UNSET_PW" in lines[0] and "Traceback" not in done.stderr
    )


def _get(path: str, extra: str = "") -> bytes:
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}\r\nAuthorization: Basic {auth}\r\n"
            f"{extra}Connection: close\r\n\r\n").encode()  # fmt: skip


def test_hostile_requests(web: WebServe) -> None:
    port = web.http_port
    huge = _get("/dicom-web/studies", "X-Big: " + "a" * (1 << 20) + "\r\n")
    assert status_of(raw(port, huge)) == 431
    assert healthy(web)
    for path in ("/dicom-web/../../etc/passwd", "/dicom-web/studies/../../../etc/passwd",
                 "/dicom-web/studies/%2e%2e/x"):  # fmt: skip
        answer = raw(port, _get(path))
        assert 400 <= status_of(answer) < 500, answer[:200]
        assert b"root:" not in answer
    bad_uid = raw(port, _get("/dicom-web/studies/1.2.abc/series"))
    assert status_of(bad_uid) == 400 and b"not a valid UID" in bad_uid
    too_long = raw(port, _get("/dicom-web/studies/" + "1." * 40 + "1"))
    assert status_of(too_long) == 400
    assert status_of(raw(port, _get("/other"))) == 404
    assert status_of(raw(port, b"NONSENSE\r\n\r\n")) == 400
    assert healthy(web)
    assert "Traceback" not in web.log


def _post(body: bytes, content_type: str, length: int | None = None) -> bytes:
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    size = len(body) if length is None else length
    return (f"POST /dicom-web/studies HTTP/1.1\r\nHost: {LOOPBACK}\r\n"
            f"Authorization: Basic {auth}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {size}\r\n\r\n").encode() + body  # fmt: skip


def test_hostile_stow_stores_nothing(web: WebServe, tmp_path: Path) -> None:
    port = web.http_port
    before = count_instances(web)
    _, files = make_ct_study(tmp_path / "h", slices=2, size=16)
    body, ctype = multipart([f.read_bytes() for f in files])
    wrong = ctype.replace("tuipacs-test-boundary", "another-boundary")
    answer = raw(port, _post(body, wrong))
    assert status_of(answer) == 400 and b"boundary" in answer
    huge = raw(port, _post(b"", ctype, length=10**12))
    assert status_of(huge) == 413 and b"http_max_body" in huge
    assert status_of(raw(port, _post(body, "application/json"))) == 415
    # a body cut short: the first instance is complete, the second is not
    cut = body[: len(body) - 200]
    answer = raw(port, _post(cut, ctype, length=len(body)))
    assert status_of(answer) == 400 and b"ended" in answer
    # the first part was complete and may be kept; the cut one never is
    assert healthy(web)
    deadline = time.monotonic() + 10
    while staged_files(web) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert staged_files(web) == []
    assert count_instances(web) <= before + 1
    second = pydicom.dcmread(files[1], stop_before_pixels=True).SOPInstanceUID
    archive = Archive(web.archive_root)
    try:
        assert not archive.has_instance(second)
    finally:
        archive.close()
    assert "Traceback" not in web.log


def test_stalled_clients_do_not_block_others(web: WebServe) -> None:
    """Connections that send half a request hold a worker each; others are still answered
    (a hang check with a generous bound, not a speed test)."""
    stalled = []
    try:
        for _ in range(6):
            sock = socket.create_connection((LOOPBACK, web.http_port), timeout=10)
            sock.sendall(b"GET /dicom-web/studies HTTP/1.1\r\nHost: x\r\n")
            stalled.append(sock)
        start = time.monotonic()
        assert healthy(web)
        assert time.monotonic() - start < 10
    finally:
        for sock in stalled:
            sock.close()
    assert web.alive()


def test_chunked_stow(web: WebServe, tmp_path: Path) -> None:
    """A chunked STOW-RS body (as Orthanc sends) is stored; a bad chunk size is 400."""
    _, files = make_ct_study(tmp_path / "c", slices=1, size=16)
    body, ctype = multipart([files[0].read_bytes()])
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    head = (f"POST /dicom-web/studies HTTP/1.1\r\nHost: {LOOPBACK}\r\n"
            f"Authorization: Basic {auth}\r\nContent-Type: {ctype}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()  # fmt: skip
    chunks = b"".join(
        b"%x\r\n" % len(body[i : i + 700]) + body[i : i + 700] + b"\r\n"
        for i in range(0, len(body), 700)
    )
    answer = raw(web.http_port, head + chunks + b"0\r\n\r\n")
    assert status_of(answer) == 200, answer[:300]
    sop = pydicom.dcmread(files[0], stop_before_pixels=True).SOPInstanceUID
    assert sop.encode() in answer
    bad = raw(web.http_port, head + b"zz\r\n" + body + b"\r\n0\r\n\r\n")
    assert status_of(bad) == 400 and b"chunked" in bad


@pytest.fixture(scope="module")
def quick_web(
    tmp_path_factory: pytest.TempPathFactory, web_data: SyntheticArchive
) -> Iterator[WebServe]:
    """A server with [serve] http_timeout = 2."""
    home = tmp_path_factory.mktemp("web-quick") / "home"
    text = config_text().replace("[serve]\n", "[serve]\nhttp_timeout = 2\n")
    server = start_loaded(home, web_data.files[:1], text)
    try:
        yield server
    finally:
        server.stop()


def _dripped_until_cut(port: int, head: bytes, drip: bytes, bound: float) -> float:
    """Send ``head``, then ``drip`` every 0.3 s until the server closes the connection;
    the seconds that took (``bound`` if it never did)."""
    start = time.monotonic()
    with socket.create_connection((LOOPBACK, port), timeout=1) as sock:
        sock.sendall(head)
        while time.monotonic() - start < bound:
            try:
                sock.sendall(drip)
                if sock.recv(4096) == b"":
                    break
            except TimeoutError:
                continue  # nothing to read yet: the connection is open
            except OSError:
                break  # reset: cut
            time.sleep(0.3)
    return time.monotonic() - start


def test_slow_clients_are_cut(quick_web: WebServe) -> None:
    """A client that sends its headers a line at a time (each within the read timeout) is
    cut once the whole header block is late; so is one that drips its request line."""
    port = quick_web.http_port
    took = _dripped_until_cut(port, b"GET /dicom-web/studies HTTP/1.1\r\n", b"X-Slow: 1\r\n", 20)
    assert took < 15, "a client dripping its headers was never cut"
    took = _dripped_until_cut(port, b"GET /dicom-web/", b"a", 20)
    assert took < 15, "a client dripping its request line was never cut"
    assert request(f"{quick_web.url}/studies", headers=basic()).status == 200
    assert "Traceback" not in quick_web.log


def test_anonymous_beyond_loopback_is_refused_before_listening(tmp_path: Path) -> None:
    """An anonymous DICOMweb server on a non-loopback address needs allow_any; the refusal
    comes before anything listens (192.0.2.1 is a documentation address: never bound)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[serve]\nallow = ["CT1@127.0.0.1"]\nhttp_allow_anonymous = true\n', encoding="utf-8"
    )
    from webkit import cli

    done = cli(home, "serve", "--bind", "192.0.2.1", "--port", "0", "--http", "0", timeout=60)
    assert done.returncode != 0
    assert "refusing DICOMweb on 192.0.2.1 with http_allow_anonymous" in done.stderr
    assert "listening" not in done.stderr and "Traceback" not in done.stderr
