"""Fixtures of the archive server tests: test data and a loaded ``tuipacs serve`` subprocess."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port
from peers import SyntheticArchive, make_test_data
from pydicom.data import get_testdata_file
from servekit import Loaded, ServerProcess, dcmsend, wait_indexed, write_config

#: pydicom test files stored "as sent": JPEG baseline, RLE, JPEG 2000 lossless, JPEG lossless.
COMPRESSED = [
    "SC_rgb_jpeg_dcmtk.dcm",
    "SC_rgb_rle.dcm",
    "emri_small_jpeg_2k_lossless.dcm",
    "JPGLosslessP14SV1_1s_1f_8b.dcm",
]


@pytest.fixture(scope="session")
def serve_data(tmp_path_factory: pytest.TempPathFactory) -> SyntheticArchive:
    """Synthetic studies (CT CHEST 12, MR BRAIN 5 of DOE^JOHN; CT ABDOMEN 6 + SC 1 of the
    Latin-1 patient MÜLLER^HANS)."""
    return make_test_data(tmp_path_factory.mktemp("serve-data"), big_slices=6)


@pytest.fixture(scope="session")
def compressed_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Copies of pydicom's compressed test files."""
    folder = tmp_path_factory.mktemp("compressed")
    out = []
    for name in COMPRESSED:
        source = get_testdata_file(name)
        if source is None:
            pytest.skip(f"pydicom test file {name} is not available")
        out.append(Path(shutil.copy(str(source), folder / name)))
    return out


def config_text(move_port: int, allow: str = "") -> str:
    """A config.toml with a C-MOVE destination STORESCP at move_port."""
    return (
        'ae_title = "TUIPACS"\n'
        f"[serve]\nallow = [{allow}]\n"
        "[nodes.storescp]\n"
        f'ae_title = "STORESCP"\nhost = "127.0.0.1"\nport = {move_port}\n'
    )


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory,
    serve_data: SyntheticArchive,
    compressed_files: list[Path],
) -> Iterator[Loaded]:
    """A server (subprocess) holding the synthetic studies and the compressed files."""
    home = tmp_path_factory.mktemp("serve-home")
    move_port = free_port()
    write_config(home, config_text(move_port))
    server = ServerProcess.start(home)
    try:
        result = dcmsend(server.port, [*serve_data.files, *compressed_files])
        assert result.returncode == 0, result.stderr
        total = len(serve_data.files) + len(compressed_files)
        assert len(wait_indexed(server.archive_root, total)) == total
        yield Loaded(server, serve_data, compressed_files, move_port)
    finally:
        server.stop()
