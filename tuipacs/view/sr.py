"""Structured Reports as a tree of content items (pure: no Textual, no terminal).

Any SR (Basic Text, Enhanced, Comprehensive, Comprehensive 3D, Key Object Selection, TID 1500
measurement reports, ...) is read the same way: the document's Content Sequence, item by item,
with its Relationship Type, Value Type, Concept Name and value (text, code, number with units,
date and time, person name, UID, image and composite references with their frames, spatial and
temporal coordinates, waveforms). Items included by reference (Referenced Content Item
Identifier) are shown as a reference ("see 1.2.3"), never followed, so a reference loop costs
nothing.

Hostile documents are normal input: the walk is iterative (no recursion), stops at
:data:`MAX_DEPTH` levels and :data:`MAX_NODES` items with a note saying so, an unreadable item
becomes a node that says so, and every string is cleaned (:func:`tuipacs.safe_text.clean`)
and cut to :data:`VALUE_WIDTH` cells.

Why not highdicom.sr: its parser (``highdicom.sr.ContentSequence.from_sequence`` and the
template classes) checks documents against the templates and refuses what does not conform,
while a reader must show any SR, broken ones included, as far as it can be read; the generic
walk below is short, and highdicom's import (it pulls in its whole object model) would double
the time to open a report. The tests use highdicom to *make* a TID 1500 report.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID

from tuipacs.safe_text import clean
from tuipacs.view import format as fmt

SR_CLASS_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
"""SOP Class UIDs of every Structured Report (and Key Object Selection) storage class."""
MAX_DEPTH = 64
"""Content items nested deeper than this are not read (one note says so)."""
MAX_NODES = 100_000
"""Content items read at most (one note says the rest was left out)."""
VALUE_WIDTH = 200
"""Cells of one value at most (a long text is cut with an ellipsis)."""
MAX_FRAMES_SHOWN = 16
"""Referenced frame numbers listed at most for one reference."""


def is_sr(ds: Dataset) -> bool:
    """Is ``ds`` a Structured Report (by its SOP Class, else by its Modality)?"""
    sop = str(ds.get("SOPClassUID", "") or "")
    if sop.startswith(SR_CLASS_PREFIX):
        return True
    return str(ds.get("Modality", "") or "").strip().upper() == "SR"


def _text(value: Any, width: int = VALUE_WIDTH) -> str:
    """A value as one cleaned, clipped line ('' for None)."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        value = "\\".join(str(v) for v in value)
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ").strip()
    return fmt.clip(clean(text), width)


def _first(ds: Dataset, keyword: str) -> Dataset | None:
    """The first item of sequence ``keyword`` of ``ds``, None when absent or empty."""
    seq = ds.get(keyword)
    if seq is None:
        return None
    try:
        return seq[0] if len(seq) else None
    except (TypeError, IndexError):
        return None


