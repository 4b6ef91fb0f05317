"""STOW-RS: ``tuipacs send`` to a DICOMweb node, files as stored, a batch per request.

Each request carries up to :data:`BATCH_FILES` files (at most :data:`BATCH_BYTES`) as a
``multipart/related; type="application/dicom"`` body streamed from the files with its
length declared (no chunked upload, which some servers refuse). The answer's
ReferencedSOPSequence names what was stored; anything else of the batch failed, with the
FailureReason of the FailedSOPSequence when the server gives one. Progress is reported per
file as its bytes go out; a cancel stops between batches.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuipacs.dicomweb.http import JSON_TYPE, WebError, WebSession, read_json
from tuipacs.remote.results import SendResult

BATCH_FILES = 64
BATCH_BYTES = 256 * 1024 * 1024
_READ = 1024 * 1024
_REFERENCED, _FAILED, _UID, _REASON = "00081199", "00081198", "00081155", "00081197"


@dataclass(frozen=True)
class _File:
    path: Path
    uid: str
    size: int


def _scan(paths: Sequence[Path], result: SendResult) -> list[_File]:
    """The SOP instance UID and size of each Part-10 file; others skipped with a line."""
    import pydicom

    files = []
    for path in paths:
        try:
            meta = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[]).file_meta
            uid = str(meta.MediaStorageSOPInstanceUID)
            files.append(_File(path, uid, path.stat().st_size))
        except Exception as exc:  # noqa: BLE001 - every unreadable file is reported, not raised
            result.skipped += 1
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            result.errors.append((str(path), f"{path.name}: not a DICOM Part-10 file ({reason})"))
    return files


def _batches(files: list[_File]) -> Iterator[list[_File]]:
    """The files in request-sized batches."""
    batch: list[_File] = []
    size = 0
    for item in files:
        if batch and (len(batch) >= BATCH_FILES or size + item.size > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.size
    if batch:
        yield batch


def send(
    session: WebSession,
    paths: Sequence[Path],
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> SendResult:
    """Store ``paths`` on the node; WebError when the first request fails as a whole
    (nothing was sent), else the failures counted in the result."""
    start = time.perf_counter()
    result = SendResult()
    files = _scan(paths, result)
    done = 0
    for batch in _batches(files):
        if cancel is not None and cancel.is_set():
            break
        done_before = done

        def sent_one(count: int, base: int = done_before) -> None:
            if progress is not None:
                progress(base + count, len(files))

        try:
            answer = _post(session, batch, sent_one)
        except WebError as exc:
            if result.sent == 0 and result.failed == 0:
                raise
            result.failed += len(batch)
            result.errors.extend((str(f.path), str(exc)) for f in batch[:5])
        else:
            _count(session, batch, answer, result)
        done += len(batch)
    result.seconds = time.perf_counter() - start
    return result


def _post(session: WebSession, batch: list[_File], sent_one: Callable[[int], None]) -> Any:
    """One STOW-RS request; the parsed answer (None when it had no body)."""
    boundary = f"tuipacs-{uuid.uuid4().hex}"
    heads = [
        f"--{boundary}\r\nContent-Type: application/dicom\r\nContent-Length: {f.size}\r\n\r\n"
        .encode("ascii")
        for f in batch
    ]
    tail = f"--{boundary}--\r\n".encode("ascii")
    length = sum(len(h) + f.size + 2 for h, f in zip(heads, batch, strict=True)) + len(tail)

    def body() -> Iterator[bytes]:
        for number, (head, item) in enumerate(zip(heads, batch, strict=True), 1):
            yield head
            sent = 0
            with item.path.open("rb") as handle:
                while sent < item.size:
                    chunk = handle.read(min(_READ, item.size - sent))
                    if not chunk:
                        raise WebError(f"{item.path}: the file shrank while it was being sent")
                    sent += len(chunk)
                    yield chunk
            yield b"\r\n"
            sent_one(number)
        yield tail

    headers = {
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Content-Length": str(length),
        "Accept": JSON_TYPE,
    }
    response = session.request(
        "POST", "/studies", headers=headers, body=body(), what="the store (STOW-RS)",
        accept=(400, 409),
    )  # fmt: skip
    status = response.status
    answer = read_json(session.node, response, "the store (STOW-RS)")
    if status in (400, 409) and not isinstance(answer, dict):
        raise WebError(
            f"{session.node.url}: the store (STOW-RS) answered HTTP {status}: the server "
            "refused every file"
        )
    return answer


def _count(session: WebSession, batch: list[_File], answer: Any, result: SendResult) -> None:
    """Count what the answer says was stored and failed (absent from both: failed)."""
    stored = _uids(answer, _REFERENCED)
    failed = {uid: reason for uid, reason in _reasons(answer).items()}
    for item in batch:
        result.bytes += item.size if item.uid in stored else 0
        if item.uid in stored and item.uid not in failed:
            result.sent += 1
            continue
        result.failed += 1
        reason = failed.get(item.uid)
        why = f"reason 0x{reason:04X}" if reason is not None else "not in the stored list"
        result.errors.append((str(item.path), f"{item.path.name}: the node refused it ({why})"))


def _items(answer: Any, tag: str) -> list[dict[str, Any]]:
    """The items of sequence ``tag`` of a STOW answer (empty for any other shape)."""
    if not isinstance(answer, dict):
        return []
    element = answer.get(tag)
    values = element.get("Value") if isinstance(element, dict) else None
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def _first(item: dict[str, Any], tag: str) -> Any:
    """The first value of element ``tag`` of a sequence item (None if absent)."""
    element = item.get(tag)
    values = element.get("Value") if isinstance(element, dict) else None
    return values[0] if isinstance(values, list) and values else None


def _uids(answer: Any, tag: str) -> set[str]:
    """The ReferencedSOPInstanceUIDs of sequence ``tag``."""
    return {u for u in (_first(i, _UID) for i in _items(answer, tag)) if isinstance(u, str)}


def _reasons(answer: Any) -> dict[str, int | None]:
    """Failed instance UID -> FailureReason (None when not a number)."""
    found: dict[str, int | None] = {}
    for item in _items(answer, _FAILED):
        uid, reason = _first(item, _UID), _first(item, _REASON)
        if isinstance(uid, str):
            ok = isinstance(reason, int) and not isinstance(reason, bool)
            found[uid] = reason if ok and 0 <= reason <= 0xFFFF else None
    return found

