"""Helpers for the DICOMweb server tests (not a test module): ``tuipacs serve --http`` as a
subprocess with its own home, raw HTTP without a client library, multipart parsing."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

from helpers import free_port
from peers import stop_process, wait_for_port

LOOPBACK = "127.0.0.1"
USER, PASSWORD = "reader", "web-s3cret"
PASSWORD_ENV = "TUIPACS_TEST_WEB_PW"
TOKEN = "tok-0123456789abcdef"


def config_text(auth: str = "basic", anonymous: bool = False) -> str:
    """A config.toml for the server: a user (password from the environment) and a token."""
    return (
        'ae_title = "TUIPACS"\n[serve]\n'
        f'http_auth = "{auth}"\n'
        f'http_users = {{ {USER} = "env:{PASSWORD_ENV}" }}\n'
        f'http_tokens = ["{TOKEN}"]\n'
        f"http_allow_anonymous = {'true' if anonymous else 'false'}\n"
    )


def cli(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m tuipacs ARGS`` with this home."""
    env = dict(os.environ, TUIPACS_HOME=str(home))
    env.pop("TUIPACS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", *args], capture_output=True, text=True,
        timeout=timeout, env=env, check=False,
    )  # fmt: skip


@dataclass
class WebServe:
    """``tuipacs serve --http`` on 127.0.0.1 (stopped by PID)."""

    home: Path
    dimse_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WebServe:
        """Start, wait for the HTTP port."""
        env = dict(os.environ, TUIPACS_HOME=str(self.home), **{PASSWORD_ENV: PASSWORD})
        env.pop("TUIPACS_DEBUG", None)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tuipacs", "serve", "--port", str(self.dimse_port),
                 "--bind", LOOPBACK, "--http", str(self.http_port)],
                env=env, stdout=log, stderr=log,
            )  # fmt: skip
        wait_for_port(self.http_port, self.proc, timeout=30)
        return self

    def stop(self) -> None:
        """Terminate by PID."""
        stop_process(self.proc, grace=15.0)

    @property
    def log_path(self) -> Path:
        """Where the server's output goes."""
        return self.home / "serve.log"

    @property
    def log(self) -> str:
        """Everything logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    @property
    def url(self) -> str:
        """The DICOMweb root."""
        return f"http://{LOOPBACK}:{self.http_port}/dicom-web"

    @property
    def archive_root(self) -> Path:
        """The server's archive."""
        return self.home / "archive"

    def alive(self) -> bool:
        """Still running?"""
        return self.proc is not None and self.proc.poll() is None


def start_loaded(home: Path, files: list[Path], config: str) -> WebServe:
    """Import ``files`` into a new home, then start the server on it."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(config, encoding="utf-8")
    folder = home.parent / f"{home.name}-in"
    folder.mkdir()
    for number, path in enumerate(files):
        shutil.copy(path, folder / f"{number:04d}.dcm")
    done = cli(home, "import", str(folder))
    assert done.returncode == 0, done.stderr
    return WebServe(home).start()


def basic(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    """An Authorization header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


@dataclass
class Answer:
    """An HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes


def request(url: str, method: str = "GET", headers: dict[str, str] | None = None,
            body: bytes | None = None, timeout: float = 30) -> Answer:  # fmt: skip
    """One request with urllib; an error status is an Answer too."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers.items()), exc.read())


def raw(port: int, data: bytes, timeout: float = 10.0, shut: bool = True) -> bytes:
    """Send raw bytes on a new connection; the answer until the server closes or pauses."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking everything
        if shut:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    """The status code of a raw HTTP answer (0 if none)."""
    first = answer.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) >= 2 and first[1].isdigit() else 0


def parts(answer: Answer) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a multipart/related answer: (headers, body)."""
    head = f"Content-Type: {answer.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + answer.body)
    assert message.is_multipart(), answer.headers
    out = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        out.append(({k.lower(): str(v) for k, v in part.items()}, payload))
    return out


def multipart(files: list[bytes], boundary: str = "tuipacs-test-boundary") -> tuple[bytes, str]:
    """A STOW-RS body of these files and its Content-Type."""
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n"
            for data in files
        )
        + f"--{boundary}--\r\n".encode()
    )
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'
