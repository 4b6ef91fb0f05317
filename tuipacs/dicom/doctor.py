"""`tuipacs node check`: echo, query and a tiny retrieve, failures turned into advice."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tuipacs.dicom.errors import DicomError
from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.retrieve import retrieve
from tuipacs.dicom.scu import echo, find
from tuipacs.dicom.storage import ReceivedInstance


@dataclass(frozen=True)
class CheckStep:
    """One step of a node check: what was tried, whether it worked, what to do."""

    name: str
    ok: bool
    detail: str
    seconds: float
    skipped: bool = False


def _step(name: str, start: float, ok: bool, detail: str) -> CheckStep:
    """A finished step."""
    return CheckStep(name, ok, detail, time.perf_counter() - start)


def check_echo(node: Node, local: LocalAE) -> CheckStep:
    """Step 1: association and C-ECHO."""
    start = time.perf_counter()
    try:
        result = echo(node, local)
    except DicomError as exc:
        return _step("echo", start, False, str(exc))
    detail = f"C-ECHO {result.status}, {result.ms:.1f} ms"
    return _step("echo", start, result.ok, detail)


def check_find(node: Node, local: LocalAE) -> tuple[CheckStep, str | None]:
    """Step 2: a study-level C-FIND (first match only); returns a study UID to fetch."""
    start = time.perf_counter()
    try:
        rows = find(node, local, "study", keys={"StudyInstanceUID": ""}, limit=1)
    except DicomError as exc:
        return _step("find", start, False, str(exc)), None
    if not rows:
        return _step("find", start, True, "C-FIND works but the archive has no studies"), None
    return _step("find", start, True, "C-FIND works"), rows[0].get("StudyInstanceUID") or None


def check_retrieve(node: Node, local: LocalAE, study_uid: str) -> CheckStep:
    """Step 3: retrieve one instance of the study by the node's method, then discard it."""
    start = time.perf_counter()
    target: list[str] = []

    def have(uid: str) -> bool:
        if not target:
            target.append(uid)
        return uid != target[0]

    def discard(path: Path, instance: ReceivedInstance) -> None:
        path.unlink(missing_ok=True)

    with tempfile.TemporaryDirectory(prefix="tuipacs-check-") as spool:
        probe_local = LocalAE(local.ae_title, local.port, local.bind_host, Path(spool))
        summary = retrieve(node, probe_local, study_uid, discard, have=have)
    name = f"retrieve ({node.method})"
    if summary.ok and summary.completed == 1:
        return _step(name, start, True, f"C-{node.method.upper()} of one instance works")
    if summary.errors:
        return _step(name, start, False, summary.errors[0])
    if node.method == "move":
        return _step(
            name,
            start,
            False,
            f"nothing arrived on our port {local.port}: the archive cannot reach us; use "
            "C-GET (method get) or an SSH reverse tunnel",
        )
    return _step(name, start, False, "the archive sent nothing: check its C-GET support")


def check_node(node: Node, local: LocalAE) -> list[CheckStep]:
    """Run echo, find and a one-instance retrieve; stop at the first failing step."""
    steps = [check_echo(node, local)]
    if not steps[-1].ok:
        return steps
    step, study_uid = check_find(node, local)
    steps.append(step)
    if not step.ok:
        return steps
    if study_uid is None:
        steps.append(CheckStep(f"retrieve ({node.method})", True, "no study to try", 0.0, True))
        return steps
    steps.append(check_retrieve(node, local, study_uid))
    return steps
