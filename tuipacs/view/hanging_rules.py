"""Hanging protocols: the checked model and the checks of its values (pure).

The file format and the rules are described in :mod:`tuipacs.view.hanging`; this module
holds what a protocol is once read (:class:`HangingProtocol`, :class:`ViewportRule`) and
turns one untrusted value at a time into a checked one, raising :class:`Bad` with what to
fix. Regular expressions get the most care: a pattern of 200 characters can still take
forever on a value of 256 (``(a+)+$``, ``.*.*.*x``), and Python's ``re`` cannot be
interrupted, so :func:`regex` refuses the shapes that backtrack without bound.
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # the parse tree re.compile builds on (stdlib since 3.11)
from dataclasses import dataclass
from typing import Any

from tuipacs.imaging.presets import USER_PREFIX, find_preset, preset_names
from tuipacs.safe_text import clean

GRIDS = ("1x1", "1x2", "2x1", "2x2")
"""Rows x columns; ``1x2`` is two viewports side by side."""
STUDIES = ("current", "prior")
BUILT_IN = "built-in"
"""The source of the protocols shipped with tuipacs."""

MAX_REGEX = 200
"""Characters of one regular expression at most."""
MAX_VALUE = 256
"""Characters of a description or body part a regular expression looks at."""
MAX_REPEATS = 2
"""Repetitions (``*``, ``+``, ``{m,n}``) in one regular expression at most: with two, the
worst search of a value of :data:`MAX_VALUE` characters costs about 20 ms; three cost a
second."""
MAX_VIEWPORTS = 4
MAX_MODALITIES = 16
MAX_PRIORITY = 1000
MAX_NAME = 60
"""Characters of a protocol's name kept (the help screen shows it on one line)."""
MAX_USER_PRESET = 45

_MODALITY = re.compile(r"[A-Z0-9_ ]{1,16}")
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


