"""The viewer's keys: its bindings (which the footer and the help screen are made from) and
what they do (:class:`ViewerKeys`, mixed into the ViewerScreen; the mouse is
:mod:`tuipacs.app.screens.viewer_mouse`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from textual.binding import Binding, BindingType

from tuipacs.app.keymap import Key, named
from tuipacs.imaging import presets
from tuipacs.imaging.voi import Window
from tuipacs.view.actions import BINDING_PREFIX, action_name
from tuipacs.view.render import RenderRequest
from tuipacs.view.state import ZOOM_STEP, PresetChoice, ViewerState, scroll_step
from tuipacs.view.viewport import fit_scale
from tuipacs.view.window_steps import step_window, value_range, window_limits

if TYPE_CHECKING:
    from textual.app import App

    from tuipacs.app.screens.viewer_cine import Cine
    from tuipacs.app.settings import Settings
    from tuipacs.app.widgets.image_view import ImageView
    from tuipacs.app.widgets.series_loader import SeriesLoader
    from tuipacs.app.widgets.viewport import ImageViewport
    from tuipacs.view.frames import Frame, FrameStore
    from tuipacs.view.layout import CellSize
    from tuipacs.view.render import Rendered

REPEAT_GAP = 0.25
"""Key presses closer than this (seconds) count as a held key: the picture is in motion, at
the interval between them (the link then decides whether previews are sent)."""

WINDOW = Binding.Group("W/L", compact=True)
IMAGE = Binding.Group("Image", compact=True)
ZOOM = Binding.Group("Zoom", compact=True)
SERIES = Binding.Group("Series", compact=True)

SECTIONS = ("Images", "Window", "View", "Layout", "Measure", "Information")
"""The help screen's sections, in this order."""

_STEP = "next / previous image (or frame); the mouse wheel too; held: faster in large stacks"
_WIDTH = "window width narrower / wider (Shift: fine); left-drag ← →"
_LEVEL = "window level up / down (Shift: fine); left-drag ↑ ↓"
_PAN = "pan"
_TEN = "10 images forward / back"
_FINE = "fine window/level; with the probe on: move it 10 pixels"
_SHIFT_ARROWS = (
    ("left", "arrow(-1, 0, True)"),
    ("right", "arrow(1, 0, True)"),
    ("up", "arrow(0, -1, True)"),
    ("down", "arrow(0, 1, True)"),
)
_ZOOM = "zoom in / out; Ctrl+wheel about the pointer"


def _images() -> list[BindingType]:
    return [
        Key("j", "step(1)", "next", group=IMAGE, section="Images", tooltip=_STEP),
        Key("k", "step(-1)", "prev", group=IMAGE, section="Images", tooltip=_STEP),
        Key("pagedown", "step(10)", "+10", show=False, section="Images", tooltip=_TEN),
        Key("pageup", "step(-10)", "-10", show=False, section="Images", tooltip=_TEN),
        Key("home", "first", "first", show=False, section="Images", tooltip="first / last image"),
        Key("end", "last", "last", show=False, section="Images", tooltip="first / last image"),
        Key("g", "goto", "go to", show=False, section="Images", tooltip="go to image number N"),
    ]


def _window() -> list[BindingType]:
    keys: list[BindingType] = [
        Key(
            "left",
            "arrow(-1, 0)",
            "narrower",
            group=WINDOW,
            key_display="←",
            section="Window",
            tooltip=_WIDTH,
        ),
        Key(
            "right",
            "arrow(1, 0)",
            "wider",
            group=WINDOW,
            key_display="→",
            section="Window",
            tooltip=_WIDTH,
        ),
        Key(
            "up",
            "arrow(0, -1)",
            "level up",
            group=WINDOW,
            key_display="↑",
            section="Window",
            tooltip=_LEVEL,
        ),
        Key(
            "down",
            "arrow(0, 1)",
            "level down",
            group=WINDOW,
            key_display="↓",
            section="Window",
            tooltip=_LEVEL,
        ),
        *(
            Key(f"shift+{key}", action, "fine", show=False, section="Window", tooltip=_FINE)
            for key, action in _SHIFT_ARROWS
        ),
    ]
    presets = "window presets for the modality (listed below)"
    keys += [
        Key(str(n), f"preset({n})", f"preset {n}", show=False, section="Window", tooltip=presets)
        for n in range(1, 10)
    ]
    more = "the tenth preset / every preset in a list (Enter applies)"
    return keys + [
        Key("0", "preset(10)", "preset 10", show=False, section="Window", tooltip=more),
        Key("w", "preset_list", "presets", show=False, section="Window", tooltip=more),
        Key(
            "a", "auto_window", "Auto", section="Window", tooltip="automatic window from the image"
        ),
        Key("i", "invert", "Invert", section="Window", tooltip="invert grey levels"),
    ]


