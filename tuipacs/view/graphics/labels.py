"""Text written with a Sixel picture: the viewer's overlay text on Sixel (pure).

A Sixel picture covers the text under it, and text written after it replaces its pixels in
those cells (the VT340's model, which xterm, foot, mlterm, WezTerm and Windows Terminal
follow). So on Sixel the overlay texts (corner blocks, orientation labels, the message line)
are labels the backend writes itself, right after the picture in the same synchronized
update, instead of widgets Textual paints whenever it likes (which a later picture would
erase). Black margins are written as solid Sixel rectangles, a few bytes per band.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len

from tuipacs.view.graphics import sixel
from tuipacs.view.layout import Box, CellSize

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Label:
    """A block of text on a background: cells (col, row) to (col + cols, row + rows) of
    the picture's widget; the text starts ``pad`` cells in from the left."""

    col: int
    row: int
    cols: int
    rows: int
    text: str
    colour: RGB
    background: RGB
    bold: bool = False
    pad: int = 0

    @property
    def box(self) -> Box:
        """The label's cells."""
        return Box(self.col, self.row, self.cols, self.rows)


def covers(boxes: list[Box], box: Box) -> bool:
    """True when the cells of ``box`` all lie inside one of ``boxes``."""
    return any(
        b.x <= box.x
        and b.y <= box.y
        and box.x + box.cols <= b.x + b.cols
        and box.y + box.rows <= b.y + b.rows
        for b in boxes
    )


def _safe(text: str) -> str:
    """``text`` without control characters (none may reach the terminal from a label)."""
    return "".join(ch for ch in text if ch.isprintable())


def _fit(line: str, cols: int) -> str:
    """``line`` cut or padded with spaces to ``cols`` cells."""
    out, used = [], 0
    for char in line:
        span = cell_len(char)
        if used + span > cols:
            break
        out.append(char)
        used += span
    return "".join(out) + " " * (cols - used)


def sgr(colour: RGB, background: RGB, bold: bool) -> str:
    """The SGR sequence for true-colour text in ``colour`` on ``background``."""
    weight = "1;" if bold else ""
    fore = ";".join(str(int(c) & 255) for c in colour)
    back = ";".join(str(int(c) & 255) for c in background)
    return f"\x1b[0;{weight}38;2;{fore};48;2;{back}m"


def label_text(label: Label, left: int, top: int) -> str:
    """Escape sequences writing ``label`` as text at its cells, the widget's top-left cell
    being (``left``, ``top``) on the screen (0-based): every cell of the label, so it
    covers what was there (a Sixel picture too: text written after a Sixel replaces its
    pixels in those cells)."""
    if label.cols < 1 or label.rows < 1:
        return ""
    lines = label.text.split("\n")
    parts = [sgr(label.colour, label.background, label.bold)]
    for row in range(label.rows):
        line = _safe(lines[row]) if row < len(lines) else ""
        text = " " * label.pad + line
        parts.append(f"\x1b[{top + label.row + row + 1};{left + label.col + 1}H")
        parts.append(_fit(text, label.cols))
    parts.append("\x1b[0m")
    return "".join(parts)


def solid_sixel(cols: int, rows: int, cell: CellSize, colour: RGB = (0, 0, 0)) -> str:
    """A Sixel rectangle of ``cols`` x ``rows`` cells in one colour (a few bytes per band)."""
    width, height = cols * cell.width, rows * cell.height
    if width < 1 or height < 1:
        return ""
    red, green, blue = (round(c * 100 / 255) for c in colour)
    bands, rest = divmod(height, 6)
    full = f"#0!{width}~" if width > 3 else "#0" + "~" * width
    parts = [full] * bands
    if rest:
        char = chr(63 + (1 << rest) - 1)
        parts.append(f"#0!{width}{char}" if width > 3 else "#0" + char * width)
    body = "-".join(parts)
    return f"{sixel.DCS_START}{width};{height}#0;2;{red};{green};{blue}{body}{sixel.ST}"
