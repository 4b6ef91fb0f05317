"""Hanging protocols: reading protocol files (the format is in :mod:`tuipacs.view.hanging`).

Every file is untrusted. A file is read only when it is a regular file of at most
:data:`MAX_FILE_BYTES` (a FIFO named ``x.toml`` would block the reader forever), decoded as
UTF-8, measured by :func:`tuipacs.toml_shape.shape` before ``tomllib`` parses it, and
each of its protocols is checked on its own: a bad protocol costs that protocol, a bad file
that file, each with one line that names the file and says what to fix.
"""

from __future__ import annotations

import functools
import os
import stat
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from tuipacs.config import did_you_mean
from tuipacs.safe_text import clean
from tuipacs.toml_shape import shape
from tuipacs.view import hanging_rules as rules
from tuipacs.view.hanging_rules import (
    BUILT_IN,
    GRIDS,
    MAX_VIEWPORTS,
    STUDIES,
    Bad,
    HangingProtocol,
    ViewportRule,
)

MAX_FILE_BYTES = 256 * 1024
MAX_PROTOCOLS = 64
"""Protocols of one file at most."""
MAX_FILES = 64
"""Protocol files of one folder read at most (in name order)."""
MAX_KEY_DOTS = 16
"""Dots outside strings on one line at most (bounds the parts of a dotted key)."""
MAX_NESTING = 16
"""Brackets and braces nested at most."""
MAX_LINE = 240
"""Characters of one skip line at most."""
BUILT_IN_FILE = "protocols.toml"

_TOP_KEYS = frozenset({"protocol"})
_PROTOCOL_KEYS = frozenset({"name", "priority", "match", "grid", "viewport"})
_MATCH_KEYS = frozenset({"modality", "body_part", "description"})
_VIEWPORT_KEYS = frozenset({"study", "series", "modality", "preset"})


def load_protocols(directory: Path | None) -> tuple[list[HangingProtocol], list[str]]:
    """The built-in set plus every *.toml in ``directory`` (user protocols first, so they
    win at equal priority); the second item: one line per file or protocol skipped."""
    found: list[HangingProtocol] = []
    lines: list[str] = []
    if directory is not None:
        found, lines = _folder(directory)
    built_in, built_in_lines = builtin_protocols()
    return [*found, *built_in], [*lines, *built_in_lines]


@functools.cache
def builtin_protocols() -> tuple[tuple[HangingProtocol, ...], tuple[str, ...]]:
    """The protocols shipped in the package (``tuipacs/view/protocols.toml``)."""
    text = resources.files("tuipacs.view").joinpath(BUILT_IN_FILE).read_text(encoding="utf-8")
    found, lines = parse_text(text, BUILT_IN)
    return tuple(found), tuple(lines)


def _folder(directory: Path) -> tuple[list[HangingProtocol], list[str]]:
    """The protocols of the *.toml files in ``directory`` (none when it does not exist)."""
    try:
        with os.scandir(directory) as entries:
            names = sorted(
                entry.name
                for entry in entries
                if entry.name.endswith(".toml") and not entry.name.startswith(".")
            )
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        where = clean(str(directory))
        return [], [_cut(f"{where}: cannot list the protocols folder ({exc.strerror}): check it")]
    found: list[HangingProtocol] = []
    lines: list[str] = []
    for file_name in names[:MAX_FILES]:
        try:
            text = read_file(directory / file_name)
            protocols, problems = parse_text(text, file_name)
        except Bad as exc:
            protocols, problems = [], [_line(file_name, str(exc))]
        found.extend(protocols)
        lines.extend(problems)
    if len(names) > MAX_FILES:
        skipped = ", ".join(names[MAX_FILES : MAX_FILES + 3])
        lines.append(
            _line(skipped, f"skipped: only the first {MAX_FILES} protocol files are read; merge")
        )
    return found, lines


