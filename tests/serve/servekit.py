"""Helpers for the archive server tests (not a test module): the server as a subprocess,
DCMTK tools, the archive index, test data.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers import free_port, require_binary
from peers import SyntheticArchive, find_dcmtk, stop_process, wait_for_port

LOOPBACK = "127.0.0.1"
AET = "TUIPACS"


def dcmtk(name: str) -> str:
    """A DCMTK program (not pynetdicom's same-named script), or skip (fail under CI)."""
    path = find_dcmtk(name)
    if path is None:
        require_binary(f"{name} (DCMTK)")
    assert path is not None
    return path


def tool_env() -> dict[str, str]:
    """Environment for DCMTK tools: Nagle off."""
    return dict(os.environ, TCP_NODELAY="1")


def server_command() -> list[str]:
    """``python -m tuipacs serve`` (the one way to run the server)."""
    return [sys.executable, "-m", "tuipacs", "serve"]


def write_config(home: Path, text: str) -> None:
    """Write TUIPACS_HOME/config.toml."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")


@dataclass
class ServerProcess:
    """``tuipacs serve`` running as a subprocess on 127.0.0.1 with its own TUIPACS_HOME."""

    home: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, home: Path, port: int | None = None, wrap: Sequence[str] = ()) -> ServerProcess:
        """Start and wait until the port accepts connections.

        `wrap` is a command prefix the server runs under (e.g. peers.tmpfs_prefix); it
        must exec the server, so that the PID is the server's.
        """
        server = cls(home, port or free_port())
        home.mkdir(parents=True, exist_ok=True)
        env = tool_env() | {"TUIPACS_HOME": str(home)}
        env.pop("TUIPACS_DEBUG", None)
        with server.log_path.open("ab") as log:
            server.proc = subprocess.Popen(
                [*wrap, *server_command(), "--port", str(server.port), "--bind", LOOPBACK],
                env=env,
                stdout=log,
                stderr=log,
            )
        wait_for_port(server.port, server.proc, timeout=30)
        return server

    @property
    def log_path(self) -> Path:
        """Where stdout/stderr go."""
        return self.home / "serve.log"

    @property
    def log(self) -> str:
        """Everything logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, text: str, timeout: float = 15.0) -> bool:
        """Whether TEXT shows up in the log within TIMEOUT seconds.

        The server logs from its own threads, often after the peer's tool has exited, so a
        test that reads the log at once races the line it wants.
        """
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    @property
    def archive_root(self) -> Path:
        """The archive of this server."""
        return self.home / "archive"

    def signal(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send a signal and wait for the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        """Terminate by PID (kill if it does not exit)."""
        stop_process(self.proc, grace=15.0)

    def alive(self) -> bool:
        """Still running?"""
        return self.proc is not None and self.proc.poll() is None

    def rss_mb(self) -> float:
        """Resident memory of the server process (VmRSS) in MB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS line")


def index_rows(root: Path, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
    """Read-only query on an archive index (while a server may be writing it)."""
    index = root / "index.sqlite"
    if not index.exists():
        return []
    conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=10)
    try:
        return list(conn.execute(sql, tuple(params)).fetchall())
    finally:
        conn.close()


def indexed_uids(root: Path) -> set[str]:
    """SOP Instance UIDs in the index."""
    return {str(r[0]) for r in index_rows(root, "SELECT sop_uid FROM instance")}


def wait_indexed(root: Path, count: int, timeout: float = 20.0) -> set[str]:
    """Wait until the index holds at least `count` instances (indexing is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        uids = indexed_uids(root)
        if len(uids) >= count or time.monotonic() > deadline:
            return uids
        time.sleep(0.05)


def instance_path(root: Path, sop_uid: str) -> Path:
    """The archived file of an instance."""
    rows = index_rows(root, "SELECT path FROM instance WHERE sop_uid = ?", (sop_uid,))
    assert rows, f"{sop_uid} is not in the index"
    path = Path(str(rows[0][0]))
    return path if path.is_absolute() else root / path


def run(args: Sequence[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run a tool with Nagle off; output captured as text."""
    return subprocess.run(
        list(args), env=tool_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def dcmsend(port: int, files: Sequence[Path], *extra: str) -> subprocess.CompletedProcess[str]:
    """DCMTK dcmsend of files to the server."""
    return run([dcmtk("dcmsend"), "-aec", AET, *extra, LOOPBACK, str(port), *map(str, files)])


@dataclass
class Loaded:
    """A running server loaded with the synthetic studies and the compressed files."""

    server: ServerProcess
    data: SyntheticArchive
    compressed: list[Path]
    move_port: int

    @property
    def port(self) -> int:
        """The server's port."""
        return self.server.port

    @property
    def root(self) -> Path:
        """The server's archive."""
        return self.server.archive_root


def pynetdicom_store(port: int, path: Path, calling: str = "RAWSCU") -> int | None:
    """C-STORE a Part-10 file as it is (its dataset bytes are streamed unparsed)."""
    from pydicom import dcmread
    from pynetdicom import AE, _config

    _config.STORE_SEND_CHUNKED_DATASET = True
    meta = dcmread(path, stop_before_pixels=True, specific_tags=[]).file_meta
    ae = AE(calling)
    ae.add_requested_context(meta.MediaStorageSOPClassUID, meta.TransferSyntaxUID)
    assoc = ae.associate(LOOPBACK, port, ae_title=AET)
    assert assoc.is_established, "association refused"
    try:
        status = assoc.send_c_store(path)
    finally:
        assoc.release()
    return int(status.Status) if "Status" in status else None


def store_then_abort(port: int, path: Path, pdus: int, max_pdu: int = 16384) -> None:
    """Send the C-STORE-RQ of a file and its first `pdus` P-DATA PDUs, then A-ABORT."""
    from pydicom import dcmread
    from pynetdicom import AE
    from pynetdicom.dimse_messages import C_STORE_RQ
    from pynetdicom.dimse_primitives import C_STORE
    from pynetdicom.dsutils import split_dataset

    meta, offset = split_dataset(path)
    ds = dcmread(path, stop_before_pixels=True)
    ae = AE("ABORTER")
    ae.add_requested_context(meta.MediaStorageSOPClassUID, meta.TransferSyntaxUID)
    assoc = ae.associate(LOOPBACK, port, ae_title=AET, max_pdu=max_pdu)
    assert assoc.is_established, "association refused"
    request = C_STORE()
    request.MessageID = 1
    request.Priority = 2
    request.AffectedSOPClassUID = ds.SOPClassUID
    request.AffectedSOPInstanceUID = ds.SOPInstanceUID
    request._dataset_path = (path, offset)
    message = C_STORE_RQ()
    message.primitive_to_message(request)
    context_id = assoc.accepted_contexts[0].context_id
    assert context_id is not None
    sent = 0
    size = min(assoc.acceptor.maximum_length or max_pdu, max_pdu)  # small PDUs: a partial send
    for pdata in message.encode_msg(context_id, size):
        if sent >= pdus:
            break
        assoc.dul.send_pdu(pdata)
        sent += 1
    time.sleep(0.3)
    assoc.abort()


def echo_ok(port: int, calling: str = "ECHOSCU", called: str = AET) -> bool:
    """DCMTK echoscu succeeds?"""
    result = run([dcmtk("echoscu"), "-aet", calling, "-aec", called, LOOPBACK, str(port)])
    return result.returncode == 0


# --------------------------------------------------------------------------- hand-built DIMSE


def command_element(elem: int, value: bytes) -> bytes:
    """One command element (group 0000, Implicit VR Little Endian), value as given."""
    return struct.pack("<HHL", 0x0000, elem, len(value)) + value


def store_command(
    sop_instance: bytes, message_id: int = 1, sop_class: bytes = b"1.2.840.10008.5.1.4.1.1.2"
) -> bytes:
    """A C-STORE-RQ command set with these raw UID bytes (padded to even length)."""

    def even(raw: bytes) -> bytes:
        return raw + b"\x00" if len(raw) % 2 else raw

    body = b"".join(
        [
            command_element(0x0002, even(sop_class)),
            command_element(0x0100, struct.pack("<H", 0x0001)),
            command_element(0x0110, struct.pack("<H", message_id)),
            command_element(0x0700, struct.pack("<H", 0)),
            command_element(0x0800, struct.pack("<H", 0x0000)),
            command_element(0x1000, even(sop_instance)),
        ]
    )
    return command_element(0x0000, struct.pack("<L", len(body))) + body


def ct_dataset(sop_uid: str, pixel_bytes: int = 128) -> bytes:
    """A CT dataset (Explicit VR Little Endian) with about `pixel_bytes` of pixel data."""
    from pydicom.dataset import Dataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset
    from pydicom.uid import CTImageStorage, generate_uid

    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.PatientID = "WIRE01"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.Columns = min(pixel_bytes // 2, 1000)
    ds.Rows = max(1, pixel_bytes // (2 * ds.Columns))
    ds.BitsAllocated = 16
    ds.SamplesPerPixel = 1
    ds.PixelData = bytes(2 * ds.Rows * ds.Columns)
    out = DicomBytesIO()
    out.is_little_endian = True
    out.is_implicit_VR = False
    write_dataset(out, ds)
    return out.getvalue()


class RawStore:
    """An association to the server over which hand-built C-STOREs are sent PDV by PDV.

    The association's own reactor is paused while a request is in flight, so that the
    response reaches us (as pynetdicom's send_c_store does).
    """

    def __init__(self, port: int, calling: str = "RAWSCU") -> None:
        """Associate (CT Image Storage, Explicit VR Little Endian)."""
        from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
        from pynetdicom import AE

        ae = AE(calling)
        ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
        ae.dimse_timeout = 20
        self.assoc = ae.associate(LOOPBACK, port, ae_title=AET)
        assert self.assoc.is_established, "association refused"
        context_id = self.assoc.accepted_contexts[0].context_id
        assert context_id is not None
        self.context_id = context_id
        self.max_pdu = int(self.assoc.acceptor.maximum_length or 16384)

    def _send(self, control: int, data: bytes) -> None:
        """Send `data` as PDVs within the server's maximum PDU length."""
        from pynetdicom.pdu_primitives import P_DATA

        step = self.max_pdu - 6
        for start in range(0, max(len(data), 1), step):
            last = start + step >= len(data)
            primitive = P_DATA()
            flags = control | (0x02 if last else 0x00)
            payload = bytes([flags]) + data[start : start + step]
            primitive.presentation_data_value_list = [[self.context_id, payload]]
            self.assoc.dul.send_pdu(primitive)

    def store(self, command: bytes, dataset: bytes) -> int | None:
        """Send a C-STORE-RQ; its response's status (None: no response)."""
        assoc = self.assoc
        assoc._reactor_checkpoint.clear()
        while not assoc._is_paused:
            time.sleep(0.001)
        try:
            self._send(0x01, command)
            self._send(0x00, dataset)
            _context_id, message = assoc.dimse.get_msg(block=True)
        finally:
            assoc._reactor_checkpoint.set()
        status = getattr(message, "Status", None)
        return int(status) if status is not None else None

    @property
    def established(self) -> bool:
        """Is the association still up?"""
        return bool(self.assoc.is_established)

    def close(self) -> None:
        """Release (or abort) the association."""
        if self.assoc.is_established:
            self.assoc.release()
        else:
            self.assoc.abort()
