"""Real DICOM peers for tests and scripts: a private Orthanc and DCMTK's dcmqrscp.

Both listen on 127.0.0.1 only (an LD_PRELOAD shim rewrites their wildcard binds),
use their own temporary storage and free ports, and are stopped by PID.
Also a small synthetic test study generator (pydicom only, no PHI).

Not a test module: conftest.py and scripts/ import it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from helpers import free_port, in_ci, require_binary
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.storage import ReceivedInstance

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
ORTHANC_BINARY = "/usr/sbin/Orthanc"
#: Where Debian's orthanc-dicomweb (and other builds) put the DICOMweb plugin.
DICOMWEB_PLUGIN = "libOrthancDicomWeb.so"
PLUGIN_DIRS = (
    "/usr/share/orthanc/plugins",
    "/usr/lib/orthanc/plugins",
    "/usr/local/share/orthanc/plugins",
    "/usr/lib/x86_64-linux-gnu/orthanc/plugins",
    "/usr/lib/aarch64-linux-gnu/orthanc/plugins",
)


class PeerError(RuntimeError):
    """A test peer could not be built, started or loaded."""


# --------------------------------------------------------------------------- tools


def find_dcmtk(name: str) -> str | None:
    """Path of DCMTK program `name` on PATH, skipping pynetdicom's same-named scripts.

    pynetdicom installs console scripts called echoscu/findscu/getscu/movescu/storescu
    that may shadow DCMTK's binaries on PATH; those are Python scripts, DCMTK's are ELF.
    """
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / name
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        with candidate.open("rb") as handle:
            if handle.read(4) == b"\x7fELF":
                return str(candidate)
    return None


def find_orthanc() -> str | None:
    """Path of the Orthanc server binary (Debian: /usr/sbin/Orthanc), or None."""
    found = shutil.which("Orthanc")
    if found:
        return found
    return ORTHANC_BINARY if os.access(ORTHANC_BINARY, os.X_OK) else None


def find_dicomweb_plugin() -> str | None:
    """Path of Orthanc's DICOMweb plugin (``$ORTHANC_PLUGINS`` first, then the usual
    folders, then any folder named plugins beside the Orthanc binary), or None."""
    folders = [os.environ.get("ORTHANC_PLUGINS", ""), *PLUGIN_DIRS]
    binary = find_orthanc()
    if binary:
        prefix = Path(binary).resolve().parent.parent
        folders += [str(prefix / "share/orthanc/plugins"), str(prefix / "lib/orthanc/plugins")]
    for folder in folders:
        candidate = Path(folder) / DICOMWEB_PLUGIN if folder else None
        if candidate is not None and candidate.is_file():
            return str(candidate)
    return None


def require_dicomweb_plugin() -> str:
    """Path of Orthanc's DICOMweb plugin, or skip (fail under CI) when it is not installed."""
    path = find_dicomweb_plugin()
    if path is None:
        import pytest

        message = "Orthanc's DICOMweb plugin is not installed (apt package orthanc-dicomweb)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


