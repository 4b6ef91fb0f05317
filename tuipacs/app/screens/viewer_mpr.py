"""Reformats (MPR) in the viewer (mixed into the ViewerScreen): ``b`` cycles the plane of the
series (acquired -> sagittal -> coronal -> acquired), ``{`` / ``}`` make the slab thinner /
thicker, ``e`` cycles its mode (average, MIP, MinIP).

The series' volume is built once (:func:`~tuipacs.imaging.volume.build_volume`) in a thread
worker, with a note in the viewport; the viewer then shows a
:class:`~tuipacs.view.reformat_stack.ReformatStack` as its stack: the keys that step images
step planes, one voxel apart, and window, zoom, pan, rotation, probe and cine work as on
images (the planes go through the same Frame and render path). A series that cannot be
reformatted gets one line in the viewport and the images stay. The volumes are kept for the
viewer's study (at most :data:`KEPT_VOLUMES`) and freed when the viewer closes; a build is
cancelled when the reader changes series or leaves.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from textual.binding import BindingType
from textual.message import Message

from tuipacs.app.keymap import Key, named
from tuipacs.imaging.errors import ImagingError, short_reason
from tuipacs.imaging.limits import decode_limit
from tuipacs.imaging.mpr import SlabMode
from tuipacs.imaging.volume import Cancelled, Volume, VolumeError, build_volume
from tuipacs.view.reformat_stack import (
    FrameSource,
    ReformatStack,
    next_mode,
    next_plane,
    next_slab,
    volume_paths,
)
from tuipacs.view.state import ViewerState
from tuipacs.view.viewport import Orientation

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen
    from textual.worker import Worker

    from tuipacs.app.screens.viewer_cine import Cine
    from tuipacs.app.widgets.series_loader import SeriesLoader
    from tuipacs.store.query import SeriesRow
    from tuipacs.view.frames import Frame, FrameStore
    from tuipacs.view.info import FrameInfo

KEPT_VOLUMES = 2
"""Volumes kept per viewer (the oldest is freed first; together at most the decode limit)."""
KEPT_REFUSALS = 32
"""Series remembered as not reformattable (with the reason)."""
BUILDING = "building the {plane} reformat…"

_PLANE = "reformat (MPR): acquired → sagittal → coronal → acquired"
_SLAB = "reformat slab thinner / thicker (one voxel up to 40 mm)"
_MODE = "reformat slab: average → MIP → MinIP"


def mpr_bindings() -> list[BindingType]:
    """The reformat keys (in the help's Images section), with their action names as ids."""
    from tuipacs.app.screens.viewer_keys import viewer_id

    keys: list[BindingType] = [
        Key("b", "plane", "MPR", show=False, section="Images", tooltip=_PLANE),
        Key(
            "left_curly_bracket", "slab(-1)", "thinner", show=False, section="Images", tooltip=_SLAB
        ),
        Key(
            "right_curly_bracket", "slab(1)", "thicker", show=False, section="Images", tooltip=_SLAB
        ),
        Key("e", "slab_mode", "slab mode", show=False, section="Images", tooltip=_MODE),
    ]
    return named(keys, viewer_id)


class VolumeBuilt(Message):
    """A build worker made the volume of a series."""

    def __init__(self, token: int, key: tuple[str, int], volume: Volume) -> None:
        super().__init__()
        self.token, self.key, self.volume = token, key, volume


class VolumeRefused(Message):
    """A series cannot be reformatted: ``reason`` is one line."""

    def __init__(self, token: int, key: tuple[str, int], reason: str) -> None:
        super().__init__()
        self.token, self.key, self.reason = token, key, reason


@dataclass
class Reformats:
    """The viewer's reformat state: the stack shown (None: the images), the images' state
    kept meanwhile, the slab, the volumes kept and the build under way."""

    stack: ReformatStack | None = None
    images_state: ViewerState | None = None
    """The state of the images, kept while a reformat shows (restored by ``b``)."""
    thickness: float = 0.0
    mode: SlabMode = SlabMode.AVG
    volumes: OrderedDict[tuple[str, int], Volume] = field(default_factory=OrderedDict)
    refusals: OrderedDict[tuple[str, int], str] = field(default_factory=OrderedDict)
    token: int = 0
    """Number of the latest build: answers of older (cancelled) builds are dropped."""
    building: str = ""
    """The plane to show when the build under way ends ('' when none runs)."""
    cancel: threading.Event = field(default_factory=threading.Event)
    worker: Worker[None] | None = None

    def keep(self, key: tuple[str, int], volume: Volume) -> None:
        """Keep ``volume`` for ``key``, freeing the oldest beyond :data:`KEPT_VOLUMES` or
        beyond the decode limit in bytes together."""
        self.volumes.pop(key, None)
        self.volumes[key] = volume
        limit = decode_limit()
        while len(self.volumes) > 1 and (
            len(self.volumes) > KEPT_VOLUMES
            or sum(v.values.nbytes for v in self.volumes.values()) > limit
        ):
            self.volumes.popitem(last=False)

    def refuse(self, key: tuple[str, int], reason: str) -> None:
        """Remember that ``key`` cannot be reformatted."""
        self.refusals[key] = reason
        while len(self.refusals) > KEPT_REFUSALS:
            self.refusals.popitem(last=False)

    def stop_build(self) -> None:
        """Cancel the build under way (it stops before its next slice)."""
        self.token += 1
        self.building = ""
        self.cancel.set()
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None


class _Viewer(Protocol):
    """What the reformat keys use of the screen."""

    state: ViewerState
    store: FrameStore | None
    frame: Frame | None
    info: FrameInfo | None
    mpr: Reformats
    cine: Cine
    loader: SeriesLoader

    @property
    def app(self) -> App[object]: ...
    @property
    def series(self) -> list[SeriesRow]: ...
    def request_render(self, motion: float | None = None) -> None: ...
    def show_message(self, text: str) -> None: ...
    def update_overlays(self) -> None: ...
    def image_state(self) -> ViewerState: ...
    def _volume_key(self) -> tuple[str, int] | None: ...
    def _show_plane(self, plane: str, volume: Volume) -> None: ...
    def _show_images(self) -> None: ...
    def _restack(self, stack: ReformatStack) -> None: ...
    def _build(self, key: tuple[str, int], plane: str) -> None: ...
    def mpr_close(self, free: bool = False) -> bool: ...


def _build_volume(
    post: Callable[[Message], object],
    token: int,
    key: tuple[str, int],
    paths: list[Path],
    cancel: threading.Event,
) -> None:
    """Worker thread: the volume, or the reason it cannot be made, posted as a message."""
    try:
        volume = build_volume(paths, cancelled=cancel.is_set)
    except Cancelled:
        return
    except ImagingError as exc:
        post(VolumeRefused(token, key, exc.reason if isinstance(exc, VolumeError) else str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - MemoryError included: one line, never a crash
        post(VolumeRefused(token, key, f"cannot build the volume: {short_reason(exc)}"))
        return
    post(VolumeBuilt(token, key, volume))


class ViewerMpr:
    """The reformat keys and their worker (mixed into the ViewerScreen, before ViewerKeys)."""

    frame: Frame | None
    info: FrameInfo | None

    def stack_source(self: _Viewer) -> FrameSource | None:
        """What the render thread takes frames from: the reformat shown, else the images."""
        return self.mpr.stack if self.mpr.stack is not None else self.store

    def image_state(self: _Viewer) -> ViewerState:
        """The state of the images (kept aside while a reformat shows)."""
        saved = self.mpr.images_state
        return saved if self.mpr.stack is not None and saved is not None else self.state

    def _volume_key(self: _Viewer) -> tuple[str, int] | None:
        """(series UID, images) of the series shown: what its volume is kept by."""
        index = self.image_state().series_index
        if self.store is None or not 0 <= index < len(self.series):
            return None
        return self.series[index].series_uid, len(self.store)

    def action_plane(self: _Viewer) -> None:
        """The next plane: acquired -> sagittal -> coronal -> acquired."""
        key = self._volume_key()
        if key is None or self.mpr.building:
            return
        current = self.mpr.stack.plane.value if self.mpr.stack is not None else ""
        plane = next_plane(current)
        if not plane:
            self._show_images()
            return
        if key in self.mpr.refusals:
            self.show_message(f"cannot reformat: {self.mpr.refusals[key]}")
            return
        volume = self.mpr.volumes.get(key)
        if volume is None:
            self._build(key, plane)
            return
        self.mpr.volumes.move_to_end(key)
        self._show_plane(plane, volume)

    def _build(self: _Viewer, key: tuple[str, int], plane: str) -> None:
        """Build the series' volume in a thread worker; ``plane`` shows when it is ready."""
        assert self.store is not None
        try:
            paths = volume_paths(self.store.images)
        except VolumeError as exc:
            self.mpr.refuse(key, exc.reason)
            self.show_message(f"cannot reformat: {exc.reason}")
            return
        self.mpr.stop_build()
        self.mpr.cancel = cancel = threading.Event()
        self.mpr.building = plane
        token = self.mpr.token
        screen = cast("Screen[None]", self)
        post = screen.post_message
        self.show_message(BUILDING.format(plane=plane))
        self.mpr.worker = screen.run_worker(
            lambda: _build_volume(post, token, key, paths, cancel),
            name="build_volume",
            group="viewer-mpr",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def on_volume_built(self: _Viewer, message: VolumeBuilt) -> None:
        """Keep the volume and show the plane asked for (unless the reader moved on)."""
        message.stop()
        if message.token != self.mpr.token or message.key != self._volume_key():
            return
        if self.loader.index != self.image_state().series_index:
            return  # another series is opening: it stops the build when it opens
        plane, self.mpr.building, self.mpr.worker = self.mpr.building, "", None
        self.mpr.keep(message.key, message.volume)
        if plane:
            self._show_plane(plane, message.volume)

    def on_volume_refused(self: _Viewer, message: VolumeRefused) -> None:
        """One line in the viewport; the images stay."""
        message.stop()
        if message.token != self.mpr.token or message.key != self._volume_key():
            return
        self.mpr.building, self.mpr.worker = "", None
        self.mpr.refuse(message.key, message.reason)
        self.show_message(f"cannot reformat: {message.reason}")

    def _show_plane(self: _Viewer, plane: str, volume: Volume) -> None:
        """Show the planes of ``volume`` parallel to ``plane``, from the centre, fitted; the
        window, inversion and overlays stay."""
        try:
            stack = ReformatStack(volume, plane, self.mpr.thickness, self.mpr.mode)
            centre = stack.centre_index
        except VolumeError as exc:
            self.show_message(f"cannot reformat: {exc.reason}")
            return
        self.cine.stop(self.state)
        if self.mpr.stack is None:
            self.mpr.images_state = self.state
        self.mpr.stack = stack
        self.state = replace(
            self.state,
            index=centre,
            count=len(stack),
            zoom=1.0,
            pan=(0.0, 0.0),
            orientation=Orientation(),
            probe=None,
            cine=False,
            plane=stack.label(),
        )
        self.frame = None
        self.info = None
        self.request_render()

    def _show_images(self: _Viewer) -> None:
        """Back to the acquired images, where the reader left them."""
        if self.mpr_close():
            self.frame = None
            self.info = None
            self.request_render()

    def mpr_close(self: _Viewer, free: bool = False) -> bool:
        """Stop a build, and put the images' state back if a reformat shows (without
        rendering); ``free`` also drops the volumes kept. True when a reformat was shown."""
        self.mpr.stop_build()
        if free:
            self.mpr.volumes.clear()
        stack, saved = self.mpr.stack, self.mpr.images_state
        self.mpr.stack, self.mpr.images_state = None, None
        if stack is None or saved is None:
            return False
        self.cine.stop(self.state)
        self.state = replace(saved, overlays=self.state.overlays, masked=self.state.masked)
        return True

    def action_slab(self: _Viewer, direction: int) -> None:
        """A thinner (-1) or thicker (1) slab of the reformat shown."""
        stack = self.mpr.stack
        if stack is None:
            return
        thickness = next_slab(self.mpr.thickness, direction > 0)
        if thickness == self.mpr.thickness:
            return
        self.mpr.thickness = thickness
        self._restack(stack.with_slab(thickness, self.mpr.mode))

    def action_slab_mode(self: _Viewer) -> None:
        """The next slab mode (average, MIP, MinIP) of the reformat shown."""
        stack = self.mpr.stack
        if stack is None:
            return
        self.mpr.mode = next_mode(self.mpr.mode)
        self._restack(stack.with_slab(self.mpr.thickness, self.mpr.mode))

    def _restack(self: _Viewer, stack: ReformatStack) -> None:
        """Show ``stack`` (the same planes, another slab) at the same plane."""
        self.mpr.stack = stack
        self.state.plane = stack.label()
        self.request_render()

    def action_tags(self: _Viewer) -> None:
        """Open the tag browser for the current image (under a reformat: the image the
        reader left)."""
        if self.store is None:
            return
        from tuipacs.app.screens.tags import TagScreen

        state = self.image_state()
        ref = self.store.images[state.index]
        title = f"Tags · image {state.index + 1}/{state.count} · {ref.path.name}"
        self.app.push_screen(TagScreen(ref.path, title, mask=state.masked))
