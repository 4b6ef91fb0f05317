"""Colour themes as TOML data files, loaded as Textual ``Theme`` objects.

Themes are looked up, later folders overriding earlier ones by name, in:

1. the ``themes/`` folder of a source checkout (next to the ``tuipacs`` package),
2. ``<sys.prefix>/share/tuipacs/themes`` (where an installed wheel puts them),
3. ``<config dir>/themes/`` (the user's own themes).

A theme file holds the fields of :class:`textual.theme.Theme` (``name``, ``primary``,
``background``, ``dark``...) and an optional ``[variables]`` table of Textual CSS variables.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from tuipacs import locations

DEFAULT_THEME = "reading-room"
FALLBACK_THEME = "textual-dark"
_COLOUR_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_NUMBER_FIELDS = ("luminosity_spread", "text_alpha")


class ThemeError(Exception):
    """A theme file that cannot be used; the message names the file and the problem."""


@dataclass
class ThemeSet:
    """The themes found, and one-line warnings about files that were skipped."""

    themes: dict[str, Theme] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def theme_dirs() -> list[Path]:
    """Folders searched for ``*.toml`` themes, lowest priority first."""
    checkout = Path(__file__).resolve().parents[2] / "themes"
    installed = Path(sys.prefix) / "share" / "tuipacs" / "themes"
    user = locations.config_dir() / "themes"
    return [checkout, installed, user]


def _colour(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ThemeError(f"{path}: '{key}' must be a colour string like \"#1a1d22\"")
    try:
        Color.parse(value)
    except ColorParseError as exc:
        raise ThemeError(f"{path}: '{key}' is not a colour: {value!r}") from exc
    return value


def theme_from_data(path: Path, data: dict[str, Any]) -> Theme:
    """Build a Theme from parsed TOML; raises ThemeError naming the file and key."""
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{path}: 'name' must be a non-empty string")
    if "primary" not in data:
        raise ThemeError(f"{path}: 'primary' colour is required")
    kwargs: dict[str, Any] = {}
    for key in _COLOUR_FIELDS:
        if key in data:
            kwargs[key] = _colour(path, key, data[key])
    for key in _NUMBER_FIELDS:
        if key in data:
            if not isinstance(data[key], int | float) or isinstance(data[key], bool):
                raise ThemeError(f"{path}: '{key}' must be a number")
            kwargs[key] = float(data[key])
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{path}: 'dark' must be true or false")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeError(f"{path}: [variables] must map names to strings")
    return Theme(name=name.strip(), dark=dark, variables=dict(variables), **kwargs)


def load_theme_file(path: Path) -> Theme:
    """Read one theme file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThemeError(f"{path}: cannot read ({exc.strerror})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path}: not valid TOML ({exc})") from exc
    return theme_from_data(path, data)


def load_themes(dirs: list[Path] | None = None) -> ThemeSet:
    """All themes in ``dirs`` (default :func:`theme_dirs`); bad files become warnings."""
    found = ThemeSet()
    for folder in theme_dirs() if dirs is None else dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeError as exc:
                found.warnings.append(f"theme skipped: {exc}")
                continue
            found.themes[theme.name] = theme
    if not found.themes:
        searched = ", ".join(str(d) for d in (theme_dirs() if dirs is None else dirs))
        found.warnings.append(
            f"no tuipacs themes found (searched {searched}); using Textual's {FALLBACK_THEME}"
        )
    return found


def pick_theme(requested: str | None, available: dict[str, Theme] | list[str]) -> str:
    """The theme to use: the requested one if known, else reading-room, else the fallback."""
    names = set(available)
    if requested and requested in names:
        return requested
    return DEFAULT_THEME if DEFAULT_THEME in names else FALLBACK_THEME
