"""WADO-RS retrieve of a study or series into the archive, streamed and in parallel.

First a QIDO-RS search lists the instances (of the study, or of each series asked for);
those the archive holds are skipped (resume). A series the archive lacks whole is fetched
with one request (``/studies/{s}/series/{se}``), a series it holds in part instance by
instance; up to ``parallel`` requests run at once. Each answer is read a chunk at a time
(:mod:`tuipacs.dicomweb.multipart`): a part goes to a file in the archive's staging folder
and, once complete, to the same batched ingest as a DIMSE retrieve
(:class:`~tuipacs.remote.archive_sink.ArchiveSink`). A part cut short is removed, never
ingested. The instances are asked for as stored (``transfer-syntax=*``), so the archive
gets the server's bytes.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from urllib3.exceptions import HTTPError

from tuipacs.dicomweb.http import CHUNK, WebError, WebSession, network_error, uid_path
from tuipacs.dicomweb.multipart import MultipartError, MultipartReader, boundary_of
from tuipacs.dicomweb.qido import instance_list, valid_uid
from tuipacs.remote.results import RetrieveProgress, RetrieveResult

ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
#: Largest instance taken (a part beyond it fails its request).
MAX_INSTANCE = 4 * 1024 * 1024 * 1024
_PAGE = 5000

Put = Callable[[Path, str], None]
"""Hands a complete received file (and a label for messages) to the ingest."""


@dataclass(frozen=True)
class _Unit:
    """One request: a whole series, or one instance of it."""

    series: str
    instances: tuple[str, ...]
    whole: bool

    def path(self, study: str) -> str:
        """The WADO-RS resource."""
        base = f"/studies/{uid_path(study)}/series/{uid_path(self.series)}"
        return base if self.whole else f"{base}/instances/{uid_path(self.instances[0])}"


class _Files:
    """The part sink: files in ``folder``, complete ones handed to ``put``."""

    def __init__(self, folder: Path, put: Put, label: str, on_file: Callable[[int], None]) -> None:
        self.folder, self.put, self.label, self.on_file = folder, put, label, on_file
        self.paths: dict[int, Path] = {}
        self.count = 0

    def open(self, headers: dict[str, str]) -> BinaryIO:
        fd, name = tempfile.mkstemp(prefix="wado-", suffix=".part", dir=self.folder)
        handle = os.fdopen(fd, "wb")
        self.paths[id(handle)] = Path(name)
        return handle

    def done(self, handle: BinaryIO, size: int) -> None:
        path = self.paths.pop(id(handle))
        handle.close()
        self.count += 1
        self.put(path, f"{self.label} #{self.count}")
        self.on_file(size)

    def drop(self, handle: BinaryIO) -> None:
        path = self.paths.pop(id(handle), None)
        handle.close()
        if path is not None:
            path.unlink(missing_ok=True)


def _dicom_part(headers: dict[str, str]) -> None:
    """Refuse a part that is not application/dicom."""
    kind = headers.get("content-type", "application/dicom").split(";")[0].strip().lower()
    if kind != "application/dicom":
        raise MultipartError(f"a part is {kind[:60]!r}, not application/dicom")


class WadoRetrieve:
    """One retrieve: list, skip what is here, fetch the rest in parallel."""

    def __init__(
        self,
        session: WebSession,
        study: str,
        series: Sequence[str],
        *,
        have: Callable[[str], bool],
        put: Put,
        folder: Path,
        progress: Callable[[RetrieveProgress], None] | None,
        cancel: threading.Event | None,
    ) -> None:
        """Describe the retrieve; :meth:`run` does it."""
        self.session, self.study, self.series = session, study, list(series)
        self.have, self.put, self.folder = have, put, folder
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.result = RetrieveResult(session.node.name, study, "wado-rs", list(series))
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def run(self) -> RetrieveResult:
        """Do the retrieve; errors go into the result (a failed listing is one error)."""
        result = self.result
        for uid in [self.study, *self.series]:
            if not valid_uid(uid):
                result.errors.append(f"{uid!r} is not a DICOM UID")
                return result
        try:
            listed = self._list()
        except WebError as exc:
            from tuipacs.dicomweb.diagnose import explained

            result.errors.append(str(explained(self.session.node, exc)))
            return self._end()
        result.total = len(listed)
        by_series: dict[str, list[str]] = {}
        for series, sop in listed:
            if self.have(sop):
                result.skipped += 1
            else:
                by_series.setdefault(series, []).append(sop)
        counts: dict[str, int] = {}
        for series, _ in listed:
            counts[series] = counts.get(series, 0) + 1
        units = []
        for series, missing in by_series.items():
            if len(missing) == counts[series]:
                units.append(_Unit(series, tuple(missing), True))
            else:
                units.extend(_Unit(series, (sop,), False) for sop in missing)
        self._report()
        workers = max(1, min(self.session.node.parallel, len(units)))
        with ThreadPoolExecutor(workers, thread_name_prefix="tuipacs-wado") as pool:
            for _ in pool.map(self._fetch, units):
                pass
        result.cancelled = self.cancel.is_set() and result.remaining > 0
        return self._end()

    def _end(self) -> RetrieveResult:
        self.result.seconds = time.monotonic() - self.started
        return self.result

    def _list(self) -> list[tuple[str, str]]:
        """(series, instance) of everything to retrieve, by QIDO-RS, a page at a time."""
        paths = (
            [f"/studies/{self.study}/series/{s}/instances" for s in self.series]
            if self.series
            else [f"/studies/{self.study}/instances"]
        )
        found: dict[str, tuple[str, str]] = {}
        for path in paths:
            offset = 0
            while True:
                params = {"includefield": "SeriesInstanceUID", "limit": str(_PAGE),
                          "offset": str(offset)}  # fmt: skip
                data = self.session.get_json(path, params, what="the instance list")
                page = instance_list(data, self.session.node.url)
                new = [p for p in page if p[1] not in found]
                found.update((sop, (series, sop)) for series, sop in new)
                if len(page) < _PAGE or not new or len(found) > 10 * _PAGE * 20:
                    break
                offset += len(page)
        return list(found.values())

    def _fetch(self, unit: _Unit) -> None:
        """One WADO-RS request; its failures are counted, never raised."""
        if self.cancel.is_set():
            return
        got = 0

        def on_file(size: int) -> None:
            nonlocal got
            got += 1
            with self.lock:
                self.result.completed += 1
                self.result.bytes += size
                self._report()

        files = _Files(self.folder, self.put, f"series {unit.series}", on_file)
        try:
            self._stream(unit, files)
        except (WebError, MultipartError, OSError) as exc:
            self._fail(unit, got, _line(self.session, exc))
        except Exception as exc:  # noqa: BLE001 - e.g. the archive failing a batch: one line
            self._fail(unit, got, str(exc) or type(exc).__name__)
        else:
            if got < len(unit.instances) and not self.cancel.is_set():
                self._fail(unit, got, (
                    f"{self.session.node.url}: series {unit.series} sent {got} of "
                    f"{len(unit.instances)} instances"
                ))  # fmt: skip

    def _stream(self, unit: _Unit, files: _Files) -> None:
        """Read the answer a chunk at a time into parts."""
        response = self.session.request(
            "GET", unit.path(self.study), headers={"Accept": ACCEPT}, what="the retrieve"
        )
        reader = MultipartReader(
            boundary_of(response.headers.get("Content-Type", "")),
            files, MAX_INSTANCE, check=_dicom_part,
        )  # fmt: skip
        try:
            while True:
                if self.cancel.is_set():
                    reader.abort()
                    return
                try:
                    chunk = response.read1(CHUNK)
                except HTTPError as exc:
                    raise network_error(self.session.node, exc) from None
                if not chunk:
                    break
                reader.feed(chunk)
            reader.finish()
        finally:
            reader.abort()
            if self.cancel.is_set():
                response.close()  # the rest of the answer is not wanted
            else:
                response.release_conn()

    def _fail(self, unit: _Unit, got: int, line: str) -> None:
        with self.lock:
            self.result.failed += max(0, len(unit.instances) - got)
            if line not in self.result.errors and len(self.result.errors) < 20:
                self.result.errors.append(line)
            self._report()

    def _report(self) -> None:
        """Call the progress callback (under the lock, or before the workers start)."""
        if self.progress is None:
            return
        r = self.result
        self.progress(RetrieveProgress(
            r.total, r.completed, r.failed, r.warning, r.skipped, r.remaining, r.bytes,
            time.monotonic() - self.started,
        ))  # fmt: skip


def _line(session: WebSession, exc: Exception) -> str:
    """The one line of a failed request."""
    if isinstance(exc, MultipartError):
        return f"{session.node.url}: the retrieve answer is malformed: {exc}"
    if isinstance(exc, OSError) and not isinstance(exc, WebError):
        return f"cannot write a received file: {exc.strerror or exc}"
    return str(exc)
