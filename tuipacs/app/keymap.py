"""Key bindings that document themselves: the help screen is made from them.

A :class:`Key` is a Textual ``Binding`` with a help ``section``; its ``tooltip`` is the text
the help screen shows (and the footer's tooltip). Keys of one section with the same tooltip
make one row, their keys joined: ``j`` and ``k`` with "next / previous image" give the row
``j / k``. A binding without a section (a plain ``Binding``) is not listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from textual.binding import Binding, BindingType

Section = tuple[str, tuple[tuple[str, str], ...]]
"""A help section: its title and its (keys, what they do) rows."""

KEY_NAMES = {
    "pagedown": "PgDn",
    "pageup": "PgUp",
    "plus": "+",
    "minus": "-",
    "equals_sign": "=",
    "asterisk": "*",
    "slash": "/",
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "left_curly_bracket": "{",
    "right_curly_bracket": "}",
}
"""Key names shown as a symbol or an abbreviation; others are capitalised (``Home``)."""

ARROWS = ("left", "right", "up", "down")


@dataclass(frozen=True)
class Key(Binding):
    """A binding the help screen lists in ``section``, with its ``tooltip`` as the text."""

    section: str = ""


def key_label(key: str) -> str:
    """How the help writes one key: ``pagedown`` as ``PgDn``, ``ctrl+r`` as ``Ctrl+R``."""
    *modifiers, name = key.split("+")
    shown = KEY_NAMES.get(name) or (name if len(name) == 1 else name.capitalize())
    if modifiers and len(shown) == 1:
        shown = shown.upper()
    return "+".join([*(m.capitalize() for m in modifiers), shown])


def _join(keys: Sequence[str]) -> str:
    """Keys that do one thing each in a row: ``1 .. 9`` for a run of digits, ``Ctrl+arrows``
    for the four arrows with one modifier, else joined by `` / ``."""
    digits = [k for k in keys if len(k) == 1 and k.isdigit()]
    if len(keys) > 2 and len(digits) == len(keys):
        numbers = [int(k) for k in keys]
        if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
            return f"{keys[0]} .. {keys[-1]}"
    prefixes = {k.rpartition("+")[0] for k in keys}
    names = tuple(k.rpartition("+")[2] for k in keys)
    if len(prefixes) == 1 and "" not in prefixes and sorted(names) == sorted(ARROWS):
        return f"{key_label(keys[0]).rpartition('+')[0]}+arrows"
    return " / ".join(key_label(k) for k in keys)


def row_keys(bindings: Sequence[Binding]) -> str:
    """The keys column of a help row: the bindings' keys joined by `` / ``, and a binding's
    alternative keys (``escape,backspace``) by ``, `` (per position when all have several)."""
    alternatives = [[k.strip() for k in b.key.split(",")] for b in bindings]
    if len({len(a) for a in alternatives}) == 1:
        return ", ".join(_join(list(keys)) for keys in zip(*alternatives, strict=True))
    return " / ".join(", ".join(key_label(k) for k in keys) for keys in alternatives)


def help_sections(
    bindings: Iterable[BindingType], order: Sequence[str] = ()
) -> tuple[Section, ...]:
    """The help sections of ``bindings``: ``order`` first, then in order of appearance;
    rows in the order of their first key."""
    rows: dict[tuple[str, str], list[Binding]] = {}
    titles: list[str] = list(order)
    for binding in bindings:
        if not isinstance(binding, Key) or not binding.section or not binding.tooltip:
            continue
        if binding.section not in titles:
            titles.append(binding.section)
        rows.setdefault((binding.section, binding.tooltip), []).append(binding)
    sections = []
    for title in titles:
        entries = tuple(
            (row_keys(keys), text) for (section, text), keys in rows.items() if section == title
        )
        if entries:
            sections.append((title, entries))
    return tuple(sections)


def named(bindings: Iterable[BindingType], names: Callable[[str], str | None]) -> list[BindingType]:
    """``bindings`` with ids (``names(action)``), so that a keymap can give them other keys."""
    out: list[BindingType] = []
    for binding in bindings:
        name = names(binding.action) if isinstance(binding, Binding) else None
        out.append(replace(binding, id=name) if name and isinstance(binding, Binding) else binding)
    return out


def remapped(bindings: Iterable[BindingType], keymap: Mapping[str, str]) -> list[BindingType]:
    """``bindings`` as the keymap (binding id -> keys) makes them, for the help: a binding
    in the keymap gets its keys; a key it takes leaves the other bindings (as in Textual)."""
    taken = {key.strip() for keys in keymap.values() for key in keys.split(",")}
    out: list[BindingType] = []
    for binding in bindings:
        if not isinstance(binding, Binding):
            out.append(binding)
        elif binding.id and binding.id in keymap:
            out.append(replace(binding, key=keymap[binding.id], key_display=None))
        else:
            kept = [k for k in binding.key.split(",") if k.strip() not in taken]
            if kept:
                out.append(replace(binding, key=",".join(kept)))
    return out