def build_bindshim(out_dir: Path, cc: str = "cc") -> Path:
    """Compile tests/bindshim.c into out_dir/bindshim.so and return its path."""
    out = out_dir / "bindshim.so"
    cmd = [cc, "-shared", "-fPIC", "-o", str(out), str(HERE / "bindshim.c"), "-ldl"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PeerError(f"cannot build the bind shim: {result.stderr.strip()}")
    return out


def peer_env(shim: Path | None) -> dict[str, str]:
    """Environment for peers and DCMTK tools: Nagle off, loopback-only binds."""
    env = dict(os.environ)
    env["TCP_NODELAY"] = "1"
    if shim is not None:
        env["LD_PRELOAD"] = str(shim)
    return env


ORTHANC_GRACE = 0.5
"""Seconds Orthanc gets to exit on SIGTERM before it is killed."""


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float = 5.0) -> None:
    """Terminate a peer process by PID, wait, kill if it does not exit."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PeerError(f"peer exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise PeerError(f"nothing listens on {LOOPBACK}:{port} after {timeout:.0f} s")


def tmpfs_prefix(folder: Path, size_mb: int) -> list[str]:
    """A command prefix that runs a program with a size-limited tmpfs mounted on `folder`.

    The mount lives in a private mount namespace of the program (``unshare -m``, as root;
    else ``unshare -rm`` in a user namespace where the kernel allows it): nothing to
    unmount afterwards, and the test's own view of `folder` stays the plain folder.
    Skips (fails under CI) when neither works. Use: ``[*prefix, program, *args]``.
    """
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    script = f'mount -t tmpfs -o size={size_mb}m tmpfs "$1" && shift && exec "$@"'
    folder.mkdir(parents=True, exist_ok=True)
    for flags in (["-m"], ["-r", "-m"]):
        prefix = [unshare, *flags, "sh", "-c", script, "sh", str(folder)]
        try:
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=20, check=False)
        except OSError:
            break
        if probe.returncode == 0:
            return prefix
    import pytest

    message = "cannot mount a size-limited tmpfs here (needs root or user namespaces)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


# --------------------------------------------------------------------------- data


@dataclass
class SeriesInfo:
    """One generated series."""

    uid: str
    modality: str
    number: int
    description: str
    sop_class_uid: str
    instance_uids: list[str] = field(default_factory=list)


@dataclass
class StudyInfo:
    """One generated study."""

    uid: str
    patient_id: str
    patient_name: str
    date: str
    description: str
    accession: str
    series: list[SeriesInfo] = field(default_factory=list)

    @property
    def instance_count(self) -> int:
        """Number of instances in the study."""
        return sum(len(s.instance_uids) for s in self.series)

    @property
    def modalities(self) -> set[str]:
        """Modalities of the study's series."""
        return {s.modality for s in self.series}


@dataclass
class SyntheticArchive:
    """Files written by make_test_data() and what they contain."""

    files: list[Path]
    studies: list[StudyInfo]

    def study(self, description: str) -> StudyInfo:
        """The study with this description."""
        return next(s for s in self.studies if s.description == description)


