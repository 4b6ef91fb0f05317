"""``[presets.MODALITY]`` of config.toml: the reader's own window presets, each bad entry
skipped with one line naming the file, line and key (the rest still loads)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuipacs.config import _Reader

MAX_PRESET_MODALITIES = 64
"""Modalities [presets] may name at most."""
MAX_PRESETS = 32
"""Presets of one modality at most."""
MAX_PRESET_NAME = 40
"""Characters of a preset's name at most."""
MAX_WINDOW_VALUE = 1e7
"""The largest center (either sign) and width a preset may give, in modality units."""
_MODALITY_RE = re.compile(r"^[A-Z0-9_]{1,16}$")


def presets_of(top: _Reader, warnings: list[str]) -> dict[str, list[tuple[str, float, float]]]:
    """[presets.MODALITY] tables of ``"name" = [center, width]``: each bad entry is skipped
    with one line in ``warnings`` naming the file, line and key (the rest still loads)."""
    from tuipacs.config import _Reader

    table = top.table.get("presets", {})
    if not isinstance(table, dict):
        warnings.append(_skipped(top, "presets", "expected tables like [presets.CT]"))
        return {}
    section = _Reader(top.path, top.text, table, "presets")
    found: dict[str, list[tuple[str, float, float]]] = {}
    for modality, entries in table.items():
        key = modality.strip().upper()
        if not _MODALITY_RE.match(key):
            warnings.append(_skipped(section, modality, "a modality is like CT, MR or US"))
        elif not isinstance(entries, dict):
            warnings.append(_skipped(section, modality, f"[presets.{key}] must be a table"))
        elif key not in found and len(found) >= MAX_PRESET_MODALITIES:
            problem = f"more than {MAX_PRESET_MODALITIES} modalities"
            warnings.append(_skipped(section, modality, problem))
        else:
            reader = _Reader(top.path, top.text, entries, f"presets.{modality}")
            found.setdefault(key, []).extend(_modality_presets(reader, warnings))
            del found[key][MAX_PRESETS:]
    return {key: value for key, value in found.items() if value}


def _modality_presets(reader: _Reader, warnings: list[str]) -> list[tuple[str, float, float]]:
    """The presets of one [presets.MODALITY] table, bad ones skipped with a warning."""
    presets: list[tuple[str, float, float]] = []
    for name, value in reader.table.items():
        if len(presets) == MAX_PRESETS:
            warnings.append(_skipped(reader, name, f"more than {MAX_PRESETS} presets"))
            break
        try:
            presets.append((_preset_name(name), *_preset_window(value)))
        except ValueError as exc:
            warnings.append(_skipped(reader, name, str(exc)))
    return presets


def _preset_name(name: str) -> str:
    """A preset's name as given (spaces at the ends dropped); ValueError when it is empty,
    too long or holds a control character."""
    text = name.strip()
    if not text:
        raise ValueError("a preset needs a name")
    if len(text) > MAX_PRESET_NAME:
        raise ValueError(f"a preset's name has at most {MAX_PRESET_NAME} characters")
    if not text.isprintable():
        raise ValueError("a preset's name must be printable text (no control characters)")
    return text


def _preset_window(value: object) -> tuple[float, float]:
    """(center, width) of ``[center, width]``; ValueError saying what a preset must be."""
    numbers = value if isinstance(value, list) and len(value) == 2 else None
    if numbers is None or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in numbers
    ):
        raise ValueError("expected [center, width]: two numbers in the modality's units")
    center, width = numbers
    if not (abs(center) <= MAX_WINDOW_VALUE and abs(width) <= MAX_WINDOW_VALUE):
        raise ValueError(f"center and width must be finite, at most {MAX_WINDOW_VALUE:,.0f}")
    if not width >= 1:
        raise ValueError("the width must be at least 1")
    return float(center), float(width)


def _skipped(reader: _Reader, key: str, problem: str) -> str:
    """The warning for a skipped ``key`` of ``reader``'s table: file, line, key (made safe
    and cut short), what is wrong."""
    from tuipacs.config import _key_line
    from tuipacs.safe_text import clean

    line = _key_line(reader.text, reader.section, key)
    if not line and "." in reader.section:  # a key written with escapes: its table's line
        line = _key_line(reader.text, *reader.section.rsplit(".", 1))
    shown = clean(key) if len(key) <= MAX_PRESET_NAME else clean(key[:MAX_PRESET_NAME]) + "…"
    name = f"{reader.section}.{shown}" if reader.section else shown
    return f"{reader.path}:{line}: key '{name}': {problem}; skipped"
