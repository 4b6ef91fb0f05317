"""The routes of the DICOMweb server (under the base path, ``/dicom-web``).

QIDO-RS: GET ``/studies``, ``/series``, ``/instances``, ``/studies/{s}/series``,
``/studies/{s}/instances``, ``/studies/{s}/series/{se}/instances``.
WADO-RS: GET ``/studies/{s}[/series/{se}[/instances/{i}]]`` (instances as stored), the same
plus ``/metadata``, ``.../instances/{i}/frames/{list}``, ``.../instances/{i}/rendered``,
``.../instances/{i}/frames/{n}/rendered``, ``.../instances/{i}/bulkdata/{tag}``.
STOW-RS: POST ``/studies`` and ``/studies/{s}``.
Every UID in a path must be a UID (digits and dots, at most 64 characters): 400 otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path

from tuipacs.dicom.scp_types import Level
from tuipacs.dicomweb.server import frames, qido, stow, wado
from tuipacs.dicomweb.server.body import HttpError
from tuipacs.dicomweb.server.httpd import Handler
from tuipacs.server.backend import ArchiveBackend
from tuipacs.store.archive import Archive

_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_HOST_RE = re.compile(
    r"^[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$"
)
_TAG_RE = re.compile(r"^[0-9A-Fa-f]{8}$")
_LEVELS: dict[str, Level] = {"studies": "STUDY", "series": "SERIES", "instances": "IMAGE"}


def _uid(text: str) -> str:
    if len(text) > 64 or not _UID_RE.match(text):
        raise HttpError(400, f"{text[:70]!r} is not a valid UID (digits and dots, at most 64)")
    return text


def _has_port(host: str) -> bool:
    return "]:" in host if host.startswith("[") else ":" in host


class WebApp:
    """Answers requests over ``archive``; STOW-RS stores through ``backend``."""

    def __init__(self, archive: Archive, backend: ArchiveBackend, spool: Path,
                 scheme: str, fallback_host: str, base: str = "/dicom-web") -> None:  # fmt: skip
        """``fallback_host`` (host:port) names the server in URLs when a request's Host
        header is missing or odd."""
        self.archive = archive
        self.backend = backend
        self.spool = spool
        self.scheme = scheme
        self.fallback_host = fallback_host
        self.base = base

    def base_url(self, handler: Handler) -> str:
        """The server's DICOMweb root as the client reached it."""
        host = (handler.headers.get("Host") or "").strip()
        if not _HOST_RE.match(host):
            host = self.fallback_host
        elif not _has_port(host):
            # no port: a client's quirk (dicomweb-client sends none) or the scheme's default
            port = handler.server.server_address[1]
            if port != {"http": 80, "https": 443}[self.scheme]:
                host = f"{host}:{port}"
        return f"{self.scheme}://{host}{self.base}"

    def __call__(self, handler: Handler, method: str, path: list[str],
                 query: list[tuple[str, str]], user: str) -> None:  # fmt: skip
        """Route one request."""
        if method == "POST":
            if path and path[0] == "studies" and len(path) <= 2:
                study = _uid(path[1]) if len(path) == 2 else ""
                stow.store(handler, self.backend, self.spool, study, self.base_url(handler))
                return
            handler.close_connection = True
            raise HttpError(405 if path in (["series"], ["instances"]) else 404,
                            "POST (STOW-RS) goes to /studies or /studies/{uid}")  # fmt: skip
        if method != "GET":
            handler.close_connection = True
            raise HttpError(405, f"{method} is not served: use GET (QIDO-RS, WADO-RS) or POST")
        if handler.headers.get("Content-Length", "0").strip() not in ("", "0") or (
            handler.headers.get("Transfer-Encoding")
        ):
            handler.close_connection = True  # a GET with a body: it is not read
        self._get(handler, path, query)

    def _get(self, handler: Handler, path: list[str], query: list[tuple[str, str]]) -> None:
        if len(path) == 1 and path[0] in _LEVELS:
            return self._search(handler, _LEVELS[path[0]], query, {})
        if len(path) < 2 or path[0] != "studies":
            raise HttpError(404, "not a DICOMweb resource (see /studies, /series, /instances)")
        keys = {"StudyInstanceUID": _uid(path[1])}
        rest = path[2:]
        if rest in (["series"], ["instances"]):
            return self._search(handler, _LEVELS[rest[0]], query, keys)
        if len(rest) >= 2 and rest[0] == "series":
            keys["SeriesInstanceUID"] = _uid(rest[1])
            rest = rest[2:]
            if rest == ["instances"]:
                return self._search(handler, "IMAGE", query, keys)
            if len(rest) >= 2 and rest[0] == "instances":
                keys["SOPInstanceUID"] = _uid(rest[1])
                return self._instance(handler, keys, rest[2:])
        if rest == []:
            return self._instances(handler, keys)
        if rest == ["metadata"]:
            return self._metadata(handler, keys)
        if rest == ["rendered"] or rest == ["thumbnail"]:
            raise HttpError(
                404, "rendered images are served per instance (.../instances/{uid}/rendered)"
            )
        raise HttpError(404, "not a DICOMweb resource")

    def _search(self, handler: Handler, level: Level, query: list[tuple[str, str]],
                keys: dict[str, str]) -> None:  # fmt: skip
        rows, more = qido.search(self.archive, level, query, keys, self.base_url(handler))
        handler.audit_fields = {"matches": len(rows)}
        headers = {}
        if more:
            headers["Warning"] = (
                '299 tuipacs "The number of results exceeded the maximum supported by the '
                'server. Additional results can be requested."'
            )
        if not rows:
            handler.begin(204, {"Content-Length": "0", **headers})
            return
        handler.send_json(200, rows, headers)

    def _select(self, keys: dict[str, str]) -> list[wado.StoredInstance]:
        series, sop = keys.get("SeriesInstanceUID", ""), keys.get("SOPInstanceUID", "")
        return wado.select(self.archive, keys["StudyInstanceUID"], series, sop)

    def _instances(self, handler: Handler, keys: dict[str, str]) -> None:
        found = self._select(keys)
        ranges = wado.media_ranges(handler.headers.get_all("Accept") or [])
        wado.negotiate(ranges, "application/dicom", {f.transfer_syntax_uid for f in found})
        handler.audit_fields = {"instances": len(found),
                                "study_uids": sorted({f.study_uid for f in found})}  # fmt: skip
        mark = wado.boundary()
        handler.stream(200, f'multipart/related; type="application/dicom"; boundary={mark}',
                       wado.instance_parts(found, mark))  # fmt: skip

    def _metadata(self, handler: Handler, keys: dict[str, str]) -> None:
        found = self._select(keys)
        handler.audit_fields = {"instances": len(found)}
        handler.stream(200, "application/dicom+json",
                       wado.metadata_items(found, self.base_url(handler)))  # fmt: skip

    def _instance(self, handler: Handler, keys: dict[str, str], rest: list[str]) -> None:
        if rest in ([], ["metadata"]):
            return self._instances(handler, keys) if not rest else self._metadata(handler, keys)
        item = self._select(keys)[0]
        ranges = wado.media_ranges(handler.headers.get_all("Accept") or [])
        if rest == ["rendered"] or (
            len(rest) == 3 and rest[0] == "frames" and rest[2] == "rendered"
        ):
            number = frames.frame_list(rest[1])[0] if len(rest) == 3 else 1
            media = frames.rendered_type(ranges)
            handler.send_body(200, media, frames.rendered(item.path, number, media))
            return
        if len(rest) == 2 and rest[0] in ("frames", "bulkdata"):
            mark = wado.boundary()
            if rest[0] == "frames" or rest[1].upper() == "7FE00010":
                numbers = frames.frame_list(rest[1]) if rest[0] == "frames" else []
                if not numbers:
                    ds, _ = wado.raw_element(item.path, wado.PIXEL_DATA)
                    numbers = list(range(1, frames.frame_count(ds) + 1))
                body = frames.frame_parts(item.path, numbers, item.transfer_syntax_uid, mark)
            else:
                if not _TAG_RE.match(rest[1]):
                    raise HttpError(400, "a bulk data tag is 8 hex digits")
                _, element = wado.raw_element(item.path, int(rest[1], 16))
                body = wado.bulk_parts(item.path, element, item.transfer_syntax_uid, mark)
            wado.negotiate(ranges, "application/octet-stream", {item.transfer_syntax_uid})
            handler.stream(200, f'multipart/related; type="application/octet-stream"; '
                           f"boundary={mark}", body)  # fmt: skip
            return
        raise HttpError(404, "not a DICOMweb resource")