def _image(
    sop_class: str,
    study: StudyInfo,
    series: SeriesInfo,
    index: int,
    size: int,
    charset: str | None,
) -> Dataset:
    """One synthetic single-frame image (16-bit, a gradient plus the slice index)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    sop_uid = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyInstanceUID = study.uid
    ds.StudyDate = study.date
    ds.StudyTime = "101500"
    ds.StudyID = "1"
    ds.AccessionNumber = study.accession
    ds.StudyDescription = study.description
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID = series.uid
    ds.SeriesNumber = series.number
    ds.SeriesDescription = series.description
    ds.Modality = series.modality
    ds.InstanceNumber = index + 1
    ds.ImagePositionPatient = [0.0, 0.0, float(index)]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 1.0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ramp = np.add.outer(np.arange(size), np.arange(size)).astype(np.uint16)
    shift = (index * 31) % 4096  # the same values for any index (no uint16 overflow)
    ds.PixelData = ((ramp * 7 + shift) % 4096).astype(np.uint16).tobytes()
    series.instance_uids.append(sop_uid)
    return ds


def _write_series(
    out_dir: Path,
    study: StudyInfo,
    series: SeriesInfo,
    count: int,
    size: int,
    charset: str | None = None,
) -> list[Path]:
    """Write `count` images of a series; return their paths."""
    paths = []
    study.series.append(series)
    for index in range(count):
        ds = _image(series.sop_class_uid, study, series, index, size, charset)
        path = out_dir / f"{series.uid}_{index:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _new_study(pid: str, name: str, date: str, desc: str, acc: str) -> StudyInfo:
    """A StudyInfo with a fresh UID."""
    return StudyInfo(generate_uid(), pid, name, date, desc, acc)


def _new_series(modality: str, number: int, desc: str, sop_class: str) -> SeriesInfo:
    """A SeriesInfo with a fresh UID."""
    return SeriesInfo(generate_uid(), modality, number, desc, sop_class)


def make_test_data(out_dir: Path, big_slices: int = 40, size: int = 64) -> SyntheticArchive:
    """Write a small synthetic archive into out_dir.

    Patient TP001 (DOE^JOHN): "CT CHEST" 2020-03-15 (CT 8 + CT 4), "MR BRAIN"
    2021-06-20 (MR 5). Patient TP002 (Latin-1 name MÜLLER^HANS): "CT ABDOMEN"
    2019-01-01 (CT `big_slices` at 128x128, for cancel/resume) + one SC image.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    chest = _new_study("TP001", "DOE^JOHN", "20200315", "CT CHEST", "ACC001")
    files += _write_series(out_dir, chest, _new_series("CT", 1, "AXIAL", CTImageStorage), 8, size)
    files += _write_series(out_dir, chest, _new_series("CT", 2, "CORONAL", CTImageStorage), 4, size)
    brain = _new_study("TP001", "DOE^JOHN", "20210620", "MR BRAIN", "ACC002")
    files += _write_series(out_dir, brain, _new_series("MR", 1, "T1", MRImageStorage), 5, size)
    abdomen = _new_study("TP002", "MÜLLER^HANS", "20190101", "CT ABDOMEN", "ACC003")
    big = _new_series("CT", 1, "VENOUS", CTImageStorage)
    files += _write_series(out_dir, abdomen, big, big_slices, 128, "ISO_IR 100")
    sc = _new_series("OT", 2, "SCREENSHOT", SecondaryCaptureImageStorage)
    files += _write_series(out_dir, abdomen, sc, 1, size, "ISO_IR 100")
    return SyntheticArchive(files, [chest, brain, abdomen])


