"""config.toml: safe defaults (loopback bind, audit on), typos refused, TLS settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tuipacs import config
from tuipacs.dicom.tls import TlsFiles


def _load(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)


def test_defaults_are_private(tmp_path: Path) -> None:
    cfg = _load(tmp_path, "")
    assert cfg.serve_bind == "127.0.0.1"
    assert cfg.serve_allow_any is False
    assert cfg.serve_tls == "off"
    assert cfg.audit is True
    assert cfg.tls == TlsFiles()


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("ae_title = 'X'\nportt = 5\n", 2, "portt"),
        ("[serve]\nsync = true\nalow = ['STORESCU']\n", 3, "serve.alow"),
        ("[tls]\ncert = 'a.pem'\n", 2, "tls.cert"),
    ],
)
def test_unknown_keys_are_errors(tmp_path: Path, text: str, line: int, key: str) -> None:
    """A typo such as [serve] alow would leave the server open: it must not pass silently."""
    with pytest.raises(config.ConfigError) as info:
        _load(tmp_path, text)
    message = str(info.value)
    assert f"config.toml:{line}: key '{key}'" in message
    assert "unknown key" in message


def test_unknown_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="unknown key"):
        _load(tmp_path, "[nodess.x]\nae_title = 'A'\n")


def test_tls_paths_are_relative_to_the_config(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        "[tls]\ncertificate = 'tls/cert.pem'\nprivate_key = '/abs/key.pem'\nca = 'ca.pem'\n"
        "[serve]\ntls = 'mutual'\nallow_any = true\nbind = '0.0.0.0'\n",
    )
    assert cfg.tls.certificate == tmp_path / "tls" / "cert.pem"
    assert cfg.tls.private_key == Path("/abs/key.pem")
    assert cfg.tls.ca == tmp_path / "ca.pem"
    assert cfg.serve_tls == "mutual"
    assert cfg.serve_allow_any is True
    assert cfg.local_ae().tls == cfg.tls


def test_tls_certificate_needs_its_key(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="certificate and private_key go together"):
        _load(tmp_path, "[tls]\ncertificate = 'cert.pem'\n")


def test_tls_mode_is_checked(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match=r"key 'serve.tls': must be one of off, on"):
        _load(tmp_path, "[serve]\ntls = 'yes'\n")


def test_node_tls_keys(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        "[nodes.pacs]\nae_title = 'PACS'\nhost = '127.0.0.1'\nport = 2762\ntls = true\n"
        "tls_server_name = 'pacs.example.org'\n",
    )
    node = cfg.node("pacs")
    assert node.tls is True
    assert node.tls_server_name == "pacs.example.org"
    assert node.to_mapping()["tls"] is True
    plain = _load(tmp_path, "[nodes.p]\nae_title = 'P'\nhost = 'h'\nport = 104\n").node("p")
    assert plain.tls is False
    assert "tls" not in plain.to_mapping()


def test_node_tls_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="tls must be true or false"):
        _load(tmp_path, "[nodes.p]\nae_title = 'P'\nhost = 'h'\nport = 104\ntls = 'yes'\n")


def test_decode_limit_is_a_size(tmp_path: Path) -> None:
    assert _load(tmp_path, "").decode_limit == 1 << 30
    assert _load(tmp_path, 'decode_limit = "256 MiB"\n').decode_limit == 256 << 20
    with pytest.raises(config.ConfigError, match="key 'decode_limit': must be at least 1 MiB"):
        _load(tmp_path, 'decode_limit = "10 KB"\n')


def test_render_obeys_the_configured_decode_limit(tmp_path: Path) -> None:
    """A 1024 x 1024 16-bit frame (2 MiB) is refused under a 1 MiB limit, in one line."""
    import subprocess
    import sys

    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Rows = ds.Columns = 1024
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.zeros((1024, 1024), np.uint16).tobytes()
    image = tmp_path / "big.dcm"
    ds.save_as(image, enforce_file_format=True)
    home = tmp_path / "home"
    home.mkdir()

    def render() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tuipacs", "render", str(image), "-o", str(tmp_path / "o.png")],
            env={**os.environ, "TUIPACS_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert render().returncode == 0
    (home / "config.toml").write_text('decode_limit = "1 MiB"\n')
    refused = render()
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "over the 1 MiB decode limit" in refused.stderr


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("a" + ".a" * 20000 + " = 1\n", "dots outside quotes"),  # tomllib: seconds, a GiB
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested more than"),
    ],
)
def test_a_config_shaped_to_stall_tomllib_is_one_line(
    tmp_path: Path, text: str, said: str
) -> None:
    import time

    start = time.monotonic()
    with pytest.raises(config.ConfigError) as caught:
        config.parse_text(tmp_path / "config.toml", text)
    assert time.monotonic() - start < 5  # a hang check: the dotted key took 4 s unchecked
    message = str(caught.value)
    assert said in message and ":1:" in message and "\n" not in message


def test_ordinary_dots_in_a_config_are_fine(tmp_path: Path) -> None:
    text = 'archive_limit = "1.5 GB"\n[presets.CT]\n"Lung 2" = [-600.5, 1500.0]\n'
    cfg = config.parse_text(tmp_path / "config.toml", text)
    assert cfg.presets["CT"] == [("Lung 2", -600.5, 1500.0)]
