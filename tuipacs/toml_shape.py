"""A linear scan of TOML text for the shapes that make ``tomllib`` slow or deep (pure).

``tomllib`` takes time and memory quadratic in the number of parts of one dotted key: the
line ``a.a.a...a = 1`` with 16 000 parts (32 KB) costs 4 s and 1 GB, so a file of 256 KiB
can stall or kill the process that reads it. Arrays and inline tables nested a thousand
deep end in a ``RecursionError``. :func:`shape` measures both before ``tomllib`` sees the
text, in one pass that costs a few milliseconds for 256 KiB whatever the text holds: the
dots outside quoted strings and comments on each line (a key cannot span lines, so that
bounds its parts) and the deepest nesting of brackets and braces outside strings.

The scan knows TOML's four kinds of strings (basic with backslash escapes, literal, and
their multi-line forms) and comments. On text that is valid TOML up to some point it agrees
with ``tomllib`` up to that point, which is all a guard needs: ``tomllib`` stops at the
first error, and what comes after an unterminated string is counted as it comes.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_TOKEN = re.compile(r"\"\"\"|'''|[\"'#\n.\[\]{}]")
"""What changes the scan's state; everything else is skipped at C speed."""
_BASIC_BODY = re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*')
"""The inside of a one-line basic string (the unrolled loop: linear, no backtracking)."""
_MULTI_BASIC_BODY = re.compile(r'[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*', re.DOTALL)
"""The inside of a multi-line basic string, up to its closing triple quote."""


class Shape(NamedTuple):
    """The most dots outside strings on one line (and that 1-based line) and the deepest
    nesting of brackets and braces (and the line where it is first reached)."""

    dots: int
    dots_line: int
    depth: int
    depth_line: int


def shape(text: str) -> Shape:
    """Measure ``text`` (see the module docstring); linear in its length."""
    line = 1
    dots = depth = 0
    most_dots, dots_line, deepest, depth_line = 0, 0, 0, 0
    pos = 0
    while True:
        found = _TOKEN.search(text, pos)
        if found is None:
            break
        token = found.group()
        pos = found.end()
        if token == ".":
            dots += 1
            if dots > most_dots:
                most_dots, dots_line = dots, line
        elif token in "[{":
            depth += 1
            if depth > deepest:
                deepest, depth_line = depth, line
        elif token in "]}":
            depth = max(0, depth - 1)
        elif token == "\n":
            line += 1
            dots = 0
        elif token == "#":
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
        else:
            end = _string_end(text, token, pos)
            line += text.count("\n", pos, end)
            if text.count("\n", pos, end):
                dots = 0
            pos = end
    return Shape(most_dots, dots_line, deepest, depth_line)


def _string_end(text: str, quote: str, start: int) -> int:
    """Where the string opened by ``quote`` just before ``start`` ends (after its closing
    quote; at the newline or the end of the text when it is not closed)."""
    if quote == '"':
        found = _BASIC_BODY.match(text, start)
        end = found.end() if found else start
        return end + 1 if text.startswith('"', end) else end
    if quote == "'":
        end = len(text)
        for stop in (text.find("'", start), text.find("\n", start)):
            if 0 <= stop < end:
                end = stop
        return end + 1 if text.startswith("'", end) else end
    if quote == '"""':
        found = _MULTI_BASIC_BODY.match(text, start)
        end = found.end() if found else start
    else:
        end = text.find("'''", start)
        end = len(text) if end < 0 else end
    if end >= len(text):
        return len(text)
    end += 3
    for _ in range(2):  # up to two quotes of the content may touch the closing ones
        if text.startswith(quote[0], end):
            end += 1
    return end
