"""Fixtures of the DICOMweb server tests: test data, and ``tuipacs serve --http`` holding it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import SyntheticArchive, make_test_data
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from webkit import WebServe, config_text, start_loaded

#: pydicom test files: JPEG baseline, RLE, a 10-frame native MR, its JPEG 2000 lossless copy.
EXTRA = [
    "SC_rgb_jpeg_dcmtk.dcm",
    "SC_rgb_rle.dcm",
    "emri_small.dcm",
    "emri_small_jpeg_2k_lossless.dcm",
]


@pytest.fixture(scope="session")
def web_data(tmp_path_factory: pytest.TempPathFactory) -> SyntheticArchive:
    """Synthetic studies (CT CHEST 8+4, MR BRAIN 5 of TP001; CT ABDOMEN 6 + SC 1 of TP002)."""
    return make_test_data(tmp_path_factory.mktemp("web-data"), big_slices=6)


@pytest.fixture(scope="session")
def extra_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Copies of pydicom's test files (compressed and multi-frame)."""
    folder = tmp_path_factory.mktemp("web-extra")
    out = {}
    for name in EXTRA:
        source = get_testdata_file(name)
        if source is None:
            pytest.skip(f"pydicom test file {name} is not available")
        out[name] = Path(shutil.copy(str(source), folder / name))
    # the JPEG 2000 copy shares the native file's UIDs: give it its own (pixels untouched)
    j2k = out["emri_small_jpeg_2k_lossless.dcm"]
    ds = dcmread(j2k)
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        setattr(ds, keyword, generate_uid(entropy_srcs=["web-test", keyword]))
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(j2k)
    return out


@pytest.fixture(scope="module")
def web(
    tmp_path_factory: pytest.TempPathFactory,
    web_data: SyntheticArchive,
    extra_files: dict[str, Path],
) -> Iterator[WebServe]:
    """The server holding the synthetic studies and the extra files (basic auth)."""
    home = tmp_path_factory.mktemp("web") / "home"
    server = start_loaded(home, [*web_data.files, *extra_files.values()], config_text())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LD_PRELOAD shim that keeps peers on 127.0.0.1."""
    from helpers import require_binary
    from peers import build_bindshim

    return build_bindshim(tmp_path_factory.mktemp("shim"), require_binary("cc"))
