"""What the commands print: lines, tables, JSON and a progress bar.

Every printed value goes through :mod:`tuipacs.safe_text`: values from files and peers, file
names and error messages that quote them are untrusted, so no raw control or bidi character
reaches the terminal. ``--json`` prints the ``to_json()`` of a report (a dataclass), or of each
report of a list: no command assembles its own dicts.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from tuipacs import safe_text


class Report(Protocol):
    """What ``--json`` prints: a dataclass that knows its JSON form."""

    def to_json(self) -> Any:
        """The JSON-ready value (dicts, lists, strings, numbers, booleans, None)."""
        ...


def print_json(report: Report | Sequence[Report]) -> None:
    """A report's ``to_json()`` (or a list of them, for a list of reports) as JSON on stdout:
    exact values, with no raw control or bidi character."""
    if isinstance(report, Sequence):
        data = [item.to_json() for item in report]
    else:
        data = report.to_json()
    sys.stdout.write(safe_text.escape_json(json.dumps(data, indent=2, ensure_ascii=False)))
    sys.stdout.write("\n")


@dataclass(frozen=True)
class Failure:
    """What ``--json`` prints when a command fails: ``{"ok": false, "error": "..."}``."""

    error: str

    def to_json(self) -> dict[str, Any]:
        """The failure object."""
        return {"ok": False, "error": self.error}


_UID_RE = re.compile(r"\b1\.2\.840\.10008\.[0-9.]*[0-9]\b")
_FORCE_ADVICE = re.compile(
    r"\s*\(File is missing DICOM File Meta Information[^)]*\)|\s*Use force=True[^.]*\."
)


def tidy(message: str) -> str:
    """An error message for people: DICOM's standard UIDs (transfer syntaxes, SOP classes)
    named, pydicom's advice to read with ``force=True`` (not ours to give) left out."""
    message = _FORCE_ADVICE.sub("", message)
    if "1.2.840.10008." not in message:
        return message
    from pydicom.uid import UID

    def name(match: re.Match[str]) -> str:
        uid = UID(match.group())
        return uid.name if uid.is_valid and uid.name != str(uid) else match.group()

    return _UID_RE.sub(name, message)


def error_line(message: str, kind: str = "error") -> None:
    """``tuipacs: error: ...`` on stderr (one of several problems; the command goes on)."""
    say(f"tuipacs: {kind}: {tidy(message)}", err=True)


def say(text: str, err: bool = False) -> None:
    """Print one line (on stderr with ``err``), every control or bidi character in it
    replaced (:func:`tuipacs.safe_text.clean`): values from files and peers, file names
    and error messages that quote them are untrusted."""
    print(safe_text.clean(text), file=sys.stderr if err else sys.stdout)


def width(text: str) -> int:
    """Terminal columns of ``text`` (East Asian wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(rows: list[list[str]], headers: list[str]) -> None:
    """Print an aligned text table (each cell cleaned: :func:`tuipacs.safe_text.clean`)."""
    rows = [[safe_text.clean(str(c)) for c in row] for row in rows]
    widths = [width(h) for h in headers]
    for row in rows:
        widths = [max(w, width(c)) for w, c in zip(widths, row, strict=True)]
    for row in [headers, *rows]:
        cells = (c + " " * (w - width(c)) for c, w in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def count(n: int, noun: str, plural: str = "") -> str:
    """``1 study``, ``2 studies``, ``0 images``: a number and its noun, agreeing."""
    if n == 1:
        return f"1 {noun}"
    if not plural:
        consonant_y = noun.endswith("y") and noun[-2:-1] not in "aeiou"
        plural = noun[:-1] + "ies" if consonant_y else noun + "s"
    return f"{n} {plural}"


def human(size: float) -> str:
    """A byte count for people: ``512 B``, ``1.5 MB`` (powers of 1000)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    #: No bar at all (``--quiet``).
    quiet: ClassVar[bool] = False

    def __init__(self, label: str, enabled: bool | None = None) -> None:
        """A bar titled ``label``; ``enabled`` None: only if stderr is a terminal."""
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.enabled = self.enabled and not self.quiet
        self._last = -1
        self._open = False  # a line drawn and not ended yet

    def stop(self) -> None:
        """Draw no more (after Ctrl-C) and end a line left open."""
        if self.enabled and self._open:
            sys.stderr.write("\n")
            sys.stderr.flush()
        self.enabled = False
        self._open = False

    def __call__(self, done: int, total: int) -> None:
        """Draw ``done`` of ``total`` (again only when the percentage changed)."""
        if not self.enabled or total <= 0:
            return
        percent = done * 100 // total
        if percent == self._last and done != total:
            return
        self._last = percent
        bar_width = 30
        filled = bar_width * done // total
        bar = "#" * filled + "-" * (bar_width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {done}/{total} {percent:3d}%")
        self._open = done < total
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
