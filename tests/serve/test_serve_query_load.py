"""Queries never wait for ingest: C-FIND answers from the index as it stands while eight
DCMTK senders store into ``tuipacs serve``, also while indexing is stalled by another
process holding the index's write lock (as a long import or an eviction does). A
hang/starvation bound, not a benchmark."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from identity_files import write_image
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind
from servekit import AET, LOOPBACK, ServerProcess, dcmtk, tool_env, wait_indexed, write_config

pytestmark = pytest.mark.net

SENDERS = 8
IMAGES = 150
#: Each C-FIND must be answered within this (it waited for the inbox: 30 s, then 5.6 s).
BOUND = 1.0
#: How long the other writer holds the index's write lock.
STALL = 3.0


def _find_studies(assoc: object) -> float:
    """One STUDY-level C-FIND; seconds until the final response."""
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    query.NumberOfStudyRelatedInstances = ""
    start = time.monotonic()
    for status, _ in assoc.send_c_find(  # type: ignore[attr-defined]
        query, StudyRootQueryRetrieveInformationModelFind
    ):
        assert status is not None and "Status" in status, "no C-FIND response"
        assert status.Status in (0x0000, 0xFF00, 0xFF01), hex(status.Status)
    return time.monotonic() - start


def _hold_write_lock(index: Path, taken: threading.Event, seconds: float) -> None:
    """Another writer: hold the index's write lock for ``seconds``."""
    conn = sqlite3.connect(index, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def _data(folder: Path) -> list[Path]:
    """SENDERS folders of IMAGES small CT images, one study each."""
    folders = []
    for sender in range(SENDERS):
        sub = folder / f"s{sender}"
        study = f"1.2.826.0.1.3680043.8.498.7{sender}"
        for n in range(IMAGES):
            write_image(
                sub / f"{n:03d}.dcm",
                patient_id=f"LOAD{sender}",
                study=study,
                series=study + ".1",
                seed=sender * 1000 + n,
                size=128,
            )
        folders.append(sub)
    return folders


def test_find_answers_within_a_second_under_eight_senders(tmp_path: Path) -> None:
    folders = _data(tmp_path / "data")
    home = tmp_path / "home"
    write_config(home, 'ae_title = "TUIPACS"\n')
    server = ServerProcess.start(home)
    senders: list[subprocess.Popen[bytes]] = []
    try:
        ae = AE("LOADQUERY")
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        assoc = ae.associate(LOOPBACK, server.port, ae_title=AET)
        assert assoc.is_established
        taken = threading.Event()
        staller = threading.Thread(
            target=_hold_write_lock,
            args=(server.archive_root / "index.sqlite", taken, STALL),
            daemon=True,
        )
        answers: list[float] = []
        try:
            senders = [
                subprocess.Popen(
                    [dcmtk("dcmsend"), "-aec", AET, LOOPBACK, str(server.port), "+sd", str(f)],
                    env=tool_env(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                for f in folders
            ]
            while any(s.poll() is None for s in senders) or staller.is_alive():
                answers.append(_find_studies(assoc))
                if len(answers) == 2:  # the senders are busy: stall indexing now
                    staller.start()
                    assert taken.wait(30)
                time.sleep(0.05)
            answers.append(_find_studies(assoc))
        finally:
            assoc.release()
        for sender in senders:
            _, err = sender.communicate(timeout=120)
            assert sender.returncode == 0, err
        assert staller.ident is not None, "the senders finished before two queries were answered"
        slowest = max(answers)
        print(f"{len(answers)} C-FINDs under {SENDERS} senders, slowest {slowest * 1000:.0f} ms")
        assert slowest < BOUND, f"slowest C-FIND took {slowest:.2f} s ({len(answers)} asked)"
        total = SENDERS * IMAGES
        assert len(wait_indexed(server.archive_root, total, timeout=60)) == total
    finally:
        for sender in senders:
            if sender.poll() is None:
                sender.kill()
                sender.wait()
        server.stop()
