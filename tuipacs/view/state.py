"""The viewer's state and the rules that change it (pure: no Textual, no disk)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tuipacs.imaging import presets
from tuipacs.imaging.voi import Window
from tuipacs.view.probe import BIG_STEP, STEP, clamp, screen_step
from tuipacs.view.viewport import MAX_ZOOM, MIN_ZOOM, Orientation, Region

ZOOM_STEP = 1.25
CINE_RATES = (1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0)
DEFAULT_CINE_RATE = 10.0
PAN_STEP = 0.1
"""Pan step as a fraction of the visible region."""


@dataclass
class ViewerState:
    """Everything the viewer shows besides the pixels; tests read it directly."""

    series_index: int = 0
    index: int = 0
    count: int = 0
    window: Window | None = None
    window_name: str = "file"
    """``file`` (each image's own window), a preset name, ``auto``, ``minmax`` or ``custom``."""
    invert: bool = False
    zoom: float = 1.0
    pan: tuple[float, float] = (0.0, 0.0)
    orientation: Orientation = field(default_factory=Orientation)
    overlays: bool = True
    masked: bool = False
    cine: bool = False
    cine_rate: float = DEFAULT_CINE_RATE
    probe: tuple[int, int] | None = None
    """The probed source pixel (x, y) = (column, row), None when the probe is off."""
    plane: str = ""
    """The reformat shown, as the overlay names it (``Sagittal  slab 10 mm MIP``); '' for the
    acquired images. ``index`` and ``count`` then count its planes."""

    @property
    def center(self) -> float | None:
        """Window center in modality units (None before the first frame)."""
        return self.window.center if self.window else None

    @property
    def width(self) -> float | None:
        """Window width in modality units (None before the first frame)."""
        return self.window.width if self.window else None

    @property
    def rotation(self) -> int:
        """Rotation in degrees clockwise."""
        return self.orientation.degrees

    @property
    def flip_h(self) -> bool:
        """Mirrored left-right on screen."""
        return self.orientation.flip_h

    @property
    def flip_v(self) -> bool:
        """Mirrored top-bottom on screen."""
        return self.orientation.flip_v

    def go_to(self, index: int, wrap: bool = False) -> bool:
        """Move to image ``index`` (clamped, or wrapped around); True if it changed."""
        if self.count < 1:
            return False
        new = index % self.count if wrap else max(0, min(self.count - 1, index))
        changed = new != self.index
        self.index = new
        return changed

    def reset_view(self) -> None:
        """Back to fit, no pan, no rotation or flips, no inversion; window from the file."""
        self.zoom = 1.0
        self.pan = (0.0, 0.0)
        self.orientation = Orientation()
        self.invert = False
        self.window_name = "file"
        self.window = None

    def fit(self) -> None:
        """The whole image, centred."""
        self.zoom, self.pan = 1.0, (0.0, 0.0)

    def rotate(self, clockwise: bool) -> None:
        """Turn the picture a quarter on screen; the view goes back to the centre."""
        self.orientation = self.orientation.rotated(clockwise)
        self.pan = (0.0, 0.0)

    def flip(self, horizontal: bool) -> None:
        """Mirror the picture on screen; the view keeps showing the same part."""
        row, col = self.pan
        if horizontal:
            self.orientation = self.orientation.mirrored_h()
            self.pan = (row, -col)
        else:
            self.orientation = self.orientation.mirrored_v()
            self.pan = (-row, col)

    def pan_by(self, d_row: int, d_col: int, region: Region) -> None:
        """Move the view by ``PAN_STEP`` of the visible ``region`` per step (the render
        clamps it to the picture)."""
        row, col = self.pan
        self.pan = (row + d_row * PAN_STEP * region.height, col + d_col * PAN_STEP * region.width)

    def move_probe(self, d_x: int, d_y: int, big: bool, shape: tuple[int, int]) -> None:
        """Move the probe ``d_x``, ``d_y`` on screen, one source pixel per step (ten when
        ``big``, as Shift+arrows), within a ``shape`` (rows, cols) source image."""
        if self.probe is not None:
            step = BIG_STEP if big else STEP
            d_row, d_col = screen_step(self.orientation, d_y * step, d_x * step)
            x, y = self.probe
            self.probe = clamp((x + d_col, y + d_row), shape)

    def zoom_by(self, factor: float) -> None:
        """Multiply the zoom (relative to fit), within [MIN_ZOOM, MAX_ZOOM].

        A zoom already outside that range (1:1 of a very small or very large image) does not
        jump back into it: zooming further away from the range leaves it unchanged.
        """
        low, high = min(MIN_ZOOM, self.zoom), max(MAX_ZOOM, self.zoom)
        self.zoom = float(min(high, max(low, self.zoom * factor)))

    def zoom_one_to_one(self, fit_scale: float) -> None:
        """One image pixel per screen pixel, given the screen pixels per image pixel at fit.

        Unlike the zoom keys this may leave [MIN_ZOOM, MAX_ZOOM] (a small image in a large
        viewport is shown smaller than MIN_ZOOM of its fitted size), within a factor
        MAX_ZOOM either way.
        """
        if fit_scale > 0:
            self.zoom = float(min(MAX_ZOOM, max(1.0 / MAX_ZOOM, 1.0 / fit_scale)))

    def cine_faster(self, faster: bool) -> float:
        """Step the cine rate to the next standard rate up or down."""
        if faster:
            higher = [r for r in CINE_RATES if r > self.cine_rate + 1e-6]
            self.cine_rate = higher[0] if higher else CINE_RATES[-1]
        else:
            lower = [r for r in CINE_RATES if r < self.cine_rate - 1e-6]
            self.cine_rate = lower[-1] if lower else CINE_RATES[0]
        return self.cine_rate


ACCELERATE_EVERY = 8
"""Repeats of a held step key after which the step grows by one image."""
ACCELERATE_PER = 40
"""A stack gets one more image of largest step per this many images (small stacks: none)."""


def scroll_step(repeats: int, count: int) -> int:
    """Images per press of a held step key after ``repeats`` repeats in a stack of
    ``count``: 1 at first, one more every :data:`ACCELERATE_EVERY` repeats, at most
    ``count // ACCELERATE_PER`` (a 300-image pass at key-repeat rate then takes about 2 s
    instead of 10; stacks under 80 images always step by one)."""
    most = max(1, count // ACCELERATE_PER)
    return max(1, min(most, 1 + max(0, repeats) // ACCELERATE_EVERY))


@dataclass(frozen=True)
class PresetChoice:
    """A window the number keys offer: a fixed window or one computed from the image."""

    key: str
    name: str
    label: str
    window: Window | None = None


def preset_choices(
    modality: str, file_windows: list[Window], user: presets.UserPresets | None = None
) -> list[PresetChoice]:
    """Every preset of this modality, in the order of keys 1 .. 9 and 0 (the others are in
    the list, ``w``): modality presets (the reader's own from config.toml included), the
    file's windows, min-max and auto."""
    choices: list[PresetChoice] = []
    for preset in presets.presets_for(modality, user):
        if preset.is_fixed:
            choices.append(PresetChoice("", preset.name, preset.label, preset.window()))
    for number, window in enumerate(presets.file_presets(file_windows), 1):
        label = presets.file_window_label(window, number)
        choices.append(PresetChoice("", f"file{number}", label, window))
    choices.append(PresetChoice("", presets.MIN_MAX, "Min-max"))
    choices.append(PresetChoice("", presets.AUTO, "Auto"))
    return [replace(c, key=presets.preset_key(n)) for n, c in enumerate(choices, 1)]
