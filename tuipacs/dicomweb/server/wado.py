"""WADO-RS over the archive: instances as stored, metadata, bulk data.

Instances go out as ``multipart/related; type="application/dicom"``, each part the archived
file byte for byte (no transcoding), read a MiB at a time. The Accept header is honoured:
``transfer-syntax=*`` (or no transfer syntax, which this server takes to mean the same) gets
the files as stored; a named transfer syntax is served only when every selected file is in
it, else 406 says which syntax the files are in. Metadata is DICOM JSON read from each
file's header, with a BulkDataURI (``.../bulkdata/{tag}``) for pixel data and other binary
values over 1 KiB; a bulk data URI answers the element's value as stored.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset

from tuipacs import safe_text
from tuipacs.dicom.scp_types import StoredInstance
from tuipacs.dicomweb.server.body import READ_CHUNK, HttpError
from tuipacs.server import qr
from tuipacs.store.archive import Archive

LOG = logging.getLogger("tuipacs.server.http")

PIXEL_DATA = 0x7FE00010
_UNDEFINED = 0xFFFFFFFF
BULK_THRESHOLD = 1024


def select(archive: Archive, study: str, series: str = "", sop: str = "") -> list[StoredInstance]:
    """The archived instances of a study, series or instance; 404 when there are none."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "IMAGE" if sop else "SERIES" if series else "STUDY"
    ds.StudyInstanceUID = study
    if series:
        ds.SeriesInstanceUID = series
    if sop:
        ds.SOPInstanceUID = sop
    found = qr.instances_for(archive, "study", ds)
    if not found:
        what = "instance" if sop else "series" if series else "study"
        raise HttpError(404, f"no such {what} in the archive")
    return found


def media_ranges(headers: Iterable[str]) -> list[tuple[str, dict[str, str]]]:
    """The Accept header(s) as (media type, parameters), lower case; */* when absent."""
    out = []
    for header in headers:
        for item in header.split(","):
            fields = [f.strip() for f in item.split(";")]
            if not fields[0]:
                continue
            params = {}
            for field in fields[1:]:
                name, _, value = field.partition("=")
                params[name.strip().lower()] = value.strip().strip('"')
            out.append((fields[0].lower(), params))
    return out or [("*/*", {})]


def negotiate(ranges: list[tuple[str, dict[str, str]]], part_type: str,
              syntaxes: set[str]) -> None:  # fmt: skip
    """406 unless a range accepts multipart/related parts of ``part_type`` in the files'
    own transfer syntaxes."""
    for media, params in ranges:
        if media in ("*/*", "multipart/*"):
            return
        if media != "multipart/related":
            continue
        if params.get("type", part_type) not in (part_type, "*/*", "*"):
            continue
        wanted = params.get("transfer-syntax", "*")
        if wanted == "*" or syntaxes <= {wanted}:
            return
    shown = ", ".join(sorted(syntaxes)[:4])
    raise HttpError(
        406,
        f'this server sends {part_type} as stored (multipart/related; type="{part_type}"; '
        f"transfer-syntax=*): the files are in {shown}",
    )


def _file_chunks(handle: BinaryIO, left: int | None = None) -> Iterator[bytes]:
    while left is None or left > 0:
        data = handle.read(READ_CHUNK if left is None else min(READ_CHUNK, left))
        if not data:
            return
        if left is not None:
            left -= len(data)
        yield data


def instance_parts(found: list[StoredInstance], boundary: str) -> Iterator[bytes]:
    """The multipart body of ``found``: each file as it is stored."""
    for item in found:
        try:
            handle = item.path.open("rb")
        except OSError as exc:
            LOG.error("cannot read the archived %s: %s", item.sop_instance_uid, exc.strerror)
            continue
        with handle:
            size = Path(item.path).stat().st_size
            yield (
                f"--{boundary}\r\nContent-Type: application/dicom; "
                f"transfer-syntax={item.transfer_syntax_uid}\r\n"
                f"Content-Length: {size}\r\n\r\n"
            ).encode("ascii")
            yield from _file_chunks(handle, size)
            yield b"\r\n"
    yield f"--{boundary}--\r\n".encode("ascii")


def boundary() -> str:
    """A fresh multipart boundary."""
    return f"tuipacs-{uuid.uuid4().hex}"


def metadata_items(found: list[StoredInstance], base_url: str) -> Iterator[bytes]:
    """A JSON array of each instance's metadata, produced one instance at a time."""
    import json

    yield b"["
    first = True
    for item in found:
        try:
            data = instance_metadata(item, base_url)
        except Exception as exc:  # noqa: BLE001 - one damaged file must not end the answer
            LOG.warning(
                "metadata of %s left out: %s", item.sop_instance_uid,
                safe_text.clean(str(exc))[:120],
            )  # fmt: skip
            continue
        yield (b"" if first else b",") + json.dumps(data, separators=(",", ":")).encode()
        first = False
    yield b"]"


def instance_url(base_url: str, item: StoredInstance, series: str) -> str:
    """The WADO-RS URL of an instance."""
    return f"{base_url}/studies/{item.study_uid}/series/{series}/instances/{item.sop_instance_uid}"


def instance_metadata(item: StoredInstance, base_url: str) -> dict[str, Any]:
    """One instance's DICOM JSON without bulk data (BulkDataURIs instead)."""
    ds = dcmread(item.path, defer_size=BULK_THRESHOLD)
    has_pixels = PIXEL_DATA in ds._dict  # noqa: SLF001 - the deferred element, unread
    if has_pixels:
        del ds[PIXEL_DATA]
    url = instance_url(base_url, item, str(ds.get("SeriesInstanceUID", "")))

    def bulk(element: DataElement) -> str:
        return f"{url}/bulkdata/{int(element.tag):08X}"

    data = ds.to_json_dict(BULK_THRESHOLD, bulk, suppress_invalid_tags=True)
    if has_pixels:
        vr = "OB" if int(ds.get("BitsAllocated", 16) or 16) <= 8 else "OW"
        data["7FE00010"] = {"vr": vr, "BulkDataURI": f"{url}/bulkdata/7FE00010"}
    return data


def raw_element(path: Path, tag: int) -> tuple[Dataset, RawDataElement]:
    """A file's top-level element without reading its value; 404 when absent."""
    try:
        ds = dcmread(path, defer_size=BULK_THRESHOLD)
    except Exception:  # noqa: BLE001 - a damaged archived file
        raise HttpError(500, "the archived file cannot be read") from None
    element = ds.get_item(tag, keep_deferred=True)
    if not isinstance(element, RawDataElement):
        if element is None:
            raise HttpError(
                404, f"the instance has no element ({tag >> 16:04X},{tag & 0xFFFF:04X})"
            )
        value = element.value if isinstance(element, DataElement) else None
        if not isinstance(value, bytes):
            raise HttpError(404, "that element is not bulk data")
        return ds, RawDataElement(element.tag, element.VR, len(value), value, 0, False, True)
    return ds, element


def bulk_parts(path: Path, element: RawDataElement, transfer_syntax: str,
               boundary: str) -> Iterator[bytes]:  # fmt: skip
    """One octet-stream part holding an element's value as stored."""
    yield (
        f"--{boundary}\r\nContent-Type: application/octet-stream; "
        f"transfer-syntax={transfer_syntax}\r\nContent-Length: {element.length}\r\n\r\n"
    ).encode("ascii")
    if element.value is not None:
        yield bytes(element.value)
    else:
        with path.open("rb") as handle:
            handle.seek(element.value_tell)
            yield from _file_chunks(handle, element.length)
    yield f"\r\n--{boundary}--\r\n".encode("ascii")
