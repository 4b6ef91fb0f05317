"""STOW-RS into the archive: a multipart/related body of application/dicom parts.

The body is read a MiB at a time through the client's streaming multipart reader
(:mod:`tuipacs.dicomweb.multipart`): each part goes to a staging file in the server's
private spool folder, and once complete takes the DIMSE store's path
(:meth:`tuipacs.server.backend.ArchiveBackend.store`: header check, identity rules, durable
in the inbox before the answer, quarantine for refusals). A part cut short, or a body that
breaks off, never reaches the archive. Sizes are bounded: the whole body by [serve]
http_max_body (413 before reading when Content-Length says more), each part by http_max_part.

The answer is the standard DICOM JSON: ReferencedSOPSequence for the instances kept (also
the same object sent again), FailedSOPSequence with a FailureReason for the others:
0xC000 not DICOM, 0xA700 out of resources, 0xC001 identity refusal (quarantined), 0x0111
another object with this SOP Instance UID is archived (quarantined), 0xA900 the instance is
not of the study in the URL. Status 200 when all were kept, 409 when none, 202 otherwise.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, BinaryIO

from tuipacs.dicom.scp_types import (
    STORE_CANNOT_UNDERSTAND,
    STORE_DUPLICATE,
    STORE_SUCCESS,
    ReceivedInstance,
)
from tuipacs.dicomweb.multipart import MultipartError, MultipartReader
from tuipacs.dicomweb.server.body import HttpError
from tuipacs.dicomweb.server.httpd import Handler
from tuipacs.server.backend import STORE_IDENTITY_REFUSED, STORE_SOP_CONFLICT, ArchiveBackend
from tuipacs.server.records import fast_record
from tuipacs.store.identity import shown
from tuipacs.store.records import BadDicomError, NotDicomError

LOG = logging.getLogger("tuipacs.server.http")

DUPLICATE_SOP = 0x0111
#: Most parts in one request (the answer lists each).
MAX_PARTS = 100_000
_PARAM_RE = re.compile(r';\s*([A-Za-z-]+)\s*=\s*("[^"]*"|[^;\s]*)')
_BOUNDARY_RE = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,199}[0-9A-Za-z'()+_,\-./:=?]$")
STUDY_MISMATCH = 0xA900


class _Staging:
    """The reader's sink: each part to a staging file, stored when complete."""

    def __init__(self, folder: Path, store: _Store) -> None:
        self.folder = folder
        self.store = store
        self.count = 0

    def open(self, headers: dict[str, str]) -> BinaryIO:
        if self.count >= MAX_PARTS:
            raise MultipartError(f"more than {MAX_PARTS} instances in one request: split it")
        self.count += 1
        path = self.folder / f"stow-{os.getpid()}-{id(self)}-{self.count}.part"
        return path.open("wb")

    def done(self, handle: BinaryIO, size: int) -> None:
        handle.close()
        self.store.one(Path(handle.name), size)

    def drop(self, handle: BinaryIO) -> None:
        handle.close()
        Path(handle.name).unlink(missing_ok=True)


