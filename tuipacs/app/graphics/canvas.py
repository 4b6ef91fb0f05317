"""The canvases of an ImageView: the child widget each graphics backend draws on.

``StripCanvas`` paints prepared strips (half-cells; Kitty placeholders in ``KittyCanvas``) at
a box with black margins; the Sixel canvas (:mod:`~tuipacs.app.graphics.sixel_canvas`) is
never painted by Textual (``SkipStrip`` cursor moves), since Sixel pictures are written over
it. Under a modal screen both Kitty and Sixel canvases draw the picture in half-cells instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence

from rich.cells import get_character_cell_size
from rich.color import Color
from rich.console import Console
from rich.segment import ControlType, Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tuipacs.app.graphics import halfcell
from tuipacs.view.graphics import kitty
from tuipacs.view.layout import Box

BLACK = Style(bgcolor=Color.from_rgb(0, 0, 0))


def on_active_screen(widget: Widget) -> bool:
    """True when ``widget`` is on the top screen (not rendered under a modal)."""
    try:
        return widget.screen.is_active
    except Exception:  # not mounted / no screen yet
        return False


class Canvas(Widget, can_focus=False):
    """The child widget of an ImageView that holds the picture."""

    DEFAULT_CSS = """
    Canvas { width: 100%; height: 100%; background: black; }
    """

    def set_box(self, box: Box) -> bool:
        """Move the picture to ``box``; True if that changed anything visible."""
        raise NotImplementedError


class StripCanvas(Canvas):
    """Fills the ImageView: black margins around prepared strips placed at the box.

    Changing the box repaints this one widget once (no layout change, which would make
    Textual repaint it several times). Lines around half-cell strips keep the rendering the
    encoder thread prepared (``halfcell.pad``), so painting a frame renders no segment.
    """

    def __init__(self) -> None:
        super().__init__()
        self.box = Box(0, 0, 0, 0)
        self.strips: list[Strip] = []
        self._lines: dict[int, Strip] = {}
        self._lines_key: tuple[int, Box] = (-1, self.box)

    def set_box(self, box: Box) -> bool:
        """Place the picture at ``box`` (cells inside this widget)."""
        if box == self.box:
            return False
        self.box = box
        self.refresh()
        return True

    def set_strips(self, strips: list[Strip]) -> None:
        """Replace the picture's strips (one per box row) and repaint."""
        self.strips = strips
        self._lines.clear()
        self.refresh()

    def _line(self, y: int, width: int) -> Strip:
        """Line ``y`` of the widget: margin, picture row, margin (cached per frame)."""
        key = (width, self.box)
        if key != self._lines_key:
            self._lines.clear()
            self._lines_key = key
        line = self._lines.get(y)
        if line is None:
            line = self._compose_line(y, width)
            self._lines[y] = line
        return line

    def _compose_line(self, y: int, width: int, strips: list[Strip] | None = None) -> Strip:
        """Build line ``y`` from the margins and the picture's strip."""
        box = self.box
        strips = self.strips if strips is None else strips
        row = y - box.y
        if not 0 <= row < len(strips) or row >= box.rows:
            return Strip.blank(width, BLACK)
        picture = strips[row]
        left = min(box.x, width)
        right = max(0, width - left - picture.cell_length)
        if left + picture.cell_length <= width:
            return halfcell.pad(picture, left, right, BLACK)  # keeps a prepared rendering
        parts = [Strip.blank(left, BLACK), picture, Strip.blank(right, BLACK)]
        return Strip.join(parts).crop(0, width)

    def render_lines(self, crop: Region) -> list[Strip]:
        """Lines of the crop region."""
        width = self.size.width
        lines = []
        for y in range(crop.y, crop.bottom):
            line = self._line(y, width)
            if crop.x or crop.width != width:
                line = line.crop(crop.x, crop.right)
            lines.append(line)
        return lines


def split_segment(segment: Segment, cut: int) -> tuple[Segment, Segment]:
    """``segment`` cut ``cut`` cells in, never between a character and the zero-width
    marks after it.

    Rich's ``split_cells`` guesses a character index from the cell position and walks from
    there; when the guess falls short it stops right after a base character, so a Kitty
    placeholder (U+10EEEE and its row and column diacritics) loses its diacritics to the
    next piece. Textual cuts a picture's line where a label covers it: the orphaned
    diacritics then followed the bottom "P" label (drawn as a box beside it) and the cell
    before the label lost its column.
    """
    text, style, control = segment
    width = 0
    for index, char in enumerate(text):
        size = get_character_cell_size(char)
        if size and width >= cut:
            if width != cut:  # a wide character across the cut: Rich's spaces
                return Segment.split_cells(segment, cut)
            return Segment(text[:index], style, control), Segment(text[index:], style, control)
        width += size
    return segment, Segment("", style, control)


