"""Test certificates for DICOM over TLS, made with the openssl command (not a test module).

:func:`make_pki` writes, into a folder: a CA (``ca.pem``), a server certificate for
127.0.0.1/localhost signed by it (``server.pem``/``server.key``), a client certificate
(``client.pem``/``client.key``), and a second, unrelated CA with its own server and client
certificates (``other-ca.pem``, ``other.pem``/``other.key``) for "wrong certificate" cases.
Keys are unencrypted EC P-256, so DCMTK and Orthanc read them without a password.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers import require_binary


@dataclass(frozen=True)
class Pki:
    """Paths of the test certificates."""

    folder: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    other_cert: Path
    other_key: Path


def _run(openssl: str, *args: str, cwd: Path) -> None:
    """Run openssl quietly; raise with its stderr on failure."""
    done = subprocess.run([openssl, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {done.stderr.strip()}")


def _ca(openssl: str, folder: Path, name: str) -> None:
    """A self-signed CA: name.pem, name.key."""
    _run(
        openssl,
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "30", "-subj", f"/CN=tuipacs test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", f"{name}.key", "-out", f"{name}.pem",
        cwd=folder,
    )  # fmt: skip


def _leaf(openssl: str, folder: Path, name: str, ca: str, usage: str) -> None:
    """A certificate name.pem/name.key for 127.0.0.1 and localhost, signed by ca."""
    ext = folder / f"{name}.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyAgreement\n"
        f"extendedKeyUsage={usage}\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    _run(
        openssl,
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", f"/CN=tuipacs test {name}", "-keyout", f"{name}.key", "-out", f"{name}.csr",
        cwd=folder,
    )  # fmt: skip
    _run(
        openssl,
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-days", "30", "-extfile", ext.name, "-out", f"{name}.pem",
        cwd=folder,
    )  # fmt: skip


def make_pki(folder: Path) -> Pki:
    """Write the test certificates into `folder` (skip, or fail under CI, without openssl)."""
    openssl = require_binary("openssl")
    folder.mkdir(parents=True, exist_ok=True)
    _ca(openssl, folder, "ca")
    _leaf(openssl, folder, "server", "ca", "serverAuth,clientAuth")
    _leaf(openssl, folder, "client", "ca", "clientAuth,serverAuth")
    _ca(openssl, folder, "other-ca")
    _leaf(openssl, folder, "other", "other-ca", "serverAuth,clientAuth")
    for key in folder.glob("*.key"):
        key.chmod(0o600)
    return Pki(
        folder=folder,
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        other_ca=folder / "other-ca.pem",
        other_cert=folder / "other.pem",
        other_key=folder / "other.key",
    )
