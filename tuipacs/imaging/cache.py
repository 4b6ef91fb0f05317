"""FrameCache: decoded modality-value frames, bounded in bytes, with decode-ahead.

Keys are ``(source, frame)``: ``source`` is a file path or a SOP Instance UID (any
hashable the loader understands), ``frame`` is 0-based. The cache is an LRU bounded
by a byte budget; :meth:`FrameCache.prefetch_around` decodes the neighbours of the
frame on screen in a small thread pool so scrolling a stack finds them ready.
Thread-safe; a frame being decoded is never decoded twice at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from tuipacs.imaging.limits import decode_limit
from tuipacs.imaging.pipeline import DisplayPipeline

FrameKey = tuple[Hashable, int]
Loader = Callable[[Hashable, int], np.ndarray]

DEFAULT_BUDGET = 512 * 1024 * 1024


WHOLE_FILE_LIMIT = 16 * 1024 * 1024
"""Files up to this size are read in one pass; larger ones header first, frame by frame."""


class PipelineLoader:
    """Default loader: decodes frames of files given by path.

    Returns modality values (int16/float32) for grey images and RGB uint8 for colour.
    Small files are read in one pass and not kept; multi-frame files stay open (header
    only, frames read on demand), the most recent ``keep`` of them.
    """

    def __init__(self, keep: int = 64, limit: int | None = None) -> None:
        limit = decode_limit() if limit is None else limit
        self._keep = keep
        self.limit = limit
        """Most bytes one decoded frame may take (see :mod:`tuipacs.imaging.limits`)."""
        self._open: OrderedDict[Hashable, DisplayPipeline] = OrderedDict()
        self._lock = threading.Lock()

    def pipeline(self, source: Hashable) -> DisplayPipeline:
        """The pipeline of ``source`` (a path); multi-frame files are kept open."""
        with self._lock:
            pipe = self._open.get(source)
            if pipe is not None:
                self._open.move_to_end(source)
                return pipe
        path = Path(str(source))
        try:
            small = path.stat().st_size <= WHOLE_FILE_LIMIT
        except OSError:
            small = False
        pipe = DisplayPipeline.open(path, header_only=not small, limit=self.limit)
        if pipe.frame_count > 1:
            if small:
                pipe = DisplayPipeline.open(path, header_only=True, limit=self.limit)
            with self._lock:
                self._open[source] = pipe
                while len(self._open) > self._keep:
                    self._open.popitem(last=False)
        return pipe

    def __call__(self, source: Hashable, frame: int) -> np.ndarray:
        """Modality values (or RGB) of ``frame`` of ``source``."""
        return self.pipeline(source).modality_frame(frame)


class FrameCache:
    """LRU cache of decoded frames bounded by ``budget_bytes``, with decode-ahead."""

    def __init__(
        self,
        loader: Loader | None = None,
        budget_bytes: int = DEFAULT_BUDGET,
        workers: int = 2,
    ) -> None:
        self.loader: Loader = loader if loader is not None else PipelineLoader()
        self.budget_bytes = int(budget_bytes)
        self._frames: OrderedDict[FrameKey, np.ndarray] = OrderedDict()
        self._pending: dict[FrameKey, Future[np.ndarray]] = {}
        self._bytes = 0
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="frame-cache")
        self.hits = 0
        self.misses = 0

    def __enter__(self) -> FrameCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel pending decodes and stop the worker threads."""
        self.cancel_pending()
        self._pool.shutdown(wait=True, cancel_futures=True)

    @property
    def bytes_used(self) -> int:
        """Bytes held by cached frames."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._frames)

    def __contains__(self, key: object) -> bool:
        return key in self._frames

    def keys(self) -> list[FrameKey]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._frames)

    def peek(self, source: Hashable, frame: int = 0) -> np.ndarray | None:
        """The cached frame, or None; never decodes."""
        key = (source, frame)
        with self._lock:
            arr = self._frames.get(key)
            if arr is not None:
                self._frames.move_to_end(key)
            return arr

    def get(self, source: Hashable, frame: int = 0) -> np.ndarray:
        """The frame, decoding it now if needed (waits for a decode already running)."""
        key = (source, frame)
        with self._lock:
            arr = self._frames.get(key)
            if arr is not None:
                self._frames.move_to_end(key)
                self.hits += 1
                return arr
            self.misses += 1
            future = self._pending.get(key)
            own = future is None or future.cancelled()
            if own:
                future = Future()
                future.set_running_or_notify_cancel()
                self._pending[key] = future
        assert future is not None
        if not own:
            return future.result()
        try:
            arr = self.loader(source, frame)
            self.put(source, frame, arr)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._lock:
                if self._pending.get(key) is future:
                    del self._pending[key]
        future.set_result(arr)
        return arr

    def put(self, source: Hashable, frame: int, arr: np.ndarray) -> None:
        """Store a decoded frame (read-only), evicting least recently used ones."""
        key = (source, frame)
        size = int(arr.nbytes)
        if size > self.budget_bytes:
            return
        arr.setflags(write=False)
        with self._lock:
            old = self._frames.pop(key, None)
            if old is not None:
                self._bytes -= int(old.nbytes)
            while self._frames and self._bytes + size > self.budget_bytes:
                _, evicted = self._frames.popitem(last=False)
                self._bytes -= int(evicted.nbytes)
            self._frames[key] = arr
            self._bytes += size

    def discard(self, source: Hashable) -> None:
        """Drop every cached frame of ``source``."""
        with self._lock:
            for key in [k for k in self._frames if k[0] == source]:
                self._bytes -= int(self._frames.pop(key).nbytes)

    def clear(self) -> None:
        """Drop everything cached (pending decodes keep running)."""
        with self._lock:
            self._frames.clear()
            self._bytes = 0

    def prefetch(self, keys: Iterable[FrameKey]) -> list[Future[np.ndarray]]:
        """Decode ``keys`` in the background, in order; returns their futures."""
        futures = []
        for source, frame in keys:
            key = (source, frame)
            with self._lock:
                if key in self._frames:
                    continue
                future = self._pending.get(key)
                if future is None:
                    future = self._pool.submit(self._load, key)
                    self._pending[key] = future
            futures.append(future)
        return futures

    def _load(self, key: FrameKey) -> np.ndarray:
        """Worker body: decode one frame and cache it."""
        try:
            arr = self.loader(key[0], key[1])
            self.put(key[0], key[1], arr)
            return arr
        finally:
            with self._lock:
                self._pending.pop(key, None)

    def prefetch_around(
        self, keys: Sequence[FrameKey], position: int, radius: int = 4, ahead: int = 1
    ) -> list[Future[np.ndarray]]:
        """Decode the neighbours of ``keys[position]`` (a stack in display order).

        Nearest first, alternating forwards and backwards; with ``ahead=1`` the next
        frame in scrolling direction comes before the previous one (use -1 when
        scrolling backwards). Queued decodes of frames outside the new radius are
        cancelled.
        """
        wanted = []
        for distance in range(1, radius + 1):
            for step in (ahead * distance, -ahead * distance):
                i = position + step
                if 0 <= i < len(keys):
                    wanted.append(keys[i])
        self.cancel_pending(keep=set(wanted) | {keys[position]} if keys else set())
        return self.prefetch(wanted)

    def cancel_pending(self, keep: set[Any] | None = None) -> int:
        """Cancel queued (not yet running) decodes except ``keep``; returns how many."""
        cancelled = 0
        with self._lock:
            for key, future in list(self._pending.items()):
                if keep is not None and key in keep:
                    continue
                if future.cancel():
                    self._pending.pop(key, None)
                    cancelled += 1
        return cancelled
