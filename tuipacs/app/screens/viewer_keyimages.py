"""The viewer's key images and write-back (mixed into the ViewerScreen).

``*`` (or ``F``) flags the image on screen (its frame for a multi-frame image) as a key
image, or unflags it; ``k`` stays "previous image" (j/k scroll, as in every viewer with vi
keys). The images that the study's Key Object Selection documents in the archive reference
are read when the study opens and count as flagged until the reader unflags them. A key
image shows ``KEY`` after the image counter, and the counter says how many images of the
series are key images. The browser and the viewer list the study's key images as a
virtual series after its series ("Key images (N)"; :mod:`tuipacs.writeback.keyimages`).

``W`` writes the session back: a KOS of the key images and a GSPS per series with
measurements, stored in the archive, then sent to the node the study came from; a worker
does it and posts one line at each step (:mod:`tuipacs.writeback.store`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from textual.binding import BindingType
from textual.message import Message

from tuipacs.app.keymap import Key
from tuipacs.app.session import ImageKey
from tuipacs.app.widgets.series_loader import SeriesLoader
from tuipacs.safe_text import clean
from tuipacs.view.overlay_text import Corners

if TYPE_CHECKING:
    from pathlib import Path

    from tuipacs.app.screens.viewer import ViewerScreen
    from tuipacs.imaging.voi import Window
    from tuipacs.remote import ClientFactory

SECTION = "Measure"
COUNTER = "Im: "
"""The image counter's line in the overlay starts with this."""


def key_image_keys() -> list[BindingType]:
    """The key image and write-back keys (help section :data:`SECTION`)."""
    return [
        Key(
            "asterisk,F",
            "key_image",
            "Key",
            show=False,
            section=SECTION,
            tooltip="flag / unflag the image as a key image",
        ),
        Key(
            "W",
            "write_back",
            "Write back",
            show=False,
            section=SECTION,
            tooltip="save key images (KOS) and measurements (GSPS), send them to the node",
        ),
    ]


@dataclass
class KosRead(Message):
    """The images the study's KOS objects in the archive reference."""

    study_uid: str
    keys: list[ImageKey]


@dataclass
class WriteBackLine(Message):
    """One line of the write-back's progress or result; ``final`` at its end."""

    text: str
    error: bool = False
    final: bool = False
    stored: bool = False
    """The objects are in the archive (the series lists are made again)."""


def _screen(mixin: ViewerKeyImages) -> ViewerScreen:
    return cast("ViewerScreen", mixin)


