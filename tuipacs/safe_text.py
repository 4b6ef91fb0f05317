"""Text from DICOM files and peers made safe for a terminal or a log (pure functions).

Every value that comes from a file or a peer is untrusted: a Patient Name of
``"\\x1b]52;c;cm0gLXJmIH4K\\x1b\\\\"`` written raw to a terminal puts ``rm -rf ~`` on the
clipboard, a newline in a UID forges a log line, and a right-to-left override makes
``1234`` read as ``4321``. :func:`clean` is the one sanitiser for all of them; call it where
text goes out (a table cell, an overlay line, a notification, a log record), never on what
is stored: the index and ``--json`` keep the exact values.

What is replaced, one :data:`PLACEHOLDER` (U+FFFD, shown as a question mark in a diamond)
per character, so the user sees that something was there:

- C0 controls (U+0000-U+001F: ESC, BEL, backspace, tab, CR, LF, ...), DEL (U+007F) and
  C1 controls (U+0080-U+009F: CSI, OSC, DCS, ST, NEL, ...);
- format characters (Unicode category Cf): the bidirectional embeddings, overrides and
  isolates (U+202A-U+202E, U+2066-U+2069), the directional marks, zero-width spaces, word
  joiners, the byte order mark, soft hyphens, interlinear annotations, tag characters
  (and U+2065, U+13439-U+1343F: reserved in Unicode 14, format characters since 15);
- line and paragraph separators (U+2028, U+2029) and lone surrogates (from undecodable
  bytes).

What is kept: every printable character, legitimate non-ASCII text (``Müller``, ``山田``,
``Ελένη``), DICOM's separators (``\\`` between values, ``^`` and ``=`` in person names),
spaces of every kind, private-use and unassigned code points (a terminal draws them as
one cell), combining marks and variation selectors (Japanese names use ideographic
variation sequences).

A judgement call: the zero-width joiner and non-joiner (U+200D, U+200C) are kept between
two letters or marks of scripts from Hebrew (U+0590) upwards, where they carry meaning
(Persian compound names, Indic conjuncts); anywhere else, in particular inside Latin
names and IDs, where they only make two different values look the same, they are
replaced like any other format character.

The common case costs one ``str.isprintable()`` call (C speed): a printable value is
returned as it is.
"""

from __future__ import annotations

import logging
import re
import unicodedata

#: What stands for each replaced character.
PLACEHOLDER = "\ufffd"

#: The format characters (Unicode category Cf) of Unicode 15, as regex class ranges; a unit
#: test checks that the running Python's Unicode database has no other.
_FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
#: Controls, line and paragraph separators, lone surrogates.
_CONTROL = "\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"

_UNSAFE = re.compile(f"[{_CONTROL}{_FORMAT}]")
#: What must not appear raw in a JSON document (JSON escapes C0 itself).
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f\u2028\u2029\ud800-\udfff{_FORMAT}]")

_JOINERS = "\u200c\u200d"
#: Scripts from here on may need the joiners between letters (Hebrew, Arabic, Indic, ...).
_JOINING_SCRIPTS = 0x0590


def _joining_letter(char: str) -> bool:
    """A letter or mark of a script where the zero-width (non-)joiner has a meaning."""
    return ord(char) >= _JOINING_SCRIPTS and unicodedata.category(char)[0] in "LM"


def _replace(match: re.Match[str]) -> str:
    char = match.group()
    if char in _JOINERS:
        text, start, end = match.string, match.start(), match.end()
        if 0 < start and end < len(text):
            if _joining_letter(text[start - 1]) and _joining_letter(text[end]):
                return char
    return PLACEHOLDER


def clean(text: str) -> str:
    """``text`` safe to show in a terminal or write to a log: every control, format
    character, line separator and lone surrogate replaced by :data:`PLACEHOLDER`.

    Printable text (accents, CJK, DICOM's ``\\`` and ``^``) is kept as it is; the result
    is always one line.
    """
    if text.isprintable():
        return text
    return _UNSAFE.sub(_replace, text)


def clean_block(text: str, indent: str = "  ") -> str:
    """Several lines (a traceback) made safe for a log: each line cleaned and indented.

    Lines are split at LF only, and each starts with ``indent``, so that a newline inside
    a value (an exception's message) cannot start a line that looks like a log record.
    """
    return "\n".join(indent + clean(line) for line in text.split("\n"))


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def escape_json(document: str) -> str:
    """A JSON document (from ``json.dumps(..., ensure_ascii=False)``) with every character
    that :func:`clean` would replace written as a ``\\uXXXX`` escape.

    The data are unchanged (any JSON reader decodes the same strings), but the text holds
    no raw C1 control, bidi override or lone surrogate (JSON already escapes C0 controls,
    and outside strings a JSON document is printable ASCII). As from any JSON encoder, a
    lone high surrogate right before a lone low one reads back as their pair's character.
    """
    if document.isascii():
        return document.replace("\x7f", "\\u007f")
    return _JSON_UNSAFE.sub(_json_escape, document)


# -- logging -----------------------------------------------------------------------------------

_TRACEBACKS = logging.Formatter()


def sanitise_record(record: logging.LogRecord) -> None:
    """Make ``record`` safe in place: its message (with its arguments merged) cleaned to
    one line, its traceback and stack cleaned line by line and indented (:func:`clean_block`).

    Runs once per record (a mark on the record), so several handlers may each apply it.
    """
    if getattr(record, "tuipacs_safe", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - wrong arguments must not hide the message
        message = f"{record.msg} (bad log arguments: {record.args!r})"
    record.msg, record.args = clean(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = _TRACEBACKS.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = clean_block(record.exc_text)
    if record.stack_info:
        record.stack_info = clean_block(record.stack_info)
    setattr(record, "tuipacs_safe", True)  # noqa: B010 - an attribute LogRecord lacks


class SafeLogFilter(logging.Filter):
    """A handler filter that sanitises every record (:func:`sanitise_record`) and passes it.

    On a handler, not a logger: a logger's filters do not see records from its children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Sanitise ``record`` in place; never drops it."""
        sanitise_record(record)
        return True


def protect_handler(handler: logging.Handler) -> None:
    """Add a :class:`SafeLogFilter` to ``handler`` (once)."""
    if not any(isinstance(f, SafeLogFilter) for f in handler.filters):
        handler.addFilter(SafeLogFilter())


def protect_logging() -> None:
    """Sanitise every record that the root logger's handlers (as they are now) or
    ``logging.lastResort`` (used when there is no handler) write."""
    for handler in logging.getLogger().handlers:
        protect_handler(handler)
    if logging.lastResort is not None:
        protect_handler(logging.lastResort)