def code_meaning(item: Dataset | None) -> str:
    """A code's meaning: CodeMeaning, else ``scheme:value`` ('' when there is no code)."""
    if item is None:
        return ""
    meaning = _text(item.get("CodeMeaning"))
    if meaning:
        return meaning
    value = _text(item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue"))
    scheme = _text(item.get("CodingSchemeDesignator"))
    return f"{scheme}:{value}" if scheme and value else value


def unit_text(item: Dataset | None) -> str:
    """A unit as it is written after a number: the UCUM code (``mm``), else its meaning."""
    if item is None:
        return ""
    scheme = _text(item.get("CodingSchemeDesignator")).upper()
    value = _text(item.get("CodeValue"))
    if scheme == "UCUM" and value and value != "1":
        return value
    return "" if scheme == "UCUM" and value == "1" else code_meaning(item)


@dataclass(frozen=True)
class ImageReference:
    """An image (or other object) a content item refers to: its SOP Instance and frames."""

    sop_class_uid: str
    sop_uid: str
    frames: tuple[int, ...] = ()
    """Referenced Frame Numbers (1-based, as in the file); () for all frames."""

    def text(self) -> str:
        """``CT Image Storage 1.2.3 (frames 5, 2)``, cleaned."""
        name = self.sop_class_uid
        try:
            known = UID(self.sop_class_uid).name
            name = known if known and known != self.sop_class_uid else name
        except Exception:  # noqa: BLE001 - an odd UID is shown as it is
            pass
        text = f"{name} {self.sop_uid}".strip()
        if self.frames:
            shown = ", ".join(str(f) for f in self.frames[:MAX_FRAMES_SHOWN])
            more = ", …" if len(self.frames) > MAX_FRAMES_SHOWN else ""
            word = "frame" if len(self.frames) == 1 else "frames"
            text += f" ({word} {shown}{more})"
        return _text(text)


def _frames(value: Any) -> tuple[int, ...]:
    """Referenced Frame Number(s) as positive ints (malformed ones dropped)."""
    if value is None or value == "":
        return ()
    values = value if isinstance(value, list | tuple) or hasattr(value, "__iter__") else [value]
    if isinstance(values, str):
        values = values.split("\\")
    found: list[int] = []
    for part in values:
        try:
            number = int(str(part).strip())
        except ValueError:
            continue
        if number >= 1:
            found.append(number)
        if len(found) > 10_000:
            break
    return tuple(found)


def references_of(item: Dataset) -> list[ImageReference]:
    """The objects of an item's Referenced SOP Sequence (first level only)."""
    seq = item.get("ReferencedSOPSequence")
    if not seq:
        return []
    found = []
    for ref in list(seq)[:64]:
        sop_uid = _text(ref.get("ReferencedSOPInstanceUID"), 64)
        if sop_uid:
            found.append(
                ImageReference(
                    _text(ref.get("ReferencedSOPClassUID"), 64),
                    sop_uid,
                    _frames(ref.get("ReferencedFrameNumber")),
                )
            )
    return found


@dataclass
class SrNode:
    """One content item: relationship, value type, concept name and value as text."""

    relationship: str
    value_type: str
    concept: str
    value: str = ""
    identifier: str = ""
    """Its position in the tree as by-reference relationships name it (``1.2.3``)."""
    references: list[ImageReference] = field(default_factory=list)
    """Images it shows (IMAGE, COMPOSITE, WAVEFORM) or a SCOORD is drawn on."""
    code: str = ""
    """The meaning of a CODE item's value."""
    unit: str = ""
    """The meaning of a NUM item's unit (the value shows its UCUM code)."""
    number: str = ""
    """A NUM item's Numeric Value as written in the file."""
    graphic_type: str = ""
    """POINT, POLYLINE, CIRCLE, ELLIPSE, ... of a SCOORD / SCOORD3D item."""
    points: tuple[float, ...] = ()
    """Graphic Data of a SCOORD item (column, row pairs), at most :data:`MAX_POINTS` values."""
    note: bool = False
    """A note of the reader (a limit reached, an unreadable item), not content."""
    children: list[SrNode] = field(default_factory=list)

    def text(self) -> str:
        """The node as one line: ``Concept: value`` (with the relationship in front)."""
        head = self.concept or (self.value_type.title() if self.value_type else "")
        if self.value:
            head = f"{head}: {self.value}" if head else self.value
        return head

    def matches(self, words: list[str]) -> bool:
        """Does the node contain every (folded) search word, in any of its texts?"""
        refs = " ".join(ref.text() for ref in self.references)
        text = fmt.fold(
            f"{self.relationship} {self.value_type} {self.concept} {self.value} {self.unit} "
            f"{self.code} {refs}"
        )
        return all(word in text for word in words)

    def walk(self) -> Iterator[SrNode]:
        """This node and every node below it, in reading order (iterative)."""
        stack: list[SrNode] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


MAX_POINTS = 2 * 4096
"""Graphic Data values kept for one SCOORD (the rest is counted, not kept)."""


@dataclass
class SrDocument:
    """A Structured Report: its header facts and the content tree under the title."""

    title: str
    completion: str = ""
    verification: str = ""
    observers: list[str] = field(default_factory=list)
    date: str = ""
    root: SrNode = field(default_factory=lambda: SrNode("", "CONTAINER", ""))
    count: int = 0
    """Content items read (notes not counted)."""
    limited: str = ""
    """One line when a limit was reached ('' when the whole tree was read)."""

    def header_lines(self) -> list[str]:
        """Title, flags, observers and date as short lines (cleaned)."""
        flags = "  ".join(
            part
            for part in (
                f"Completion: {self.completion}" if self.completion else "",
                f"Verification: {self.verification}" if self.verification else "",
            )
            if part
        )
        lines = [self.title or "(untitled report)", flags]
        if self.observers:
            lines.append("Observer: " + "; ".join(self.observers))
        if self.date:
            lines.append(f"Date: {self.date}")
        return [line for line in lines if line]

    def nodes(self) -> Iterator[SrNode]:
        """Every node below the title, in reading order."""
        walker = self.root.walk()
        next(walker)
        yield from walker


def dicom_datetime(text: str) -> str:
    """``20240115143015.5+0100`` to ``2024-01-15 14:30:15``; anything else unchanged."""
    digits = text.split(".")[0].split("+")[0].split("-")[0]
    if not (len(digits) >= 8 and digits.isdigit()):
        return text
    day = fmt.dicom_date(digits[:8])
    clock = ":".join(digits[i : i + 2] for i in range(8, min(len(digits), 14), 2))
    return f"{day} {clock}".strip()


def _value_of(item: Dataset, value_type: str, node: SrNode) -> None:
    """Fill ``node``'s value from ``item`` according to ``value_type``."""
    if value_type == "TEXT":
        node.value = _text(item.get("TextValue"))
    elif value_type == "CODE":
        node.code = node.value = code_meaning(_first(item, "ConceptCodeSequence"))
    elif value_type == "NUM":
        _num(item, node)
    elif value_type == "DATE":
        node.value = fmt.dicom_date(_text(item.get("Date")))
    elif value_type == "TIME":
        time = _text(item.get("Time"), 40)
        shown = dicom_datetime("00000000" + time)
        node.value = shown[11:] if shown.startswith("0000-00-00 ") else time
    elif value_type == "DATETIME":
        node.value = dicom_datetime(_text(item.get("DateTime")))
    elif value_type == "PNAME":
        node.value = fmt.person_name(_text(item.get("PersonName")))
    elif value_type == "UIDREF":
        node.value = _text(item.get("UID"))
    elif value_type in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        node.references = references_of(item)
        node.value = "; ".join(ref.text() for ref in node.references) or "(no reference)"
    elif value_type in ("SCOORD", "SCOORD3D"):
        _scoord(item, value_type, node)
    elif value_type == "TCOORD":
        kind = _text(item.get("TemporalRangeType"))
        for keyword in ("ReferencedSamplePositions", "ReferencedTimeOffsets", "ReferencedDateTime"):
            if keyword in item:
                node.value = f"{kind} {_text(item.get(keyword), 80)}".strip()
                break
        else:
            node.value = kind
    elif value_type == "CONTAINER":
        node.value = ""
    else:
        node.value = _text(item.get("TextValue"))


def _num(item: Dataset, node: SrNode) -> None:
    """A NUM item: its number and unit, or why there is no number."""
    measured = _first(item, "MeasuredValueSequence")
    if measured is None:
        qualifier = code_meaning(_first(item, "NumericValueQualifierCodeSequence"))
        node.value = f"(no value: {qualifier})" if qualifier else "(no value)"
        return
    node.number = _text(measured.get("NumericValue"), 40)
    units = _first(measured, "MeasurementUnitsCodeSequence")
    node.unit = code_meaning(units)
    node.value = f"{node.number} {unit_text(units)}".strip()


def _scoord(item: Dataset, value_type: str, node: SrNode) -> None:
    """A SCOORD / SCOORD3D item: graphic type and points (kept for drawing, bounded)."""
    node.graphic_type = _text(item.get("GraphicType"), 20).upper()
    data = item.get("GraphicData")
    values: list[float] = []
    count = 0
    if data is not None:
        try:
            count = len(data)
            values = [float(v) for v in list(data)[:MAX_POINTS]]
        except (TypeError, ValueError):
            values, count = [], 0
    node.points = tuple(values)
    size = 3 if value_type == "SCOORD3D" else 2
    shown = ", ".join(fmt.number(v, 2) for v in values[: 2 * size])
    more = ", …" if count > 2 * size else ""
    node.value = f"{node.graphic_type} ({count // size} points: {shown}{more})"
    if value_type == "SCOORD3D":
        frame_of_reference = _text(item.get("ReferencedFrameOfReferenceUID"), 64)
        if frame_of_reference:
            node.value += f" in {frame_of_reference}"


def content_node(item: Dataset, identifier: str) -> SrNode:
    """One content item as a node without its children; never raises."""
    try:
        relationship = _text(item.get("RelationshipType"), 40).upper()
        reference = item.get("ReferencedContentItemIdentifier")
        if reference is not None and "ValueType" not in item:
            target = ".".join(_text(v, 12) for v in list(_frames(reference))[:MAX_DEPTH])
            return SrNode(relationship, "", "", f"(see item {target})", identifier)
        value_type = _text(item.get("ValueType"), 20).upper()
        concept = code_meaning(_first(item, "ConceptNameCodeSequence"))
        node = SrNode(relationship, value_type, concept, identifier=identifier)
        _value_of(item, value_type, node)
        return node
    except Exception as exc:  # noqa: BLE001 - one broken item does not hide the others
        return SrNode("", "", "(unreadable item)", _text(exc, 120), identifier, note=True)


def _children(item: Dataset) -> Sequence[Dataset]:
    """The Content Sequence of ``item`` (empty when absent or unreadable)."""
    try:
        seq = item.get("ContentSequence")
        return list(seq) if seq else []
    except Exception:  # noqa: BLE001 - an unreadable sequence is no children
        return []


def _observers(ds: Dataset) -> list[str]:
    """Verifying observers (name, organisation, when), else the observer context names."""
    found: list[str] = []
    for item in list(ds.get("VerifyingObserverSequence") or [])[:8]:
        name = fmt.person_name(_text(item.get("VerifyingObserverName"), 80))
        when = dicom_datetime(_text(item.get("VerificationDateTime"), 30))
        found.append(f"{name} ({when})" if when else name)
    return [name for name in found if name]


def _date(ds: Dataset) -> str:
    """Content Date and Time (``2024-01-15 14:30``), '' when absent."""
    date = fmt.dicom_date(_text(ds.get("ContentDate"), 20))
    time = _text(ds.get("ContentTime"), 20)
    return f"{date} {fmt.dicom_time(time)}".strip() if time else date


def sr_document(ds: Dataset) -> SrDocument:
    """The report of ``ds`` as a tree (bounded, cleaned; never raises on bad content)."""
    doc = SrDocument(
        title=code_meaning(_first(ds, "ConceptNameCodeSequence")),
        completion=_text(ds.get("CompletionFlag"), 20),
        verification=_text(ds.get("VerificationFlag"), 20),
        observers=_observers(ds),
        date=_date(ds),
    )
    doc.root = SrNode("", _text(ds.get("ValueType"), 20).upper(), doc.title)
    # the walk: a stack of (items left, parent, depth, identifier prefix)
    stack: list[tuple[Iterator[tuple[int, Dataset]], SrNode, int, str]] = [
        (enumerate(_children(ds), 1), doc.root, 1, "1")
    ]
    deep = False
    while stack:
        items, parent, depth, prefix = stack[-1]
        step = next(items, None)
        if step is None:
            stack.pop()
            continue
        if doc.count >= MAX_NODES:
            doc.limited = f"only the first {MAX_NODES} content items are shown"
            break
        number, item = step
        node = content_node(item, f"{prefix}.{number}")
        parent.children.append(node)
        doc.count += 1
        below = _children(item) if node.value_type else []
        if not below:
            continue
        if depth >= MAX_DEPTH:
            deep = True
            node.children.append(
                SrNode("", "", "(deeper content not shown)", f"over {MAX_DEPTH} levels", note=True)
            )
            continue
        stack.append((enumerate(below, 1), node, depth + 1, node.identifier))
    if not doc.observers:  # unverified: the observer context of the document (TID 1002)
        doc.observers = [
            node.value
            for node in doc.root.children
            if node.value_type == "PNAME" and node.relationship == "HAS OBS CONTEXT"
        ][:8]
    if deep and not doc.limited:
        doc.limited = f"content nested deeper than {MAX_DEPTH} levels is not shown"
    if doc.limited:
        doc.root.children.append(SrNode("", "", "(report cut)", doc.limited, note=True))
    return doc


def scoord_image(node: SrNode) -> ImageReference | None:
    """The image a SCOORD is drawn on (its SELECTED FROM child), or an IMAGE node's own."""
    if node.references:
        return node.references[0]
    for child in node.children:
        if child.references:
            return child.references[0]
    return None
