"""Table columns that fit the terminal: which columns show and how wide, from the width.

A pure function (no Textual): the browser's tables call :func:`fit_columns` with their
width whenever it changes. The most important columns always show (shrunk when needed);
the others are taken in priority order while they fit beside them (the first that does
not fit ends the list: its room goes to the text of the more important ones, not to a
small column after it). The fixed columns then grow to their preferred widths and what
is left goes to the columns that grow (Description and Patient) by weight, so the widths
always fill the table exactly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """A table column: key, header, preferred width and how it may shrink or grow.

    ``width`` is the preferred width in cells (without the table's cell padding),
    ``minimum`` the narrowest it may be (``0``: never narrower than ``width``), ``grow`` its
    share of any width beyond the preferred widths, and ``limit`` the widest it may grow
    to (``0``: no limit).
    """

    key: str
    label: str
    width: int
    minimum: int = 0
    grow: int = 0
    limit: int = 0

    @property
    def narrowest(self) -> int:
        """The narrowest this column may be."""
        return self.minimum or self.width


def fit_columns(
    columns: tuple[Column, ...],
    priority: tuple[str, ...],
    available: int,
    padding: int = 2,
    keep: int = 1,
) -> list[tuple[str, str, int]]:
    """(key, label, width) of the columns that show in ``available`` cells, in the order
    of ``columns``; each column also takes ``padding`` cells (the table's cell padding).

    ``priority`` lists keys, most important first (keys it leaves out never show). The
    first ``keep`` keys always show, shrunk down to their narrowest when needed; each of
    the others shows only if, with it, the growing columns before it still get their
    preferred widths (a Patient ID never squeezes the description), and the first that
    does not fit ends the list. The widths plus the padding sum to ``available`` whenever
    the shown columns' narrowest widths fit in it.
    """
    by_key = {column.key: column for column in columns}
    chosen: list[Column] = []
    comfortable = 0  # growing columns at their preferred widths, the others at their narrowest
    for number, key in enumerate(priority):
        column = by_key[key]
        comfortable += (column.width if column.grow else column.narrowest) + padding
        if number >= max(1, keep) and comfortable > available:
            break  # the rest are less important: their room goes to the columns shown
        chosen.append(column)
    used = sum(column.narrowest + padding for column in chosen)
    widths = {column.key: column.narrowest for column in chosen}
    spare = max(0, available - used)
    for column in chosen:  # the fixed ones to their preferred widths, most important first
        if not column.grow:
            step = min(spare, column.width - widths[column.key])
            widths[column.key] += step
            spare -= step
    growing = [c for c in chosen if c.grow > 0]
    spare = _grow(growing, widths, spare, {c.key: c.width for c in growing})
    spare = _grow(growing, widths, spare, {c.key: c.limit for c in growing if c.limit})
    if spare and chosen:  # every growing column at its limit: the last one takes the rest
        widths[chosen[-1].key] += spare
    return [(c.key, c.label, widths[c.key]) for c in columns if c.key in widths]


def _grow(
    growing: list[Column], widths: dict[str, int], spare: int, limits: dict[str, int]
) -> int:
    """Share ``spare`` cells among ``growing`` columns by their ``grow`` weights, each up
    to its width in ``limits`` (none: no limit; what one cannot take goes to the others);
    returns what is left."""
    while spare > 0 and growing:
        total = sum(c.grow for c in growing)
        shares = {c.key: spare * c.grow // total for c in growing}
        # the remainder of the division, one cell each, most important first
        rest = spare - sum(shares.values())
        for column in growing[:rest]:
            shares[column.key] += 1
        spare = 0
        still: list[Column] = []
        for column in growing:
            limit = limits.get(column.key, 0)
            room = max(0, limit - widths[column.key]) if limit else shares[column.key]
            step = min(shares[column.key], room)
            widths[column.key] += step
            spare += shares[column.key] - step
            if not limit or widths[column.key] < limit:
                still.append(column)
        growing = still
    return spare
