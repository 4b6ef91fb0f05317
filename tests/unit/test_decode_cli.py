"""`tuipacs render` and `tuipacs import` of hostile images: one line, exit status, RSS bound.

Each command runs as a child process whose peak RSS is read from its own rusage (wait4).
A 49 KB RLE file with Rows = Columns = 65535 used to abort the process (exit 134) or take
4.25 GB; a JPEG frame claiming 65535 x 65535 took 7.8 GB; a 300 KB deflated file took
670 MB (pydicom inflates it whole).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hostile_pixels import BUILDERS, Measured, run_measured

from tuipacs.store.archive import Archive

RSS_BOUND = 1 << 30
"""Peak RSS a child may reach (1 GiB; a healthy run takes about 60 MB)."""

RENDER_REASONS = {
    "rle16-huge": "image is 65535 x 65535 x 16-bit = 8.0 GiB per frame, over the 1 GiB decode",
    "rle8-huge": "image is 65535 x 65535 x 8-bit = 4.0 GiB per frame, over the 1 GiB decode",
    "native-short": "pixel data is 1000 bytes but 512 x 512 x 16-bit needs 512.0 KiB",
    "many-frames": "2147483647 frames of 64 x 64 x 16-bit needs 16.0 TiB",
    "rle-many-frames": "Number of Frames is 2147483647 but the compressed pixel data holds only 1",
    "jpeg-huge": "the JPEG data is 65535 x 65535 pixels but Rows x Columns is 64 x 64",
    "rle-panic": "RLE Lossless",
    "deflate-bomb": "the deflated dataset expands past 8.0 MiB (from ",
}
"""What ``render``'s error line says (the panicking RLE file: its segments do not decode)."""

IMPORT_KEEPS = {"jpeg-huge", "rle-panic"}
"""Files whose header describes a possible image: import indexes them (their compressed
data is wrong, which only decoding finds); the others are refused."""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile-cli")
    return {name: build(folder) for name, build in BUILDERS.items()}


def tuipacs(home: Path, *args: str) -> Measured:
    """``python -m tuipacs ARGS`` with its own TUIPACS_HOME, measured."""
    env = os.environ.copy() | {"TUIPACS_HOME": str(home)}
    env.pop("TUIPACS_DEBUG", None)
    return run_measured([sys.executable, "-m", "tuipacs", *args], env)


def assert_one_error_line(run: Measured, *words: str) -> str:
    """Exit 1, exactly one line on stderr, no traceback, the words in it; the line."""
    lines = run.stderr_lines
    assert run.returncode == 1, run.stderr[-2000:]
    assert len(lines) == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr and "panicked" not in run.stderr
    for word in words:
        assert word in lines[0]
    assert run.max_rss < RSS_BOUND, f"peak RSS {run.max_rss >> 20} MiB"
    return lines[0]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_render_is_one_line_and_bounded(
    name: str, hostile: dict[str, Path], tmp_path: Path
) -> None:
    path = hostile[name]
    out = tmp_path / "out.png"
    run = tuipacs(tmp_path / "home", "render", str(path), "-o", str(out))
    line = assert_one_error_line(run, RENDER_REASONS[name], path.name)
    assert line.startswith("tuipacs: error: ")
    assert not out.exists()


@pytest.mark.parametrize("name", sorted(set(BUILDERS) - IMPORT_KEEPS))
def test_import_refuses_an_impossible_image(
    name: str, hostile: dict[str, Path], tmp_path: Path
) -> None:
    path = hostile[name]
    home = tmp_path / "home"
    run = tuipacs(home, "import", str(path))
    line = assert_one_error_line(run, str(path), RENDER_REASONS[name])
    assert line.startswith("tuipacs: error: ")
    assert "0 added" in run.stdout and "1 failed" in run.stdout
    archive = Archive.open(home / "archive")
    try:
        assert archive.usage().instances == 0
    finally:
        archive.close()


@pytest.mark.parametrize("name", sorted(IMPORT_KEEPS))
def test_import_keeps_an_image_whose_header_is_possible(
    name: str, hostile: dict[str, Path], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    run = tuipacs(home, "import", str(hostile[name]))
    assert run.returncode == 0, run.stderr
    assert "1 added" in run.stdout and run.max_rss < RSS_BOUND
    archive = Archive.open(home / "archive")
    try:
        assert archive.usage().instances == 1
    finally:
        archive.close()