class CellStrip(Strip):
    """A Strip whose crops and divisions keep combining marks with their character
    (:func:`split_segment`); the pieces are CellStrips too."""

    __slots__: list[str] = []

    def crop(self, start: int, end: int | None = None) -> Strip:
        """The cells from ``start`` to ``end``."""
        start = max(0, start)
        end = self.cell_length if end is None else min(end, self.cell_length)
        if start == 0 and end == self.cell_length:
            return self
        if end <= start:
            return CellStrip([], 0)
        pieces = self.divide([start, end])
        return pieces[1] if len(pieces) > 1 else CellStrip([], 0)

    def divide(self, cuts: Iterable[int]) -> Sequence[Strip]:
        """The pieces between 0 and each of ``cuts`` in turn (those past the end left out)."""
        pieces: list[Strip] = []
        rest = deque(self._segments)
        pos = 0
        for cut in cuts:
            if cut > self.cell_length:
                break
            taken: list[Segment] = []
            while rest and pos < cut:
                segment = rest.popleft()
                size = segment.cell_length
                if pos + size <= cut:
                    taken.append(segment)
                    pos += size
                else:
                    before, after = split_segment(segment, cut - pos)
                    taken.append(before)
                    rest.appendleft(after)
                    pos = cut
            pieces.append(CellStrip(taken, cut - sum(p.cell_length for p in pieces)))
        return pieces


class KittyCanvas(StripCanvas):
    """Placeholder cells for one image id; rebuilt only when the box size changes.

    Under a modal screen Textual tints this screen, and a tinted placeholder colour would
    name another image id: the picture is drawn in half-cells there instead.
    """

    def __init__(self, image_id: int, truecolor: bool, fallback: Callable[[], list[Strip]]) -> None:
        super().__init__()
        self.fallback = fallback
        self.image_id = image_id
        self.truecolor = truecolor
        self.grid = (0, 0)

    def set_grid(self, cols: int, rows: int) -> bool:
        """Draw a cols x rows placeholder box; False (nothing sent) if it is unchanged."""
        if (cols, rows) == self.grid:
            return False
        self.grid = (cols, rows)
        style = Style(color=Color.from_rgb(*kitty.id_colour(self.image_id, self.truecolor)))
        texts = kitty.placeholder_rows(self.image_id, cols, rows)
        self.set_strips([CellStrip([Segment(text, style)], cols) for text in texts])
        return True

    def _compose_line(self, y: int, width: int, strips: list[Strip] | None = None) -> Strip:
        """Line ``y``; a line of placeholders as a CellStrip (Textual may cut it anywhere
        a label covers it), a prepared half-cell line (under a modal) as it is."""
        line = super()._compose_line(y, width, strips)
        if strips is not None or isinstance(line, CellStrip):
            return line
        return CellStrip(list(line), line.cell_length)

    def render_lines(self, crop: Region) -> list[Strip]:
        """Placeholders on the active screen, half-cells under a modal."""
        if on_active_screen(self):
            return super().render_lines(crop)
        strips, width = self.fallback(), self.size.width
        lines = [self._compose_line(y, width, strips) for y in range(crop.y, crop.bottom)]
        return [line.crop(crop.x, crop.right) for line in lines]


class SkipStrip(Strip):
    """A run of cells Textual must not paint: renders as a cursor-forward move.

    Cropping and dividing give skip strips of the right widths, so Textual's cursor
    arithmetic stays exact; rendering tells the owner that the cells were "repainted",
    i.e. the Sixel picture has to be written again.
    """

    __slots__ = ["_on_render"]

    def __init__(self, width: int, on_render: Callable[[], None]) -> None:
        text = f"\x1b[{width}C" if width > 0 else ""
        control = [(ControlType.CURSOR_FORWARD, width)]
        super().__init__([Segment(text, None, control)] if text else [], width)
        self._on_render = on_render

    def render(self, console: Console) -> str:
        """The cursor move; notes that this part of the screen was written."""
        self._on_render()
        return super().render(console)

    def crop(self, start: int, end: int | None = None) -> Strip:
        """A skip strip of the cropped width."""
        stop = self.cell_length if end is None else min(end, self.cell_length)
        start = max(0, start)
        if start == 0 and stop == self.cell_length:
            return self
        return SkipStrip(max(0, stop - start), self._on_render)

    def divide(self, cuts: Iterable[int]) -> Sequence[Strip]:
        """Skip strips between the cuts."""
        result: list[Strip] = []
        pos = 0
        for cut in cuts:
            if cut > self.cell_length:
                break
            result.append(SkipStrip(cut - pos, self._on_render))
            pos = cut
        return result
