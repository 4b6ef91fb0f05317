"""Text formatting for DICOM values shown in tables and overlays (pure functions)."""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len, set_cell_size

MASK = "***"


def person_name(value: str) -> str:
    """``DOE^JOHN^Q`` to ``DOE, JOHN Q`` (the first component group only)."""
    alphabetic = value.split("=")[0]
    parts = [p.strip() for p in alphabetic.split("^")]
    family = parts[0] if parts else ""
    given = " ".join(p for p in parts[1:3] if p)
    if family and given:
        return f"{family}, {given}"
    return family or given


def dicom_date(value: str) -> str:
    """``20240115`` to ``2024-01-15``; anything else unchanged."""
    text = value.strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def dicom_time(value: str) -> str:
    """``143015.123`` to ``14:30``; anything else unchanged."""
    text = value.strip()
    if len(text) >= 4 and text[:4].isdigit():
        return f"{text[:2]}:{text[2:4]}"
    return text


def modalities(value: str) -> str:
    """``CT\\SR`` to ``CT,SR``."""
    return ",".join(m for m in value.split("\\") if m)


def number(value: float, digits: int = 1) -> str:
    """A number without a useless ``.0``."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}f}"


def clip(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` terminal cells, ending with ``…`` when cut.

    Cells, not characters: wide (CJK) characters take two.
    """
    if cell_len(text) <= width:
        return text
    if width <= 0:
        return ""
    # set_cell_size pads with a space where a wide character would straddle the edge
    return set_cell_size(text, width - 1).rstrip() + "…"


def fold(text: str) -> str:
    """``text`` for matching that ignores case and accents: ``MÜLLER`` and ``Müller`` to
    ``muller``, ``Straße`` to ``strasse``, full-width ``ＣＴ`` to ``ct``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # casefold again: compatibility forms can decompose to capitals (``ℌ`` to ``H``)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