def make_ct_study(out_dir: Path, slices: int, size: int = 512) -> tuple[str, list[Path]]:
    """A single-series CT study (for benchmarks); returns (study UID, files)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    study = _new_study("BENCH01", "BENCH^CT", "20240101", "BENCH CT", "BENCH1")
    series = _new_series("CT", 1, "AXIAL", CTImageStorage)
    return study.uid, _write_series(out_dir, study, series, slices, size)


# --------------------------------------------------------------------------- Orthanc


class OrthancPeer:
    """A private Orthanc on 127.0.0.1, started from its own JSON config."""

    def __init__(
        self,
        workdir: Path,
        dicom_port: int,
        http_port: int,
        aet: str = "ORTHANC",
        modalities: dict[str, tuple[str, str, int]] | None = None,
        shim: Path | None = None,
        binary: str | None = None,
        extra: dict[str, object] | None = None,
        plugins: Sequence[str] = (),
    ) -> None:
        """Describe the instance; call start() to run it. ``plugins``: shared libraries to
        load (e.g. :func:`require_dicomweb_plugin`; DICOMweb is then at :attr:`dicomweb`)."""
        self.workdir = workdir
        self.dicom_port = dicom_port
        self.http_port = http_port
        self.aet = aet
        self.modalities = modalities or {}
        self.shim = shim
        self.binary = binary or find_orthanc() or ORTHANC_BINARY
        self.extra = extra or {}
        self.plugins = list(plugins)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of its REST API."""
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        """Base URL of its DICOMweb API (with the DICOMweb plugin loaded)."""
        return f"{self.url}/dicom-web"

    def config(self) -> dict[str, object]:
        """The JSON configuration written for this instance."""
        storage = self.workdir / "storage"
        cfg: dict[str, object] = {
            "Name": "tuipacs-test",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "TemporaryDirectory": str(self.workdir / "tmp"),
            "Plugins": list(self.plugins),
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomServerEnabled": True,
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True,
            "DicomAlwaysAllowMove": True,
            "DicomModalities": {k: list(v) for k, v in self.modalities.items()},
            "DicomScuTimeout": 10,
            "DicomScpTimeout": 30,
            "SyncStorageArea": False,
            "StorageCompression": False,
            "UnknownSopClassAccepted": True,
            "DefaultEncoding": "Latin1",
            "StableAge": 3600,
        }
        cfg.update(self.extra)
        return cfg

    def start(self, timeout: float = 30.0) -> OrthancPeer:
        """Write the config, start Orthanc, wait for its REST API; return self."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "tmp").mkdir(exist_ok=True)
        config_path = self.workdir / "orthanc.json"
        config_path.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        log = (self.workdir / "orthanc.log").open("wb")
        self.proc = subprocess.Popen(
            [self.binary, "--logdir=" + str(self.workdir), str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=peer_env(self.shim),
            cwd=self.workdir,
        )
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Poll GET /system until it answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise PeerError(f"Orthanc exited ({self.proc.returncode}); see {self.workdir}")
            try:
                self.rest("GET", "/system")
                wait_for_port(self.dicom_port, self.proc, timeout=5.0)
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise PeerError(f"Orthanc did not answer on {self.url} in {timeout:.0f} s")

    def rest(self, method: str, path: str, body: bytes | None = None) -> object:
        """Call Orthanc's REST API and return the decoded JSON answer."""
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/dicom")
        users = self.extra.get("RegisteredUsers")
        if self.extra.get("AuthenticationEnabled") and isinstance(users, dict) and users:
            import base64

            user, password = next(iter(users.items()))
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def load(self, files: Iterable[Path]) -> int:
        """Upload files with POST /instances; return how many were stored."""
        count = 0
        for path in files:
            self.rest("POST", "/instances", path.read_bytes())
            count += 1
        return count

    def stop(self) -> None:
        """Stop Orthanc by PID: SIGTERM, then SIGKILL after half a second (a graceful stop
        takes Orthanc about 3.5 s, and its private storage is thrown away with the test;
        SQLite keeps the index consistent either way)."""
        stop_process(self.proc, grace=ORTHANC_GRACE)
        self.proc = None


# --------------------------------------------------------------------------- dcmqrscp


