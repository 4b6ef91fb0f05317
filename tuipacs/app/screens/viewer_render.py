"""The viewer's render thread: it only posts messages to the screen, never touches a widget.

Every change builds an immutable :class:`RenderRequest` and hands it to a
latest-only render thread, which decodes (when not cached), windows, orients and crops, then
posts :class:`FrameRendered`. Requests that pile up while one renders are dropped except the
newest, so held keys and cine never queue work.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.dom import DOMNode

from tuipacs.app.messages import FrameFailed, FrameRendered
from tuipacs.imaging.decode import read_dataset
from tuipacs.view.frames import Frame, FrameStore
from tuipacs.view.graphics.worker import LatestOnlyWorker
from tuipacs.view.info import FrameInfo, frame_info
from tuipacs.view.reformat_stack import FrameSource
from tuipacs.view.render import Rendered, RenderRequest, render


@dataclass(frozen=True)
class RenderJob:
    """A render request and the series it belongs to (the store may change meanwhile)."""

    store: FrameSource
    request: RenderRequest


def read_header_info(store: FrameStore, index: int) -> FrameInfo | None:
    """The overlay facts of image ``index`` from a header-only read, None if unreadable.

    Blocking (disk): call it from a thread.
    """
    try:
        ref = store.images[index]
        return frame_info(read_dataset(ref.path, header_only=True), ref.frame)
    except Exception:  # noqa: BLE001 - the index still knows the study and series
        return None


class FrameRenderer:
    """The render thread: decodes, windows, orients and crops the newest request only."""

    def __init__(self, screen: DOMNode, pane: int = 0) -> None:
        self.screen = screen
        self.pane = pane
        """The viewport it renders for (its messages name it)."""
        self._worker: LatestOnlyWorker[RenderJob, tuple[Frame, Rendered]] = LatestOnlyWorker(
            self._render, self._done, self._failed, name=f"tuipacs-render-{pane}"
        )

    def submit(self, store: FrameSource, request: RenderRequest) -> None:
        """Render ``request`` of ``store`` (replacing any request not started yet)."""
        self._worker.submit(RenderJob(store, request))

    def stop(self) -> None:
        """Drop what is pending and end the thread."""
        self._worker.stop(timeout=1.0)

    @staticmethod
    def _render(job: RenderJob) -> tuple[Frame, Rendered]:
        """Render thread: decode if needed, window, orient, crop."""
        frame = job.store.get(job.request.index)
        return frame, render(frame, job.request)

    def _done(self, job: RenderJob, result: tuple[Frame, Rendered]) -> None:
        frame, rendered = result
        self.screen.post_message(FrameRendered(job.request, frame, rendered, self.pane))

    def _failed(self, job: RenderJob, exc: BaseException) -> None:
        """Render thread: the reason in one line, and the header if it can still be read."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        index = job.request.index
        store = job.store
        info = read_header_info(store, index) if isinstance(store, FrameStore) else None
        self.screen.post_message(FrameFailed(job.request.seq, index, text, info, self.pane))
