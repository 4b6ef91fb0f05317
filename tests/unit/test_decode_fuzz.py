"""Seeded fuzz of the decode path: 0 escapes, 0 decoder panics, bounded memory.

600 mutated images (truncation, bit flips, wrong lengths, absurd dimensions, broken RLE,
JPEG and JPEG 2000 streams; see tests/decode_fuzz.py) go through render, thumbnails and
the archive's record readers in one child process, whose peak RSS is measured. On the old
code this seed made pylibjpeg-rle panic (a BaseException escaping ``except Exception``)
and let pydicom's NotImplementedError out of the import path.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from hostile_pixels import run_measured

SEED = 21
CASES = 600
RSS_BOUND = 1 << 30
TESTS = Path(__file__).resolve().parents[1]


def test_fuzzed_images_only_ever_give_our_one_line_errors(tmp_path: Path) -> None:
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    code = "import decode_fuzz; decode_fuzz.main()"
    run = run_measured(
        [sys.executable, "-c", code, str(SEED), str(CASES), str(tmp_path / "cases")],
        env,
        timeout=300,  # a hang check, not a speed test
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["cases"] == CASES
    assert set(summary["kinds"]) == {"truncate", "flip", "length", "absurd", "stream", "rle-header"}
    assert summary["failures"] == []
    assert "panicked" not in run.stderr  # the checks keep pylibjpeg-rle from panicking at all
    assert run.max_rss < RSS_BOUND, f"peak RSS {run.max_rss >> 20} MiB"
