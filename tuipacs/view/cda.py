"""The readable text of an Encapsulated CDA document (HL7 Clinical Document Architecture):
tags stripped, one line per paragraph, title, list item or table row, every line cleaned.

The XML is untrusted, so it is parsed with the precautions of defusedxml without the
dependency: a document with a DOCTYPE (the only place entities and external references can be
declared) is refused before parsing, so no entity is ever expanded and nothing is fetched;
the size is bounded (:data:`MAX_XML`), and the walk over elements is iterative (no recursion
on deep nesting) and stops after :data:`MAX_LINES` lines. CDA documents carry no DOCTYPE.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree import ElementTree

from tuipacs.safe_text import clean

MAX_XML = 16 * 1024 * 1024
"""Bytes of XML parsed at most."""
MAX_LINES = 20_000
"""Lines of text produced at most."""
BLOCKS = frozenset(
    {"title", "paragraph", "p", "item", "tr", "br", "content", "caption", "section",
     "component", "th", "td", "list", "table", "text", "code", "name", "effectiveTime"}
)  # fmt: skip
"""Elements whose text starts a new line."""


class CdaError(ValueError):
    """The document cannot be shown as text (one line)."""


def _local(tag: object) -> str:
    """An element's name without its namespace (``{urn:hl7-org:v3}title`` -> ``title``)."""
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1]


def _pieces(root: ElementTree.Element) -> Iterator[tuple[bool, str]]:
    """(starts a line, text) in document order, iteratively."""
    stack: list[tuple[ElementTree.Element, bool]] = [(root, False)]
    while stack:
        element, closing = stack.pop()
        if closing:
            if element.tail:
                yield False, element.tail
            continue
        block = _local(element.tag) in BLOCKS
        yield block, element.text or ""
        stack.append((element, True))
        stack.extend((child, False) for child in reversed(list(element)))


def cda_text(data: bytes) -> str:
    """The text of a CDA document, one cleaned line per block; CdaError when it cannot be
    read safely (too large, a DOCTYPE, not XML)."""
    if len(data) > MAX_XML:
        raise CdaError(f"the CDA document is {len(data)} bytes, more than {MAX_XML} shown")
    head = data[:4096].lower()
    if b"<!doctype" in data.lower() or b"<!entity" in head:
        raise CdaError("the CDA document declares a DOCTYPE or entities: not shown (unsafe XML)")
    try:
        root = ElementTree.fromstring(data.rstrip(b"\0"))
    except ElementTree.ParseError as exc:
        raise CdaError(f"the CDA document is not well-formed XML ({exc})") from None
    lines: list[str] = []
    current = ""
    for block, text in _pieces(root):
        if block and current.strip():
            lines.append(current)
            current = ""
        current += " " + re.sub(r"\s+", " ", text)
        if len(lines) >= MAX_LINES:
            lines.append("(text cut)")
            break
    if current.strip():
        lines.append(current)
    return "\n".join(clean(line.strip()) for line in lines if line.strip())