def _view() -> list[BindingType]:
    return [
        Key("plus", "zoom(1)", "in", group=ZOOM, section="View", tooltip=_ZOOM),
        Key("minus", "zoom(-1)", "out", group=ZOOM, section="View", tooltip=_ZOOM),
        Key("f", "fit", "Fit", section="View", tooltip="fit to the viewport"),
        Key(
            "equals_sign",
            "one_to_one",
            "1:1",
            show=False,
            section="View",
            tooltip="one image pixel per screen pixel (1:1)",
        ),
        Key("H,ctrl+left", "pan(0, -1)", "pan left", show=False, section="View", tooltip=_PAN),
        Key("L,ctrl+right", "pan(0, 1)", "pan right", show=False, section="View", tooltip=_PAN),
        Key("K,ctrl+up", "pan(-1, 0)", "pan up", show=False, section="View", tooltip=_PAN),
        Key("J,ctrl+down", "pan(1, 0)", "pan down", show=False, section="View", tooltip=_PAN),
    ]


def _later() -> list[BindingType]:
    rotate, flip = "rotate 90° clockwise / anticlockwise", "flip horizontally / vertically"
    probe = "probe value (HU) and mm; arrows move it 1 px, c/Esc ends"
    info = "Information"
    return [
        Key("space", "cine", "Cine", section="Images", tooltip="cine play / pause"),
        Key(
            "left_square_bracket",
            "cine_rate(-1)",
            "slower",
            show=False,
            section="Images",
            tooltip="cine slower / faster",
        ),
        Key(
            "right_square_bracket",
            "cine_rate(1)",
            "faster",
            show=False,
            section="Images",
            tooltip="cine slower / faster",
        ),
        Key(
            "n",
            "series(1)",
            "next",
            group=SERIES,
            section="Images",
            tooltip="next / previous series",
        ),
        Key(
            "p",
            "series(-1)",
            "prev",
            group=SERIES,
            section="Images",
            tooltip="next / previous series",
        ),
        Key(
            "P",
            "priors",
            "Priors",
            show=False,
            section="Images",
            tooltip="priors: the patient's other studies (here and on the node); Enter shows",
        ),
        Key("r", "rotate(1)", "Rotate", section="View", tooltip=rotate),
        Key("R", "rotate(-1)", "rotate back", show=False, section="View", tooltip=rotate),
        Key("h", "flip_h", "flip H", show=False, section="View", tooltip=flip),
        Key("v", "flip_v", "flip V", show=False, section="View", tooltip=flip),
        Key(
            "x",
            "reset",
            "Reset",
            section="View",
            tooltip="reset window, zoom, pan, rotation, flips",
        ),
        Key("c", "probe", "Probe", section=info, tooltip=probe),
        Key(
            "o",
            "overlays",
            "Overlays",
            show=False,
            section=info,
            tooltip="hide / show the overlays",
        ),
        Key("m", "mask", "Mask", section=info, tooltip="mask / unmask patient identity"),
        Key(
            "t",
            "tags",
            "Tags",
            section=info,
            tooltip="tag browser (searchable, sequences included)",
        ),
        Key("question_mark", "help", "Help", section=info, tooltip="this help"),
        Key("escape,backspace", "back", "Back", section=info, tooltip="back to the browser"),
    ]


def viewer_id(action: str) -> str | None:
    """The binding id of a viewer action (``viewer.next_image``), None when unnamed."""
    name = action_name(action)
    return BINDING_PREFIX + name if name else None


def viewer_bindings() -> list[BindingType]:
    """Every key of the viewer, in the footer's order (the help sorts them by section)."""
    from tuipacs.app.screens.viewer_annotations import annotation_keys
    from tuipacs.app.screens.viewer_keyimages import key_image_keys
    from tuipacs.app.screens.viewer_measure import measure_keys

    keys = _images() + _window() + _view() + _later() + measure_keys() + annotation_keys()
    keys += key_image_keys()
    return named(keys, viewer_id)


