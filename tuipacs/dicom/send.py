"""C-STORE SCU: send files to a node as they are stored (no decode, no transcoding).

Files go by path through pynetdicom's send_c_store with chunked sending (set by
transport.configure), on either transport.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pynetdicom.presentation import PresentationContext, build_context
from pynetdicom.status import code_to_category

from tuipacs.dicom.net import association
from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.status import status_text

MAX_CONTEXTS = 128

SendProgress = Callable[[int, int], None]


@dataclass
class SendSummary:
    """What a send did; ``errors`` holds (file, one-line message) pairs."""

    sent: int = 0
    warnings: int = 0
    failed: int = 0
    skipped: int = 0
    bytes: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "sent": self.sent,
            "warnings": self.warnings,
            "failed": self.failed,
            "skipped": self.skipped,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "errors": [{"path": p, "error": m} for p, m in self.errors],
        }


@dataclass(frozen=True)
class _Item:
    path: Path
    sop_class: str
    syntax: str
    size: int


def _scan(paths: Sequence[Path], summary: SendSummary) -> list[_Item]:
    """Read the SOP class and transfer syntax of each file (file meta only)."""
    items = []
    for path in paths:
        try:
            meta = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[]).file_meta
            sop_class = str(meta.MediaStorageSOPClassUID)
            syntax = str(meta.TransferSyntaxUID)
            items.append(_Item(path, sop_class, syntax, path.stat().st_size))
        except Exception as exc:  # noqa: BLE001 - every unreadable file is reported, not raised
            summary.skipped += 1
            summary.errors.append((str(path), f"{path.name}: not a DICOM Part-10 file ({exc})"))
    return items


def _contexts(items: Sequence[_Item]) -> list[PresentationContext]:
    """One context per SOP class and transfer syntax of the files, each syntax on its own.

    Files go as stored (no transcoding), so every file needs a context in its own syntax.
    Offering Explicit and Implicit VR Little Endian together would let the peer pick one
    (pynetdicom picks Implicit) and leave the files in the other without a context.
    """
    syntaxes: dict[str, list[str]] = {}
    for item in items:
        offered = syntaxes.setdefault(item.sop_class, [])
        if item.syntax not in offered:
            offered.append(item.syntax)
    contexts = [
        build_context(sop_class, [syntax])
        for sop_class, offered in syntaxes.items()
        for syntax in offered
    ]
    return contexts[:MAX_CONTEXTS]


def send(
    node: Node,
    local: LocalAE,
    paths: Sequence[Path],
    *,
    progress: SendProgress | None = None,
    cancel: threading.Event | None = None,
) -> SendSummary:
    """Send ``paths`` to ``node`` over one association. Raises DicomNetError if it cannot
    associate; per-file failures are counted in the summary."""
    start = time.perf_counter()
    summary = SendSummary()
    items = _scan(paths, summary)
    if not items:
        summary.seconds = time.perf_counter() - start
        return summary
    with association(node, local, _contexts(items)) as assoc:
        accepted = {
            (str(c.abstract_syntax), str(c.transfer_syntax[0])) for c in assoc.accepted_contexts
        }
        for done, item in enumerate(items, 1):
            if cancel is not None and cancel.is_set():
                break
            if not assoc.is_established:
                summary.failed += len(items) - done + 1
                summary.errors.append((str(item.path), f"{node.name} aborted the association"))
                break
            _send_one(assoc, item, accepted, summary, done)
            if progress is not None:
                progress(done, len(items))
    summary.seconds = time.perf_counter() - start
    return summary


def _send_one(
    assoc: Any, item: _Item, accepted: set[tuple[str, str]], summary: SendSummary, msg_id: int
) -> None:
    if (item.sop_class, item.syntax) not in accepted:
        summary.failed += 1
        summary.errors.append(
            (
                str(item.path),
                f"{item.path.name}: the node accepts neither SOP class {item.sop_class} in "
                f"transfer syntax {item.syntax}; tuipacs sends files as stored (no transcoding)",
            )
        )
        return
    status = assoc.send_c_store(item.path, msg_id=msg_id % 65536)
    code = int(getattr(status, "Status", 0xFFFF)) if status else None
    if code is None:
        summary.failed += 1
        summary.errors.append((str(item.path), f"{item.path.name}: no response (aborted)"))
        return
    category = code_to_category(code)
    if category == "Success":
        summary.sent += 1
        summary.bytes += item.size
    elif category == "Warning":
        summary.sent += 1
        summary.warnings += 1
        summary.bytes += item.size
    else:
        summary.failed += 1
        summary.errors.append((str(item.path), f"{item.path.name}: refused, {status_text(code)}"))