class DcmqrscpPeer:
    """DCMTK's dcmqrscp on 127.0.0.1 with its own config file and storage area."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        aet: str = "DCMQR",
        hosts: dict[str, tuple[str, str, int]] | None = None,
        shim: Path | None = None,
        binary: str | None = None,
        single_process: bool = False,
        max_pdu: int = 65536,
    ) -> None:
        """Describe the instance; call start() to run it."""
        self.workdir = workdir
        self.port = port
        self.aet = aet
        self.hosts = hosts or {}
        self.shim = shim
        self.binary = binary or find_dcmtk("dcmqrscp") or "dcmqrscp"
        self.single_process = single_process
        self.max_pdu = max_pdu
        self.proc: subprocess.Popen[bytes] | None = None

    def config_text(self) -> str:
        """The dcmqrscp.cfg written for this instance."""
        storage = self.workdir / "storage"
        host_lines = [f"{k} = ({ae}, {host}, {port})" for k, (ae, host, port) in self.hosts.items()]
        return "\n".join(
            [
                f"NetworkTCPPort = {self.port}",
                f"MaxPDUSize = {self.max_pdu}",
                "MaxAssociations = 16",
                "",
                "HostTable BEGIN",
                *host_lines,
                "HostTable END",
                "",
                "VendorTable BEGIN",
                "VendorTable END",
                "",
                "AETable BEGIN",
                f"{self.aet} {storage} RW (200, 1024mb) ANY",
                "AETable END",
                "",
            ]
        )

    def start(self) -> DcmqrscpPeer:
        """Write the config, start dcmqrscp, wait until it listens; return self."""
        (self.workdir / "storage").mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "dcmqrscp.cfg"
        config_path.write_text(self.config_text(), encoding="utf-8")
        args = [self.binary, "-c", str(config_path)]
        if self.single_process:
            args.append("--single-process")
        log = (self.workdir / "dcmqrscp.log").open("wb")
        self.proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=peer_env(self.shim),
            cwd=self.workdir,
            start_new_session=True,  # its forked children share our PID as group id
        )
        log.close()
        wait_for_port(self.port, self.proc)
        return self

    def load(self, files: Sequence[Path], dcmsend: str | None = None) -> None:
        """Store files into the archive with DCMTK dcmsend."""
        tool = dcmsend or find_dcmtk("dcmsend") or "dcmsend"
        args = [tool, "-aec", self.aet, LOOPBACK, str(self.port), *map(str, files)]
        result = subprocess.run(args, capture_output=True, env=peer_env(self.shim), check=False)
        if result.returncode != 0:
            raise PeerError(f"dcmsend failed: {result.stderr.decode(errors='replace')[-400:]}")

    def kill_hard(self) -> None:
        """SIGKILL dcmqrscp and the children it forked for associations (its group)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop dcmqrscp by PID, then any association child left in its group."""
        proc = self.proc
        stop_process(proc)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.proc = None


@dataclass(frozen=True)
class RemoteArchive:
    """A running test archive and the Node that reaches it."""

    kind: str
    node: Node


def start_orthanc(
    workdir: Path,
    files: Iterable[Path],
    shim: Path,
    binary: str | None,
    modalities: dict[str, tuple[str, str, int]] | None = None,
) -> OrthancPeer:
    """Start a private Orthanc on free loopback ports and load ``files`` (stop it by PID)."""
    peer = OrthancPeer(
        workdir,
        dicom_port=free_port(),
        http_port=free_port(),
        modalities=modalities,
        shim=shim,
        binary=binary,
    )
    try:
        peer.start()
        peer.load(files)
    except BaseException:
        peer.stop()
        raise
    return peer


def require_dcmtk(name: str) -> str:
    """Path of a DCMTK program (not pynetdicom's same-named script), or skip/fail."""
    path = find_dcmtk(name)
    if path is None:
        require_binary(f"{name} (DCMTK)")
    assert path is not None
    return path


def start_dcmqrscp(
    workdir: Path, shim: Path, local_ae: LocalAE, files: list[Path], single: bool = False
) -> DcmqrscpPeer:
    """Start a dcmqrscp that knows our AE as a move destination, loaded with files."""
    binary = require_dcmtk("dcmqrscp")
    dcmsend = require_dcmtk("dcmsend")
    peer = DcmqrscpPeer(
        workdir,
        port=free_port(),
        hosts={"tuipacs": (local_ae.ae_title, "127.0.0.1", local_ae.port)},
        shim=shim,
        binary=binary,
        single_process=single,
    )
    peer.start()
    try:
        peer.load(files, dcmsend=dcmsend)
    except Exception:
        peer.stop()
        raise
    return peer


class DirSink:
    """A test sink: moves each received file into a folder, remembers the UIDs."""

    def __init__(self, folder: Path) -> None:
        """Receive into folder."""
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.instances: dict[str, ReceivedInstance] = {}
        self.calls = 0

    def __call__(self, path: Path, instance: ReceivedInstance) -> None:
        """Move the file away (as Archive.add_file(move=True) will)."""
        shutil.move(path, self.folder / f"{instance.sop_instance_uid}.dcm")
        with self.lock:
            self.calls += 1
            self.instances[instance.sop_instance_uid] = instance

    def have(self, uid: str) -> bool:
        """Resume callback: is this instance already here?"""
        with self.lock:
            return uid in self.instances

    @property
    def files(self) -> list[Path]:
        """Files received so far."""
        return sorted(self.folder.glob("*.dcm"))
