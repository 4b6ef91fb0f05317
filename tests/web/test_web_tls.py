"""``tuipacs serve --http`` with ``[serve] tls = "on"``: HTTPS with the [tls] certificate,
searched by the project's client trusting the test CA; plain HTTP on that port gets no
answer, and the server goes on."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import SyntheticArchive
from tlskit import Pki, make_pki
from webkit import (
    LOOPBACK,
    PASSWORD,
    USER,
    WebServe,
    basic,
    config_text,
    raw,
    start_loaded,
    status_of,
)

from tuipacs.remote import client_for
from tuipacs.remote.web_node import WebNode

pytestmark = pytest.mark.net


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Test certificates."""
    return make_pki(tmp_path_factory.mktemp("web-pki"))


@pytest.fixture(scope="module")
def tls_web(
    tmp_path_factory: pytest.TempPathFactory, web_data: SyntheticArchive, pki: Pki
) -> Iterator[WebServe]:
    """The server over TLS, holding one study."""
    text = config_text().replace("[serve]\n", '[serve]\ntls = "on"\n') + (
        f'[tls]\ncertificate = "{pki.server_cert}"\nprivate_key = "{pki.server_key}"\n'
        f'ca = "{pki.ca}"\n'
    )
    chest = web_data.study("CT CHEST")
    files = [f for f in web_data.files if any(s.uid in f.name for s in chest.series)]
    server = start_loaded(tmp_path_factory.mktemp("web-tls") / "home", files, text)
    try:
        yield server
    finally:
        server.stop()


def test_https(tls_web: WebServe, web_data: SyntheticArchive, pki: Pki) -> None:
    url = f"https://{LOOPBACK}:{tls_web.http_port}/dicom-web"
    node = WebNode("tls", url, timeout=15, auth="basic", user=USER, password=PASSWORD,
                   ca=str(pki.ca))  # fmt: skip
    rows = client_for(node, None).find("study", keys={})  # type: ignore[arg-type]
    assert [r.get("StudyInstanceUID") for r in rows] == [web_data.study("CT CHEST").uid]
    context = ssl.create_default_context(cafile=str(pki.ca))
    request = urllib.request.Request(f"{url}/studies", headers=basic())
    with urllib.request.urlopen(request, context=context, timeout=15) as answer:
        assert answer.status == 200
        assert b"https://" in answer.read()  # RetrieveURLs name the scheme the client used
    plain = raw(tls_web.http_port, b"GET /dicom-web/studies HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(plain) == 0
    untrusted = ssl.create_default_context(cafile=str(pki.other_ca))
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(request, context=untrusted, timeout=15)
    with urllib.request.urlopen(request, context=context, timeout=15) as answer:
        assert answer.status == 200
    assert "Traceback" not in tls_web.log
    assert Path(tls_web.log_path).exists()
