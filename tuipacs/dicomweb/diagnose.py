"""What a failed DICOMweb exchange means, and ``node check`` for a DICOMweb node.

When the peer closes the connection without an HTTP answer, it may be a DICOM (DIMSE) port
given as a URL: :func:`looks_like_dimse` asks it for an association (a few bytes, nothing
decoded), and a DICOM answer (A-ASSOCIATE-AC, -RJ or A-ABORT) turns the error into "add it
as AE@host:port".
"""

from __future__ import annotations

import socket
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from urllib3.exceptions import HTTPError

from tuipacs.dicomweb.http import NotHttp, WebError, WebSession, network_error, uid_path
from tuipacs.remote.results import CheckStep
from tuipacs.remote.web_node import WebNode

_DICOM_ANSWERS = (0x02, 0x03, 0x07)  # A-ASSOCIATE-AC, A-ASSOCIATE-RJ, A-ABORT


def looks_like_dimse(node: WebNode, timeout: float = 5.0) -> bool:
    """Whether ``node``'s host and port answer an A-ASSOCIATE-RQ as a DICOM peer would."""
    from tuipacs.dicom.nodes import LocalAE, Node
    from tuipacs.remote.quick_echo import associate_rq

    try:
        request = associate_rq(LocalAE(), Node("probe", "ANY-SCP", node.host, node.port))
        with socket.create_connection((node.host, node.port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(request)
            head = b""
            while len(head) < 6:
                chunk = sock.recv(6 - len(head))
                if not chunk:
                    break
                head += chunk
    except (OSError, ValueError):
        return False
    if len(head) < 6:
        return False
    kind, _, length = struct.unpack(">BBI", head)
    return kind in _DICOM_ANSWERS and length < 0x10000


def explained(node: WebNode, exc: WebError) -> WebError:
    """``exc``, or the DIMSE-port advice when the peer is a DICOM port."""
    if isinstance(exc, NotHttp) and looks_like_dimse(node, min(node.timeout, 5.0)):
        return WebError(
            f"{node.url}: this looks like a DICOM (DIMSE) port, not DICOMweb: add it as "
            f"AE@host:port (tuipacs node add NAME AE@{node.host}:{node.port})"
        )
    return exc


def guarded(node: WebNode, call: Callable[[], object]) -> object:
    """Run ``call``; a WebError comes out explained (see :func:`explained`)."""
    try:
        return call()
    except WebError as exc:
        raise explained(node, exc) from None


def check(session: WebSession) -> list[CheckStep]:
    """Search studies, list one study's instances, retrieve one instance (kept nowhere);
    stops at the first step that fails."""
    from tuipacs.dicomweb.qido import instance_list, rows_from_json

    node = session.node
    steps: list[CheckStep] = []

    def step(name: str, run: Callable[[], str]) -> bool:
        start = time.perf_counter()
        try:
            detail = run()
        except WebError as exc:
            steps.append(CheckStep(name, False, str(explained(node, exc)), _since(start)))
            return False
        steps.append(CheckStep(name, True, detail, _since(start)))
        return True

    study: list[str] = []
    instance: list[tuple[str, str]] = []

    def search() -> str:
        data = session.get_json("/studies", {"limit": "1", "includefield": "StudyInstanceUID"})
        rows = rows_from_json(data, "study", {}, node.url)
        study.extend(r["StudyInstanceUID"] for r in rows[:1] if r.get("StudyInstanceUID"))
        return f"QIDO-RS search works ({node.auth_line()})"

    def listing() -> str:
        data = session.get_json(f"/studies/{uid_path(study[0])}/instances", {"limit": "1"},
                                what="the instance list")  # fmt: skip
        instance.extend(instance_list(data, node.url)[:1])
        if not instance:
            raise WebError(f"{node.url}: the study it listed has no instances")
        return "QIDO-RS instance search works"

    def fetch() -> str:
        series, sop = instance[0]
        path = f"/studies/{uid_path(study[0])}/series/{uid_path(series)}/instances/{uid_path(sop)}"
        return _fetch_one(session, path)

    if not step("echo", search):
        return steps
    if not study:
        for name in ("find", "retrieve (wado-rs)"):
            steps.append(CheckStep(name, True, "the archive holds no study to try", 0.0, True))
        return steps
    if step("find", listing):
        step("retrieve (wado-rs)", fetch)
    return steps


def _fetch_one(session: WebSession, path: str) -> str:
    """Retrieve one instance into a temporary folder and check it is DICOM."""
    from tuipacs.dicomweb.multipart import MultipartError, MultipartReader, boundary_of
    from tuipacs.dicomweb.wado import ACCEPT, MAX_INSTANCE, _dicom_part, _Files

    received: list[Path] = []
    sizes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="tuipacs-check-") as folder:
        files = _Files(Path(folder), lambda p, _: received.append(p), "check", sizes.append)
        response = session.request("GET", path, headers={"Accept": ACCEPT}, what="the retrieve")
        try:
            reader = MultipartReader(boundary_of(response.headers.get("Content-Type", "")),
                                     files, MAX_INSTANCE, check=_dicom_part)  # fmt: skip
            while chunk := response.read1(1 << 20):
                reader.feed(chunk)
            reader.finish()
        except MultipartError as exc:
            raise WebError(f"{session.node.url}: the retrieve answer is malformed: {exc}") from None
        except HTTPError as exc:
            raise network_error(session.node, exc) from None
        finally:
            response.release_conn()
        if not received:
            raise WebError(f"{session.node.url}: the retrieve answered no instance")
        with received[0].open("rb") as handle:
            handle.seek(128)
            if handle.read(4) != b"DICM":
                raise WebError(f"{session.node.url}: the retrieve answered a non-DICOM file")
    return f"one instance of {sizes[0]} bytes received (not kept)"


def _since(start: float) -> float:
    return time.perf_counter() - start