class _Store:
    """Store the complete parts and collect the answer."""

    def __init__(self, backend: ArchiveBackend, study: str, caller: str, base_url: str) -> None:
        self.backend = backend
        self.study = study
        self.caller = caller
        self.base_url = base_url
        self.kept: list[dict[str, Any]] = []
        self.failed: list[dict[str, Any]] = []
        self.studies: set[str] = set()

    def one(self, path: Path, size: int) -> None:
        try:
            self._one(path, size)
        finally:
            path.unlink(missing_ok=True)  # the backend moved it away unless it failed

    def _one(self, path: Path, size: int) -> None:
        try:
            record = fast_record(path)
        except (NotDicomError, BadDicomError, OSError) as exc:
            LOG.warning("STOW-RS part refused: %s", str(exc)[:160])
            self.failed.append(_item("", "", STORE_CANNOT_UNDERSTAND))
            return
        if self.study and record.study_uid != self.study:
            LOG.warning("STOW-RS %s refused: not of the study in the URL", shown(record.sop_uid))
            self.failed.append(_item(record.sop_class_uid, record.sop_uid, STUDY_MISMATCH))
            return
        info = ReceivedInstance(
            record.sop_class_uid, record.sop_uid, record.transfer_syntax,
            record.study_uid, record.series_uid, size, calling_ae=self.caller,
        )  # fmt: skip
        status = self.backend.store(path, info)
        if status in (STORE_SUCCESS, STORE_DUPLICATE):
            item = _item(record.sop_class_uid, record.sop_uid)
            url = (f"{self.base_url}/studies/{record.study_uid}/series/{record.series_uid}"
                   f"/instances/{record.sop_uid}")  # fmt: skip
            item["00081190"] = {"vr": "UR", "Value": [url]}
            self.kept.append(item)
            self.studies.add(record.study_uid)
            return
        reason = DUPLICATE_SOP if status == STORE_SOP_CONFLICT else status
        if status == STORE_IDENTITY_REFUSED:
            reason = STORE_IDENTITY_REFUSED
        self.failed.append(_item(record.sop_class_uid, record.sop_uid, reason))

    def answer(self) -> tuple[int, dict[str, Any]]:
        """The HTTP status and DICOM JSON of the response."""
        data: dict[str, Any] = {}
        if len(self.studies) == 1:
            study = next(iter(self.studies))
            data["00081190"] = {"vr": "UR", "Value": [f"{self.base_url}/studies/{study}"]}
        if self.failed:
            data["00081198"] = {"vr": "SQ", "Value": self.failed}
        if self.kept:
            data["00081199"] = {"vr": "SQ", "Value": self.kept}
        status = 200 if not self.failed else 409 if not self.kept else 202
        return status, data


def _item(sop_class: str, sop_uid: str, reason: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "00081150": {"vr": "UI", "Value": [sop_class]} if sop_class else {"vr": "UI"},
        "00081155": {"vr": "UI", "Value": [sop_uid]} if sop_uid else {"vr": "UI"},
    }
    if reason is not None:
        item["00081197"] = {"vr": "US", "Value": [reason & 0xFFFF]}
    return item


def _boundary(content_type: str) -> str | None:
    """The boundary of a multipart/related Content-Type, None if there is none.

    RFC 2046 allows 70 characters; Orthanc sends 73, so up to 200 are taken here."""
    if content_type.split(";")[0].strip().lower() != "multipart/related":
        return None
    params = {k.lower(): v.strip('"') for k, v in _PARAM_RE.findall(content_type)}
    mark = params.get("boundary", "")
    return mark if _BOUNDARY_RE.match(mark) else None


def _check_part(headers: dict[str, str]) -> None:
    kind = headers.get("content-type", "application/dicom").split(";")[0].strip().lower()
    if kind != "application/dicom":
        raise MultipartError(f"a part is {kind[:60]!r}: this server takes application/dicom")


def store(handler: Handler, backend: ArchiveBackend, spool: Path, study: str,
          base_url: str) -> None:  # fmt: skip
    """Answer a STOW-RS request (see the module doc)."""
    content_type = handler.headers.get("Content-Type") or ""
    mark = _boundary(content_type)
    if mark is None:
        handler.close_connection = True
        raise HttpError(
            415, 'STOW-RS takes multipart/related; type="application/dicom" with a boundary'
        )
    kind = content_type.lower()
    if "type=" in kind and "application/dicom" not in kind.split("type=", 1)[1][:40]:
        handler.close_connection = True
        raise HttpError(415, 'this server takes type="application/dicom" parts only')
    settings = handler.server.settings
    caller = f"http:{handler.user or 'anonymous'}"[:64]
    work = _Store(backend, study, caller, base_url)
    sink = _Staging(spool, work)
    reader = MultipartReader(mark, sink, settings.max_part, _check_part)
    try:
        for chunk in handler.body(settings.max_body):
            reader.feed(chunk)
        reader.finish()
    except MultipartError as exc:
        reader.abort()
        handler.close_connection = True
        message = str(exc).replace("the answer", "the request").replace("answer's", "request's")
        done = f" ({len(work.kept)} instance(s) before it were stored)" if work.kept else ""
        raise HttpError(400, f"bad multipart body: {message}{done}") from None
    except BaseException:  # a bound, a timeout, a closed connection: drop the part
        reader.abort()
        raise
    status, data = work.answer()
    if not work.kept and not work.failed:
        raise HttpError(400, "the request holds no instances")
    handler.audit_fields = {"stored": len(work.kept), "failed": len(work.failed),
                            "study_uids": sorted(work.studies)[:100]}  # fmt: skip
    handler.send_json(status, data)
