"""FrameCache: byte budget, LRU order, decode-ahead, thread safety."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from tuipacs.imaging.cache import FrameCache, PipelineLoader
from tuipacs.imaging.errors import FrameRangeError

FRAME = 64 * 64 * 2


class CountingLoader:
    """Returns a 64x64 int16 frame filled with the frame number; counts calls."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[Hashable, int]] = []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, source: Hashable, frame: int) -> np.ndarray:
        with self.lock:
            self.calls.append((source, frame))
        if self.delay:
            time.sleep(self.delay)
        return np.full((64, 64), frame, dtype=np.int16)


def test_get_decodes_once_and_caches() -> None:
    loader = CountingLoader()
    with FrameCache(loader, budget_bytes=10 * FRAME) as cache:
        first = cache.get("a", 3)
        assert cache.get("a", 3) is first
        assert loader.calls == [("a", 3)]
        assert (cache.hits, cache.misses) == (1, 1)
        assert not first.flags.writeable


def test_byte_budget_evicts_least_recently_used() -> None:
    loader = CountingLoader()
    with FrameCache(loader, budget_bytes=3 * FRAME) as cache:
        for frame in range(3):
            cache.get("s", frame)
        cache.get("s", 0)
        cache.get("s", 3)
        assert cache.bytes_used == 3 * FRAME and len(cache) == 3
        assert ("s", 1) not in cache
        assert cache.keys() == [("s", 2), ("s", 0), ("s", 3)]


def test_frames_larger_than_the_budget_are_not_kept() -> None:
    with FrameCache(CountingLoader(), budget_bytes=FRAME - 1) as cache:
        assert cache.get("x", 0).shape == (64, 64)
        assert len(cache) == 0 and cache.bytes_used == 0


def test_prefetch_around_decodes_neighbours_nearest_first() -> None:
    loader = CountingLoader()
    keys = [("stack", i) for i in range(20)]
    with FrameCache(loader, budget_bytes=100 * FRAME, workers=1) as cache:
        futures = cache.prefetch_around(keys, 10, radius=2)
        for future in futures:
            future.result()
        assert loader.calls == [("stack", 11), ("stack", 9), ("stack", 12), ("stack", 8)]
        assert all(cache.peek("stack", i) is not None for i in (8, 9, 11, 12))
        assert cache.peek("stack", 10) is None
        backwards = cache.prefetch_around(keys, 0, radius=1, ahead=-1)
        assert [f.result()[0, 0] for f in backwards] == [1]


def test_concurrent_gets_share_one_decode() -> None:
    loader = CountingLoader(delay=0.05)
    with FrameCache(loader, budget_bytes=100 * FRAME, workers=2) as cache:
        cache.prefetch([("p", 1)])
        results: list[np.ndarray] = []
        threads = [
            threading.Thread(target=lambda: results.append(cache.get("p", 1))) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 4 and loader.calls == [("p", 1)]


def test_cancel_pending_and_discard() -> None:
    loader = CountingLoader(delay=0.05)
    with FrameCache(loader, budget_bytes=100 * FRAME, workers=1) as cache:
        cache.prefetch([("q", i) for i in range(6)])
        cancelled = cache.cancel_pending()
        assert cancelled >= 4
        cache.get("q", 9)
        cache.discard("q")
        assert len(cache) == 0 and cache.bytes_used == 0


def test_default_loader_reads_modality_values() -> None:
    path = get_testdata_file("emri_small.dcm")
    assert isinstance(path, str)
    loader = PipelineLoader(keep=2)
    with FrameCache(budget_bytes=1 << 20) as cache:
        cache.loader = loader
        frame = cache.get(Path(path), 4)
        assert frame.shape == (64, 64) and frame.dtype == np.int16
        cache.prefetch([(Path(path), i) for i in range(10)])
        with pytest.raises(FrameRangeError):
            cache.get(Path(path), 10)


def test_concurrent_synchronous_gets_decode_once() -> None:
    loader = CountingLoader(delay=0.05)
    with FrameCache(loader, budget_bytes=100 * FRAME) as cache:
        results: list[np.ndarray] = []
        threads = [
            threading.Thread(target=lambda: results.append(cache.get("r", 2))) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 4 and loader.calls == [("r", 2)]


def test_errors_reach_every_waiter() -> None:
    def failing(source: Hashable, frame: int) -> np.ndarray:
        raise FrameRangeError("frame 9 is out of range")

    with FrameCache(failing) as cache:
        with pytest.raises(FrameRangeError):
            cache.get("f", 9)
        with pytest.raises(FrameRangeError):
            cache.prefetch([("f", 9)])[0].result()
        assert len(cache) == 0