class _Viewer(Protocol):
    """What the viewer's actions use of the screen."""

    state: ViewerState
    frame: Frame | None
    rendered: Rendered | None
    store: FrameStore | None
    choices: list[PresetChoice]
    requested_seq: int
    shown_seq: int
    displayed: RenderRequest | None
    loader: SeriesLoader
    cine: Cine
    _direction: int
    _last_key: float
    settings: Settings
    _repeats: int
    _held_key: object

    @property
    def app(self) -> App[object]: ...
    @property
    def image(self) -> ImageView: ...
    @property
    def viewport(self) -> ImageViewport: ...
    def _cell(self) -> CellSize: ...
    def view_px(self, cell: CellSize | None = None) -> tuple[float, float]: ...
    def request_render(self, motion: float | None = None) -> None: ...
    def update_overlays(self) -> None: ...
    def _probe_move(self, d_x: int, d_y: int, big: bool) -> None: ...
    def _probe_to(self, screen_x: float, screen_y: float) -> None: ...
    def _held(self, key: object = None) -> float | None: ...
    def _set_window(self, window: Window, name: str) -> None: ...
    def action_step(self, delta: int) -> None: ...
    def action_preset(self, number: int) -> None: ...
    def measure_escape(self) -> bool: ...


class ViewerKeys:
    """What the viewer's keys do (mixed into the ViewerScreen)."""

    def _held(self: _Viewer, key: object = None) -> float | None:
        """The interval since the previous key of a held key (motion), else None; counts the
        repeats of ``key`` in ``_repeats`` (0 for a fresh press)."""
        now = time.monotonic()
        gap = now - self._last_key
        self._last_key = now
        held = gap < REPEAT_GAP
        self._repeats = self._repeats + 1 if held and key == self._held_key else 0
        self._held_key = key
        return gap if held else None

    def action_step(self: _Viewer, delta: int) -> None:
        """Next/previous image (or ``delta``); held, faster in a large stack (scroll_step)."""
        self._direction = 1 if delta > 0 else -1
        motion = self._held(("step", delta))
        if abs(delta) == 1 and motion is not None:
            delta *= scroll_step(self._repeats, self.state.count)
        if self.state.go_to(self.state.index + delta):
            self.request_render(motion)

    def action_goto(self: _Viewer) -> None:
        """Ask for an image number, then go there."""
        from tuipacs.app.screens.goto import GoToScreen

        def go(number: int | None) -> None:
            if number is not None and self.state.go_to(number - 1):
                self.request_render()

        self.app.push_screen(GoToScreen(self.state.count), go)

    def action_first(self: _Viewer) -> None:
        """First image."""
        if self.state.go_to(0):
            self.request_render()

    def action_last(self: _Viewer) -> None:
        """Last image."""
        if self.state.go_to(self.state.count - 1):
            self.request_render()

    def action_arrow(self: _Viewer, d_width: int, d_level: int, fine: bool = False) -> None:
        """Arrows: window width (left/right) and level (up/down); move the probe when on."""
        if self.state.probe is not None:
            self._probe_move(d_width, d_level, fine)
            return
        window = self.state.window
        if window is None or (self.frame is not None and self.frame.color):
            return
        motion = self._held(("window", d_width, d_level, fine))
        frame = self.frame
        if frame is None:
            return
        lo, hi = frame.cached.get("value_range") or value_range(frame.values)
        frame.cached["value_range"] = (lo, hi)
        limits = window_limits(frame.info.modality, lo, hi)
        self.state.window = step_window(window, -d_level, d_width, limits, fine, self._repeats)
        self.state.window_name = "custom"
        self.request_render(motion)

    def action_preset(self: _Viewer, number: int) -> None:
        """Window preset ``number`` (1-based) of this modality."""
        if not 0 < number <= len(self.choices) or self.frame is None:
            return
        choice = self.choices[number - 1]
        if choice.window is not None:
            window = choice.window
        elif choice.name == presets.MIN_MAX:
            window = presets.minmax_window(self.frame.values)
        else:
            window = presets.auto_window(self.frame.values)
        self._set_window(window, choice.name)

    def action_preset_list(self: _Viewer) -> None:
        """Every preset of the modality in a list; the one chosen applies."""
        from tuipacs.app.screens.presets import PresetScreen

        def chosen(number: int | None) -> None:
            if number is not None:
                self.action_preset(number)

        if self.choices:
            self.app.push_screen(PresetScreen(self.choices, self.state.window_name), chosen)

    def action_auto_window(self: _Viewer) -> None:
        """A window from the current image's histogram."""
        if self.frame is not None and not self.frame.color:
            self._set_window(presets.auto_window(self.frame.values), presets.AUTO)

    def _set_window(self: _Viewer, window: Window, name: str) -> None:
        self.state.window = window
        self.state.window_name = name
        self.request_render()

    def action_invert(self: _Viewer) -> None:
        """Invert the grey levels."""
        self.state.invert = not self.state.invert
        self.request_render()

    def action_zoom(self: _Viewer, direction: int) -> None:
        """Zoom in (1) or out (-1)."""
        self.state.zoom_by(ZOOM_STEP if direction > 0 else 1 / ZOOM_STEP)
        self.request_render(self._held())

    def action_fit(self: _Viewer) -> None:
        """Fit the whole image to the viewport."""
        self.state.fit()
        self.request_render()

    def action_one_to_one(self: _Viewer) -> None:
        """One image pixel per screen pixel (per half cell with half-cell blocks)."""
        rendered = self.rendered
        if rendered is not None:
            view = self.view_px(self._cell())
            self.state.zoom_one_to_one(fit_scale(rendered.oriented_shape, rendered.aspect, view))
            self.request_render()

    def action_pan(self: _Viewer, d_row: int, d_col: int) -> None:
        """Move the view by a tenth of what is visible."""
        if self.rendered is not None:
            self.state.pan_by(d_row, d_col, self.rendered.region)
            self.request_render(self._held())

    def action_rotate(self: _Viewer, direction: int) -> None:
        """Rotate 90 degrees (1: clockwise, -1: anticlockwise)."""
        self.state.rotate(direction > 0)
        self.request_render()

    def action_flip_h(self: _Viewer) -> None:
        """Mirror left-right."""
        self.state.flip(horizontal=True)
        self.request_render()

    def action_flip_v(self: _Viewer) -> None:
        """Mirror top-bottom."""
        self.state.flip(horizontal=False)
        self.request_render()

    def action_reset(self: _Viewer) -> None:
        """Window from the file, fit, no rotation, flips or inversion."""
        self.state.reset_view()
        self.request_render()

    def action_cine(self: _Viewer) -> None:
        """Play or pause; a pause stops on the image on screen (the one the reader saw),
        not on one still on its way."""
        self.cine.toggle(self.state)
        consumed = self.image.pacer.consumed
        shown = consumed.tag if consumed is not None else None
        if not isinstance(shown, RenderRequest):
            shown = self.displayed
        if not self.state.cine and shown is not None and self.state.go_to(shown.index):
            self.request_render()  # the newer image on its way is not sent

    def _cine_tick(self: _Viewer) -> None:
        """Next image, wrapping; skipped until the previous one went to the terminal (a
        slow link plays slower rather than queueing frames)."""
        shown = self.displayed
        if self.shown_seq < self.requested_seq or shown is None or shown.seq < self.shown_seq:
            return
        self._direction = 1
        self.state.go_to(self.state.index + 1, wrap=True)
        self.request_render(1.0 / self.state.cine_rate)

    def action_cine_rate(self: _Viewer, direction: int) -> None:
        """Slower (-1) or faster (1) cine."""
        self.cine.step_rate(self.state, direction > 0)

    def action_series(self: _Viewer, direction: int) -> None:
        """Next (1) or previous (-1) series of the study."""
        self.loader.open(self.state.series_index + direction)

    def action_overlays(self: _Viewer) -> None:
        """Hide or show the overlays."""
        self.state.overlays = not self.state.overlays
        self.viewport.show_overlays(self.state.overlays)

    def action_mask(self: _Viewer) -> None:
        """Mask or unmask patient identity on every screen (until turned off)."""
        self.state.masked = not self.state.masked
        self.settings.session.masked = self.state.masked
        self.update_overlays()

    def action_tags(self: _Viewer) -> None:
        """Open the tag browser for the current image."""
        if self.store is None:
            return
        from tuipacs.app.screens.tags import TagScreen

        ref = self.store.images[self.state.index]
        title = f"Tags · image {self.state.index + 1}/{self.state.count} · {ref.path.name}"
        self.app.push_screen(TagScreen(ref.path, title, mask=self.state.masked))

    def action_back(self: _Viewer) -> None:
        """Back to the browser (or end the measurement, then the probe, first)."""
        if self.measure_escape():
            return
        if self.state.probe is not None:
            self.state.probe = None
            self.request_render()
            return
        self.app.pop_screen()