class Bad(ValueError):
    """A value of a protocol file that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class ViewportRule:
    """What one viewport shows: a series of the ``study`` ("current" or "prior") of the
    ``modality`` (any when None), the first whose description ``series`` searches (the
    largest when None), in the window ``preset`` (the series' own when None)."""

    study: str = "current"
    series: re.Pattern[str] | None = None
    modality: str | None = None
    preset: str | None = None


@dataclass(frozen=True)
class HangingProtocol:
    """One checked protocol: when it applies (``modalities``: any of, ``body_part`` and
    ``description``: regular expressions) and what each viewport of ``grid`` shows."""

    name: str
    source: str
    grid: str
    viewports: tuple[ViewportRule, ...]
    priority: int = 0
    modalities: tuple[str, ...] = ()
    body_part: re.Pattern[str] | None = None
    description: re.Pattern[str] | None = None

    @property
    def cells(self) -> int:
        """How many viewports the grid has."""
        rows, columns = self.grid.split("x")
        return int(rows) * int(columns)

    @property
    def wants_prior(self) -> bool:
        """True when a viewport asks for the prior study."""
        return any(rule.study == "prior" for rule in self.viewports)


def grid_for(count: int) -> str:
    """The smallest grid with ``count`` viewports (a protocol that names no grid)."""
    return {0: "1x1", 1: "1x1", 2: "1x2"}.get(count, "2x2")


def regex(value: object, what: str) -> re.Pattern[str] | None:
    """``value`` compiled case-insensitively (None for an empty text), or :class:`Bad`."""
    if not isinstance(value, str):
        raise Bad(f"{what} must be a text (a regular expression), not {kind(value)}")
    if not value:
        return None
    if len(value) > MAX_REGEX:
        raise Bad(f"{what} is longer than {MAX_REGEX} characters: shorten it")
    try:
        tree = sre_parse.parse(value, re.IGNORECASE)
        problem = _too_costly(tree)
        compiled = None if problem else re.compile(value, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        message = getattr(exc, "msg", None) or type(exc).__name__
        raise Bad(f"{what} is not a valid regular expression ({message}): fix it") from None
    if compiled is None:
        raise Bad(f"{what} {problem}: simplify it")
    return compiled


def _too_costly(tree: Any) -> str:
    """Why the parse tree of a pattern may backtrack without bound ('' when it cannot)."""
    repeats = 0

    def walk(items: Any, inside_repeat: bool) -> str:
        nonlocal repeats
        for op, av in items:
            name = str(op)
            if name in _REPEATS:
                low, high, body = av
                if high > 1:
                    if inside_repeat:
                        return "repeats inside a repetition (like (a+)+), which can take forever"
                    repeats += 1
                    if repeats > MAX_REPEATS:
                        return f"has more than {MAX_REPEATS} repetitions (*, +, {{m,n}})"
                problem = walk(body, inside_repeat or high > 1)
            elif name == "BRANCH":
                if inside_repeat:
                    return "repeats a group of alternatives (like (a|ab)+): that can take forever"
                problem = next((p for b in av[1] if (p := walk(b, inside_repeat))), "")
            elif name in ("GROUPREF", "GROUPREF_EXISTS"):
                return "refers back to a group (\\1, (?(1)...)), which can take forever"
            elif name == "SUBPATTERN":
                problem = walk(av[3], inside_repeat)
            elif name in ("ASSERT", "ASSERT_NOT"):
                problem = walk(av[1], inside_repeat)
            elif name == "ATOMIC_GROUP":
                problem = walk(av, inside_repeat)
            else:
                continue
            if problem:
                return problem
        return ""

    return walk(tree, False)


def search(pattern: re.Pattern[str], value: str) -> bool:
    """True when ``pattern`` is found in ``value`` cut to :data:`MAX_VALUE` characters."""
    return pattern.search(value[:MAX_VALUE]) is not None


def modality(value: object, what: str) -> str:
    """A modality code (upper case, as DICOM writes it), or :class:`Bad`."""
    if not isinstance(value, str) or not _MODALITY.fullmatch(value.strip().upper()):
        raise Bad(f'{what} must be a modality code like "CT" (letters and digits, 1-16)')
    return value.strip().upper()


def modalities(value: object) -> tuple[str, ...]:
    """``match.modality``: one code or a list of codes (empty: any modality)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise Bad(f'match.modality must be a list of codes like ["CT"], not {kind(value)}')
    if len(items) > MAX_MODALITIES:
        raise Bad(f"match.modality lists more than {MAX_MODALITIES} codes: remove some")
    return tuple(modality(item, "match.modality") for item in items)


def preset(value: object) -> str:
    """A window preset's name as :mod:`tuipacs.imaging.presets` names it, or :class:`Bad`.
    ``user:NAME`` names one of the reader's presets of config.toml (not checked here)."""
    if not isinstance(value, str):
        raise Bad(f"preset must be a text, not {kind(value)}")
    text = value.strip()
    if text.lower().startswith(USER_PREFIX):
        if len(text) > MAX_USER_PRESET or not text.isprintable():
            raise Bad(f"preset {text[:MAX_USER_PRESET]!r} is too long or not printable")
        return USER_PREFIX + text[len(USER_PREFIX) :]
    found = find_preset(text)
    if found is None:
        known = ", ".join(preset_names())
        raise Bad(f"preset {text[:MAX_USER_PRESET]!r} is not known: use one of {known}")
    return found.name


def name(value: object, fallback: str) -> str:
    """A protocol's name on one line of at most :data:`MAX_NAME` characters."""
    if value is None:
        return fallback
    if not isinstance(value, str):
        raise Bad(f"name must be a text, not {kind(value)}")
    text = clean(" ".join(value[: MAX_NAME * 4].split()))
    if len(text) > MAX_NAME:
        text = text[: MAX_NAME - 1] + "…"
    return text or fallback


def priority(value: object) -> int:
    """A priority: a whole number within +-:data:`MAX_PRIORITY` (0 when absent)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_PRIORITY:
        raise Bad(f"priority must be a whole number from -{MAX_PRIORITY} to {MAX_PRIORITY}")
    return value


def kind(value: object) -> str:
    """What a TOML value is, in words ('a table', 'a number')."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return "a text" if isinstance(value, str) else "a date or time"
