"""What the mouse does to the view (pure: no Textual).

A left-drag on the picture moves the window as the arrow keys do, in the modality's units
(:mod:`tuipacs.view.window_steps`): right widens it, left narrows it, up raises the level,
down lowers it. A drag across the whole picture moves :data:`DRAG_STEPS` key steps (1500 HU
on CT, one and a half times the image's range of values elsewhere), whatever the picture's
size in cells, but never less than a fine step nor more than the fastest held key per cell;
and the window stays within what the keys may reach. The window follows the pointer from
where the drag began, so going back to the start gives back the window the drag began with.

Ctrl+wheel zooms about the pointer: the point of the picture under it stays where it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tuipacs.imaging.voi import Window
from tuipacs.view.viewport import Region
from tuipacs.view.window_steps import FINE, MAX_ACCEL, WindowLimits, step_window

DRAG_STEPS = 150
"""Key steps a drag across the whole picture moves the width (or, top to bottom, the
level): 1500 HU on CT."""


def drag_step(limits: WindowLimits, cells: int) -> float:
    """Modality units per cell of a drag over a picture ``cells`` cells across: whole units
    where the key step is a whole number (CT: HU)."""
    per_cell = limits.step * DRAG_STEPS / max(1, cells)
    per_cell = min(limits.step * MAX_ACCEL, max(limits.step * FINE, per_cell))
    if limits.step >= 1:
        per_cell = max(1.0, float(round(per_cell)))
    return per_cell


@dataclass(frozen=True)
class WindowDrag:
    """A left-drag under way: where it began (screen cells), the window then, the picture's
    size in cells (cols, rows) and the limits of the image's values."""

    start: tuple[int, int]
    window: Window
    picture: tuple[int, int]
    limits: WindowLimits
    moved: bool = False

    def window_at(self, x: int, y: int) -> Window:
        """The window with the pointer at cell (``x``, ``y``) of the screen."""
        cols, rows = self.picture
        d_cols, d_rows = x - self.start[0], y - self.start[1]
        wide = replace(self.limits, step=drag_step(self.limits, cols))
        high = replace(self.limits, step=drag_step(self.limits, rows))
        window = step_window(self.window, 0, d_cols, wide, False, 0)
        return step_window(window, -d_rows, 0, high, False, 0)


def zoom_about(
    pan: tuple[float, float], region: Region, point: tuple[float, float] | None, factor: float
) -> tuple[float, float]:
    """The pan that keeps ``point`` (row, col of the oriented picture) where it is on screen
    when the zoom is multiplied by ``factor``; ``pan`` itself without a point (the zoom is
    then about the centre of the view). The render clamps the pan to the picture."""
    if point is None or factor <= 0:
        return pan
    keep = 1.0 - 1.0 / factor
    centre_row = region.top + region.height / 2
    centre_col = region.left + region.width / 2
    return (pan[0] + (point[0] - centre_row) * keep, pan[1] + (point[1] - centre_col) * keep)