class ViewerKeyImages:
    """Key images and write-back (mixed into the ViewerScreen)."""

    kos_images: frozenset[ImageKey] = frozenset()
    """The images the study's KOS objects reference (read when the study opens)."""
    writeback_line = ""
    """The last line of the write-back (for tests and the reader)."""
    writing_back = False
    _key_version = -1

    def start_key_images(self) -> None:
        """On mount: read the study's KOS objects in a worker."""
        screen = _screen(self)
        self._key_version = screen.settings.session.key_version
        archive, study_uid = screen.archive, screen.study.study_uid

        def read() -> None:
            from tuipacs.writeback.keyimages import kos_keys

            try:
                keys = kos_keys(archive, study_uid)
            except Exception:  # noqa: BLE001 - no marks rather than a crash
                keys = []
            screen.post_message(KosRead(study_uid, keys))

        screen.run_worker(read, name="kos", group="viewer-kos", thread=True, exit_on_error=False)

    def on_kos_read(self, message: KosRead) -> None:
        """Mark the images the KOS objects reference."""
        screen = _screen(self)
        if message.study_uid == screen.study.study_uid:
            self.kos_images = frozenset(message.keys)
            screen.update_overlays()

    def on_series_loader_relisted(self, message: SeriesLoader.Relisted) -> None:
        """The series were listed again (new ones written back): the open one's place."""
        screen = _screen(self)
        if message.seq == screen.loader.seq:
            screen.state.series_index = message.index

    def key_flags(self) -> dict[ImageKey, bool]:
        """The reader's flags of this study (a copy)."""
        screen = _screen(self)
        return screen.settings.session.flags(screen.study.study_uid)

    def is_key(self, key: ImageKey | None) -> bool:
        """Is ``key`` a key image (flagged, or in a KOS and not unflagged)?"""
        if key is None:
            return False
        flag = _screen(self).settings.session.key_flags.get(_screen(self).study.study_uid, {})
        return flag.get(key, key in self.kos_images)

    def key_count(self) -> int:
        """Key images among the images of the open series."""
        screen = _screen(self)
        store = screen.store
        if store is None:
            return 0
        return sum(self.is_key((str(ref.path), ref.frame)) for ref in store.images)

    def action_key_image(self) -> None:
        """Flag the image on screen as a key image, or unflag it."""
        screen = _screen(self)
        key = screen.image_key()
        if key is None:
            return
        flagged = not self.is_key(key)
        screen.settings.session.set_key(screen.study.study_uid, key, flagged)
        screen.update_overlays()

    def key_corners(self, corners: Corners) -> Corners:
        """The corner texts with ``KEY`` after the image counter of a key image, and the
        number of key images of the series."""
        screen = _screen(self)
        mark = "KEY" if self.is_key(screen.image_key()) else ""
        count = self.key_count()
        if not mark and not count:
            return corners
        note = " ".join(p for p in (mark, f"[{count} key]" if count else "") if p)
        blocks = []
        for block in (corners.top_left, corners.top_right, corners.bottom_left):
            lines = block.split("\n")
            for n, line in enumerate(lines):
                if line.startswith(COUNTER) and note:
                    lines[n], note = f"{line}  {note}", ""
            blocks.append("\n".join(lines))
        right = corners.bottom_right
        if note:  # no counter shown: the mark goes with the bottom right block
            right = "\n".join(p for p in (note, right) if p)
        return replace(corners, top_left=blocks[0], top_right=blocks[1], bottom_left=blocks[2],
                       bottom_right=right)  # fmt: skip

    # -- write-back ------------------------------------------------------------------------

    def _windows(self) -> dict[str, Window | None]:
        """The window the reader left each series of the study in (the open one: now)."""
        screen = _screen(self)
        session = screen.settings.session
        windows = {uid: state.window for uid, state in session.series.items()}
        series = screen.series
        if 0 <= screen.state.series_index < len(series):
            windows[series[screen.state.series_index].series_uid] = screen.state.window
        return windows

    def action_write_back(self) -> None:
        """Save the key images and measurements of the study, then send them to its node."""
        from tuipacs.writeback.keyimages import merged

        screen = _screen(self)
        if self.writing_back:
            screen.app.notify("a write-back is running", severity="warning")
            return
        keys = merged(sorted(self.kos_images), self.key_flags())
        measured = dict(screen.settings.session.measurements)
        windows = self._windows()
        clients = getattr(screen.app, "clients", None)
        archive, study_uid = screen.archive, screen.study.study_uid
        self.writing_back = True
        self._line(WriteBackLine("write-back: saving…"))

        def work() -> None:
            from tuipacs.writeback.build import WriteBackError
            from tuipacs.writeback.store import NO_NODE, study_node, write_back

            try:
                done = write_back(archive, study_uid, keys, measured, windows)
            except WriteBackError as exc:
                screen.post_message(WriteBackLine(clean(str(exc)), error=True, final=True))
                return
            except Exception as exc:  # noqa: BLE001 - one line, never a traceback
                line = clean(f"write-back failed: {exc}")
                screen.post_message(WriteBackLine(line, error=True, final=True))
                return
            node = study_node(archive, study_uid)
            if not node or clients is None:
                text = f"{done.summary()}; {NO_NODE}"
                screen.post_message(WriteBackLine(text, final=True, stored=True))
                return
            screen.post_message(WriteBackLine(f"{done.summary()}; sending to {node}…", stored=True))
            screen.post_message(_send(clients, node, done.paths, done.summary()))

        screen.run_worker(work, name="write_back", group="viewer-writeback", thread=True,
                          exit_on_error=False)  # fmt: skip

    def on_write_back_line(self, message: WriteBackLine) -> None:
        """Show the line; when the objects are stored, list the series again."""
        self._line(message)
        if message.final:
            self.writing_back = False
        if message.stored:
            self.refresh_key_lists()
            self.start_key_images()

    def _line(self, message: WriteBackLine) -> None:
        screen = _screen(self)
        self.writeback_line = message.text
        screen.app.notify(message.text, severity="error" if message.error else "information",
                          markup=False)  # fmt: skip

    def refresh_key_lists(self) -> None:
        """The browser's series list (and the viewer's) again: the key images changed."""
        from tuipacs.app.widgets.series_panel import SeriesPanel

        screen = _screen(self)
        for other in screen.app.screen_stack:
            for panel in other.query(SeriesPanel):
                panel.relist()
        screen.loader.relist()

    def leave_key_images(self) -> None:
        """On unmount: the browser lists the key images again if they changed."""
        screen = _screen(self)
        if screen.settings.session.key_version != self._key_version:
            from tuipacs.app.widgets.series_panel import SeriesPanel

            for other in screen.app.screen_stack:
                if other is not screen:
                    for panel in other.query(SeriesPanel):
                        panel.relist()


def _send(clients: ClientFactory, node: str, paths: list[Path], summary: str) -> WriteBackLine:
    """Worker: send ``paths`` to ``node``; the line that says how it went."""
    from tuipacs.remote.results import RemoteError
    from tuipacs.writeback.store import send_to

    try:
        result = send_to(clients, node, paths)
    except RemoteError as exc:
        return WriteBackLine(clean(f"{summary}; not sent to {node}: {exc}"), error=True,
                             final=True)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        return WriteBackLine(clean(f"{summary}; not sent to {node}: {exc}"), error=True,
                             final=True)  # fmt: skip
    if result.failed or result.sent < len(paths):
        first = result.errors[0][1] if result.errors else "refused"
        text = f"{summary}; sent {result.sent} of {len(paths)} to {node}: {first}"
        return WriteBackLine(clean(text), error=True, final=True)
    return WriteBackLine(clean(f"{summary}; sent {result.sent} to {node}"), final=True)
