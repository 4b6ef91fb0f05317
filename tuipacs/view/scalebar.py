"""The scale bar of the viewer's overlay (pure): a bar of a round length in mm at the zoom
on screen, as text.

Text, not pixels drawn into the picture: drawing into the picture would put every frame
through the crosshair's grid (a larger, RGB picture while scrolling), and a bar built of
eighth blocks (``▏`` .. ``█``) is exact to an eighth of a cell, about one screen pixel. The
bar is as long as the picture's width on screen says (cells per mm horizontally on screen,
so after a rotation the rows' spacing counts); its length is the largest of 1, 2, 5, 10,
20, 50, 100 ... mm that fits :data:`MAX_CELLS` and a quarter of the picture's width. No
calibration, or a hostile one: no bar (the probe and measurements say "uncalibrated").
"""

from __future__ import annotations

import math

from tuipacs.view.measure import Calibration
from tuipacs.view.viewport import Orientation

EIGHTHS = " ▏▎▍▌▋▊▉"
"""Left blocks of 0 .. 7 eighths of a cell."""
FULL = "█"
MAX_CELLS = 24
"""The longest bar in cells."""
MIN_CELLS = 2.0
"""The shortest bar in cells (shorter is no use as a scale)."""
LENGTHS = tuple(m * 10.0**e for e in range(-2, 5) for m in (1.0, 2.0, 5.0))
"""The round lengths a bar may have, in mm."""


def mm_per_cell(
    cal: Calibration,
    orientation: Orientation,
    visible_cols: float,
    frame_scale: float,
    cells_wide: float,
) -> float | None:
    """Horizontal mm per cell on screen: the picture shows ``visible_cols`` columns of the
    oriented display array (reduced ``frame_scale`` times from the source) across
    ``cells_wide`` cells. None without calibration or when a figure is not usable."""
    if cal.spacing is None:
        return None
    row_spacing, col_spacing = cal.spacing
    across = row_spacing if orientation.quarter_turns % 2 else col_spacing
    if not (frame_scale > 0 and visible_cols > 0 and cells_wide > 0):
        return None
    value = visible_cols * across / frame_scale / cells_wide
    return value if math.isfinite(value) and value > 0 else None


def bar_length(per_cell: float, room: float) -> float | None:
    """The longest round length (mm) whose bar fits in ``room`` cells, None when even the
    shortest does not fit or is shorter than :data:`MIN_CELLS`."""
    fitting = [mm for mm in LENGTHS if mm / per_cell <= room]
    if not fitting or fitting[-1] / per_cell < MIN_CELLS:
        return None
    return fitting[-1]


def bar_text(cells: float) -> str:
    """A bar ``cells`` long in eighth blocks."""
    eighths = max(1, round(cells * 8))
    whole, part = divmod(eighths, 8)
    return FULL * whole + (EIGHTHS[part] if part else "")


def label(mm: float) -> str:
    """``50 mm``, ``0.5 mm``."""
    return f"{mm:g} mm"


def scale_bar(per_cell: float | None, picture_cells: float) -> str:
    """The bar and its label (``█████▍ 10 mm``) for ``per_cell`` mm per cell on a picture
    ``picture_cells`` wide; '' when there is no calibration or no room."""
    if per_cell is None or not math.isfinite(per_cell) or per_cell <= 0:
        return ""
    room = min(float(MAX_CELLS), picture_cells / 4)
    mm = bar_length(per_cell, room)
    if mm is None:
        return ""
    return f"{bar_text(mm / per_cell)} {label(mm)}"