def read_file(path: Path) -> str:
    """The text of a protocol file, or :class:`Bad` saying why it cannot be used."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise Bad(f"cannot be opened ({exc.strerror}): check its permissions") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Bad("is not a regular file: remove it from the protocols folder")
        if info.st_size > MAX_FILE_BYTES:
            raise Bad(f"is larger than {MAX_FILE_BYTES // 1024} KiB: split it into files")
        data = os.read(fd, MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise Bad(f"cannot be read ({exc.strerror}): check it") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise Bad(f"is larger than {MAX_FILE_BYTES // 1024} KiB: split it into files")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Bad(f"is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None


def parse_text(text: str, source: str) -> tuple[list[HangingProtocol], list[str]]:
    """The protocols of one file's ``text`` and a line per protocol skipped; a file that
    cannot be used at all gives no protocol and one line. Never raises."""
    try:
        table = _toml(text)
        items = _protocol_list(table)
    except Bad as exc:
        return [], [_line(source, str(exc))]
    found: list[HangingProtocol] = []
    lines: list[str] = []
    for number, item in enumerate(items[:MAX_PROTOCOLS], start=1):
        title = _title(item, number)
        try:
            found.append(_protocol(item, source, number))
        except Bad as exc:
            lines.append(_line(source, f"protocol {title} skipped: {exc}"))
        except Exception as exc:  # a defect here must still cost one protocol, not the app
            problem = f"protocol {title} skipped ({type(exc).__name__}): report this"
            lines.append(_line(source, problem))
    if len(items) > MAX_PROTOCOLS:
        more = len(items) - MAX_PROTOCOLS
        lines.append(
            _line(source, f"{more} protocols after the first {MAX_PROTOCOLS} skipped: split it")
        )
    return found, lines


def _toml(text: str) -> dict[str, Any]:
    """``text`` parsed, after the checks that keep tomllib fast and shallow."""
    measured = shape(text)
    if measured.dots > MAX_KEY_DOTS:
        raise Bad(
            f"line {measured.dots_line} has more than {MAX_KEY_DOTS} dots outside quotes"
            " (a key of that many parts?): fix that line"
        )
    if measured.depth > MAX_NESTING:
        raise Bad(
            f"line {measured.depth_line} nests brackets or braces more than {MAX_NESTING}"
            " deep: fix that line"
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Bad(f"is not valid TOML ({exc}): fix it") from None
    except RecursionError:
        raise Bad("nests tables too deeply: fix it") from None
    except ValueError as exc:  # tomllib's own checks of values (dates and the like)
        raise Bad(f"is not valid TOML ({exc}): fix it") from None


def _protocol_list(table: dict[str, Any]) -> list[Any]:
    """The file's ``[[protocol]]`` tables."""
    unknown = sorted(set(table) - _TOP_KEYS)
    if unknown:
        key = unknown[0]
        raise Bad(f"unknown key {key!r} at the top{did_you_mean(key, _TOP_KEYS)}: fix it")
    items = table.get("protocol")
    if isinstance(items, dict):
        raise Bad("write [[protocol]] (two brackets: each protocol is one of a list)")
    if not isinstance(items, list) or not items:
        raise Bad("holds no [[protocol]] table: see 'Hanging protocols' in the README")
    return items


def _title(item: object, number: int) -> str:
    """How a skip line names protocol ``number``: its number and, when it has one, name."""
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        try:
            return f"{number} ({rules.name(item['name'], '')!r})"
        except Bad:
            pass
    return str(number)


def _protocol(item: object, source: str, number: int) -> HangingProtocol:
    """One ``[[protocol]]`` table checked."""
    table = _table(item, "protocol", _PROTOCOL_KEYS)
    match = _table(table.get("match", {}), "match", _MATCH_KEYS)
    viewports = _viewports(table.get("viewport", []))
    grid = table.get("grid")
    if grid is None:
        grid = rules.grid_for(len(viewports))
    elif not isinstance(grid, str) or grid.strip().lower() not in GRIDS:
        shown = grid[:20] if isinstance(grid, str) else rules.kind(grid)
        raise Bad(f"grid {shown!r} is not one of {', '.join(GRIDS)}")
    grid = grid.strip().lower()
    protocol = HangingProtocol(
        name=rules.name(table.get("name"), f"{Path(source).stem} {number}"),
        source=source,
        grid=grid,
        viewports=viewports or (ViewportRule(),),
        priority=rules.priority(table.get("priority")),
        modalities=rules.modalities(match.get("modality", [])),
        body_part=rules.regex(match.get("body_part", ""), "match.body_part"),
        description=rules.regex(match.get("description", ""), "match.description"),
    )
    if len(viewports) > protocol.cells:
        raise Bad(
            f"grid {grid} has {protocol.cells} viewports but {len(viewports)} are listed:"
            " choose a larger grid or remove some"
        )
    return protocol


def _viewports(value: object) -> tuple[ViewportRule, ...]:
    """The ``[[protocol.viewport]]`` tables checked."""
    if isinstance(value, dict):
        raise Bad("write [[protocol.viewport]] (two brackets: one per viewport)")
    if not isinstance(value, list):
        raise Bad(f"viewport must be a list of tables, not {rules.kind(value)}")
    if len(value) > MAX_VIEWPORTS:
        raise Bad(f"more than {MAX_VIEWPORTS} viewports (2x2 is the largest grid)")
    return tuple(_viewport(item, n) for n, item in enumerate(value, start=1))


def _viewport(item: object, number: int) -> ViewportRule:
    """One ``[[protocol.viewport]]`` table checked."""
    where = f"viewport {number}"
    table = _table(item, where, _VIEWPORT_KEYS)
    study = table.get("study", "current")
    if not isinstance(study, str) or study.strip().lower() not in STUDIES:
        raise Bad(f'{where}: study must be "current" or "prior"')
    mode = table.get("modality")
    chosen = table.get("preset")
    return ViewportRule(
        study=study.strip().lower(),
        series=rules.regex(table.get("series", ""), f"{where}: series"),
        modality=None if mode is None else rules.modality(mode, f"{where}: modality"),
        preset=None if chosen is None else rules.preset(chosen),
    )


def _table(value: object, where: str, known: frozenset[str]) -> dict[str, Any]:
    """``value`` as a table with only ``known`` keys, or :class:`Bad`."""
    if not isinstance(value, dict):
        raise Bad(f"{where} must be a table, not {rules.kind(value)}")
    unknown = sorted(set(value) - known)
    if unknown:
        key = unknown[0][:40]
        raise Bad(f"unknown key {key!r} in {where}{did_you_mean(key, known)}: fix it")
    return value


def _line(source: str, problem: str) -> str:
    """One skip line: the file's name and the problem, safe for a terminal or a log."""
    return _cut(clean(f"{source}: {problem}"))


def _cut(text: str) -> str:
    """``text`` at most :data:`MAX_LINE` characters."""
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"
