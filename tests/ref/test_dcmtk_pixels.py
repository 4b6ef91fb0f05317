"""Reference tests: tuipacs.imaging renders like DCMTK's dcmj2pnm, file by file.

Every file that pydicom and pydicom-data ship is enumerated (never hand-picked) and
is its own test id. For each image we render the first frame (and the middle frame of
multi-frame objects) with the same window DCMTK is given and compare the 8-bit
output:

* grey images: the file's first window, the min-max window of the frame (both passed
  to DCMTK as ``+Ww C W``), the default choice (``+Wi 1`` / ``+Wl 1`` / ``+Wm``), and
  ``-O`` for files with overlays;
* colour images: DCMTK's default RGB output.

Lossless data must match exactly. Lossy data may differ where the decoders differ:
grey by at most one level on < 1 % of pixels (< 2 % for the two 12-bit lossy JPEGs,
whose decoders' IDCTs disagree by one stored value; for those the pipeline alone is
also checked exactly on DCMTK's own decoding) and colour by at most 2 per channel.
JPEG-LS goes through ``dcml2pnm``; JPEG 2000 through ``gdcmconv --raw`` first.

Files DCMTK cannot render are listed in ``SKIP_REASONS`` (checked to still fail in
DCMTK) or compared with a twin file; deliberately broken files are in ``BROKEN`` and
must raise ``ImagingError``. Non-image files are skipped with an automatic reason.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers import require_binary
from PIL import Image
from pydicom.data.data_manager import DATA_ROOT, external_data_sources
from ref import samples

from tuipacs.imaging.errors import ImagingError
from tuipacs.imaging.pipeline import DisplayPipeline
from tuipacs.imaging.presets import minmax_window
from tuipacs.imaging.render import render_image, render_to_file
from tuipacs.imaging.voi import VoiFunction, Window

JPEG_LS = ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81")
JPEG_2000 = ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91")
JPEG_12BIT_CAPABLE = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51")
LOSSY_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.91",
    }
)

SKIP_REASONS: dict[str, str] = {
    "SC_rgb_jpeg.dcm": "DCMTK cannot read it (malformed VRs); compared with its twin instead",
    "pydicom-data/SC_rgb_32bit.dcm": "DCMTK cannot decode 32-bit uncompressed RGB (VR OB)",
    "pydicom-data/SC_rgb_32bit_2frame.dcm": "DCMTK cannot decode 32-bit uncompressed RGB (VR OB)",
    "pydicom-data/SC_rgb_expb_32bit.dcm": "DCMTK cannot decode 32-bit uncompressed RGB (VR OB)",
    "pydicom-data/SC_rgb_expb_32bit_2frame.dcm": (
        "DCMTK cannot decode 32-bit uncompressed RGB (VR OB)"
    ),
    "pydicom-data/gdcm-US-ALOKA-16.dcm": "DCMTK does not support segmented palettes",
    "pydicom-data/gdcm-US-ALOKA-16_big.dcm": "DCMTK does not support segmented palettes",
}
"""Image files DCMTK cannot render (each is checked to still fail in DCMTK)."""

TWINS: dict[str, tuple[str, str]] = {
    "SC_rgb_jpeg.dcm": ("SC_rgb_jpeg_dcmd.dcm", "DCMTK's decompressed copy of the same image"),
    "rtdose_expb.dcm": (
        "rtdose.dcm",
        "DCMTK reads 32-bit big endian OW pixel data as 16-bit words; "
        "the little endian twin holds the same values",
    ),
    "rtdose_expb_1frame.dcm": ("rtdose_1frame.dcm", "as rtdose_expb.dcm"),
    "pydicom-data/gdcm-US-ALOKA-16_big.dcm": (
        "pydicom-data/gdcm-US-ALOKA-16.dcm",
        "big and little endian copies must render identically (no DCMTK reference)",
    ),
    "pydicom-data/SC_rgb_expb_32bit.dcm": (
        "pydicom-data/SC_rgb_32bit.dcm",
        "big and little endian copies must render identically (no DCMTK reference)",
    ),
}
"""file -> (twin, why): rendered like the twin, which DCMTK renders (or which must match)."""

BROKEN: dict[str, str] = {
    "MR_truncated.dcm": "pixel data truncated",
    "JPEG2000-embedded-sequence-delimiter.dcm": "corrupt JPEG 2000 codestream",
    "no_meta.dcm": "a stray byte before the data set: neither pydicom nor DCMTK can parse it",
    "pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm": "pixel data truncated",
}
"""Deliberately broken files: ``render_to_file`` must raise ImagingError (DCMTK fails too)."""

DECODER_TOLERANCE: dict[str, float] = {
    "JPEG-lossy.dcm": 0.98,
    "JPGExtended.dcm": 0.98,
}
"""12-bit lossy JPEG: libjpeg and DCMTK's IJG differ by one stored value on 1.4 % of
pixels, so the share of identical grey levels at a min-max window is 98.7 %."""


@dataclass
class Entry:
    """One test file: where it is and what kind of test it needs."""

    file_id: str
    path: Path
    skip: str = ""
    kind: str = ""
    frames: int = 1
    syntax: str = ""
    lossy: bool = False
    overlays: bool = False
    windows: int = 0
    voi_lut: bool = False
    group_rescale: bool = False
    notes: list[str] = field(default_factory=list)


def _all_files() -> list[tuple[str, Path]]:
    """Every file pydicom and pydicom-data ship, as (test id, path)."""
    root = Path(DATA_ROOT) / "test_files"
    found = [(str(p.relative_to(root)), p) for p in sorted(root.rglob("*")) if p.is_file()]
    source = external_data_sources().get("pydicom-data")
    if source is not None:
        for name in sorted(source.get_paths("**/*", 0)):
            found.append((f"pydicom-data/{Path(name).name}", Path(name)))
    return found


def _classify(file_id: str, path: Path) -> Entry:
    """Read the header and decide how (or why not) to test the file."""
    entry = Entry(file_id, path)
    if file_id in BROKEN:
        entry.skip = f"deliberately broken ({BROKEN[file_id]}); see test_broken_files_fail_cleanly"
        return entry
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe = DisplayPipeline.open(path)
    except ImagingError as exc:
        entry.skip = f"not an image: {exc}"
        return entry
    ds = pipe.dataset
    entry.kind = "color" if pipe.is_color else "grey"
    entry.frames = pipe.frame_count
    entry.syntax = pipe.info.transfer_syntax
    lossy_flag = str(ds.get("LossyImageCompression", "") or "") == "01"
    entry.lossy = entry.syntax in LOSSY_SYNTAXES or (lossy_flag and pipe.info.is_compressed)
    entry.overlays = bool(pipe.overlays())
    entry.windows = len(pipe.windows(0))
    entry.voi_lut = bool(pipe.voi_luts(0))
    groups = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")
    entry.group_rescale = any(
        "PixelValueTransformationSequence" in item or "FrameVOILUTSequence" in item
        for key in groups
        for item in ds.get(key, [])
    )
    if file_id in SKIP_REASONS and file_id not in TWINS:
        entry.skip = SKIP_REASONS[file_id]
    return entry


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    CATALOG: dict[str, Entry] = {fid: _classify(fid, p) for fid, p in _all_files()}


class Dcmtk:
    """Runs DCMTK conversions in two threads; results are 8-bit arrays or error text."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dcmtk")
        self._raw: dict[Path, Path | str] = {}
        self._raw_locks: dict[Path, threading.Lock] = {}
        self._lock = threading.Lock()
        self._count = 0

    def _name(self, suffix: str) -> Path:
        with self._lock:
            self._count += 1
            return self.folder / f"{self._count}{suffix}"

    def _decompressed(self, path: Path) -> Path | str:
        """gdcmconv --raw output (DCMTK has no JPEG 2000 decoder)."""
        out = self._name(".dcm")
        run = subprocess.run(["gdcmconv", "--raw", str(path), str(out)], capture_output=True)
        return out if run.returncode == 0 else f"gdcmconv failed: {run.stderr[-200:]!r}"

    def _raw_copy(self, path: Path) -> Path | str:
        """The decompressed copy of ``path``, made once (never waits on the pool)."""
        with self._lock:
            lock = self._raw_locks.setdefault(path, threading.Lock())
        with lock:
            if path not in self._raw:
                self._raw[path] = self._decompressed(path)
            return self._raw[path]

    def _convert(self, path: Path, syntax: str, args: list[str]) -> np.ndarray | str:
        src: Path | str = path
        if syntax in JPEG_2000:
            src = self._raw_copy(path)
            if isinstance(src, str):
                return src
        tool = "dcml2pnm" if syntax in JPEG_LS else "dcmj2pnm"
        out = self._name(".png")
        run = subprocess.run([tool, "+on", *args, str(src), str(out)], capture_output=True)
        if run.returncode != 0:
            return f"{tool} failed: {run.stderr.decode(errors='replace')[-300:]}"
        with Image.open(out) as image:
            return np.asarray(image)

    def submit(self, path: Path, syntax: str, args: list[str]) -> Future[np.ndarray | str]:
        """Convert ``path`` with ``args`` in the background."""
        return self.pool.submit(self._convert, path, syntax, args)

    def decode_only(self, path: Path) -> Path:
        """DCMTK's decompressed copy of a JPEG file (dcmdjpeg)."""
        out = self._name(".dcm")
        subprocess.run(["dcmdjpeg", str(path), str(out)], check=True, capture_output=True)
        return out


@pytest.fixture(scope="session")
def dcmtk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dcmtk]:
    """DCMTK runner (dcmj2pnm, dcml2pnm, gdcmconv must be installed)."""
    for tool in ("dcmj2pnm", "dcml2pnm", "gdcmconv", "dcmdjpeg"):
        require_binary(tool)
    runner = Dcmtk(tmp_path_factory.mktemp("dcmtk"))
    yield runner
    runner.pool.shutdown(wait=True)


def _window_args(window: Window) -> list[str]:
    """``+Ww C W`` for DCMTK (LINEAR_EXACT, which DCMTK 3.6.7 ignores, as LINEAR)."""
    center, width = window.center, window.width
    if window.function is VoiFunction.LINEAR_EXACT:
        center, width = center + 0.5, width + 1.0
    return ["+Ww", repr(float(center)), repr(float(width))]


def _dcmtk_transform(pipe: DisplayPipeline) -> tuple[float, float] | None:
    """(slope, intercept) DCMTK 3.6.7 applies: top level, else Shared Functional Groups.

    DCMTK ignores Per-frame Functional Groups (and every Frame VOI LUT macro).
    None when the transform is not a linear rescale (Modality LUT).
    """
    ds = pipe.dataset
    if "ModalityLUTSequence" in ds:
        return None
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        return float(ds.RescaleSlope), float(ds.RescaleIntercept)
    shared = ds.get("SharedFunctionalGroupsSequence")
    pvt = shared[0].get("PixelValueTransformationSequence") if shared else None
    if pvt:
        return float(pvt[0].RescaleSlope), float(pvt[0].RescaleIntercept)
    return 1.0, 0.0


def _dcmtk_window(pipe: DisplayPipeline, index: int, window: Window) -> Window:
    """The window that makes DCMTK reproduce ``window`` despite its own modality transform.

    Our transform for the frame maps stored x to s1*x + b1, DCMTK's to s0*x + b0; a
    linear window (c, w) on ours equals the window (c', w') on DCMTK's with
    c' - 0.5 = (c - 0.5 - b1) * s0/s1 + b0 and w' - 1 = (w - 1) * s0/s1.
    """
    ours = pipe.modality_transform(index)
    theirs = _dcmtk_transform(pipe)
    if ours.lut is not None or theirs is None:
        return window
    s0, b0 = theirs
    s1, b1 = ours.slope, ours.intercept
    if (s0, b0) == (s1, b1):
        return window
    center = (window.center - 0.5 - b1) * s0 / s1 + b0 + 0.5
    width = (window.width - 1.0) * s0 / s1 + 1.0
    return Window(center, width, window.explanation, window.function)


def _compare(ours: np.ndarray, ref: np.ndarray | str, entry: Entry, what: str) -> None:
    """Assert our image equals DCMTK's within the rules of the module docstring."""
    assert not isinstance(ref, str), f"{entry.file_id} {what}: {ref}"
    assert ours.shape == ref.shape, f"{entry.file_id} {what}: shape {ours.shape} != {ref.shape}"
    diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
    same = float(np.mean(diff == 0))
    detail = f"{entry.file_id} {what}: {same:.2%} identical, max difference {int(diff.max())}"
    if not entry.lossy:
        assert diff.max() == 0, detail
    elif entry.kind == "color":
        assert diff.max() <= 2, detail
    else:
        assert diff.max() <= 1, detail
        assert same >= DECODER_TOLERANCE.get(entry.file_id, 0.99), detail


def _frames(entry: Entry) -> list[int]:
    """First frame and, for multi-frame objects, the middle frame (1-based)."""
    middle = entry.frames // 2 + 1
    return [1, middle] if entry.frames > 1 else [1]


def _grey_jobs(
    entry: Entry, pipe: DisplayPipeline, dcmtk: Dcmtk, frame: int
) -> list[tuple[str, np.ndarray, Future[np.ndarray | str]]]:
    """(label, our image, DCMTK future) for every grey comparison of one frame."""
    index = frame - 1
    frame_args = ["+F", str(frame)]
    values = pipe.exact_modality_frame(index)
    windows = [("file window", w) for w in pipe.windows(index)[:1]]
    mm = minmax_window(values)
    windows.append(("min-max window", Window(mm.center, mm.width, "", pipe.voi_function(index))))
    jobs = []
    for label, window in windows:
        args = frame_args + _window_args(_dcmtk_window(pipe, index, window))
        ours = pipe.grey_frame(index, window, exact=True)
        jobs.append((f"frame {frame} {label}", ours, dcmtk.submit(entry.path, entry.syntax, args)))
        if entry.overlays and label == windows[0][0]:
            ours_plain = pipe.grey_frame(index, window, exact=True, overlays=False)
            future = dcmtk.submit(entry.path, entry.syntax, [*args, "-O"])
            jobs.append((f"frame {frame} {label} -O", ours_plain, future))
    if entry.voi_lut and not entry.windows:
        ours = pipe.grey_frame(index, pipe.voi_luts(index)[0], exact=True)
        future = dcmtk.submit(entry.path, entry.syntax, [*frame_args, "+Wl", "1"])
        jobs.append((f"frame {frame} VOI LUT 1", ours, future))
    return jobs


def _default_args(entry: Entry) -> list[str] | None:
    """DCMTK options equal to our default VOI choice, or None when not expressible."""
    if entry.kind == "color":
        return []
    if entry.group_rescale:
        return None
    if entry.windows:
        return ["+Wi", "1"]
    return ["+Wl", "1"] if entry.voi_lut else ["+Wm"]


FILE_IDS = sorted(CATALOG)


@pytest.mark.parametrize("file_id", FILE_IDS)
def test_matches_dcmtk(file_id: str, dcmtk: Dcmtk) -> None:
    """Our 8-bit output equals dcmj2pnm's for the same file, frame and window."""
    entry = CATALOG[file_id]
    if entry.skip:
        pytest.skip(f"{file_id}: {entry.skip}")
    reference = entry
    if file_id in TWINS:
        twin_id, _ = TWINS[file_id]
        reference = CATALOG[twin_id]
        if reference.skip:
            ours = render_image(entry.path)
            assert np.array_equal(ours, render_image(reference.path)), f"{file_id} != {twin_id}"
            return
    pipe = DisplayPipeline.open(entry.path, header_only=False)
    jobs: list[tuple[str, np.ndarray, Future[np.ndarray | str]]] = []
    default = _default_args(entry)
    if default is not None:
        future = dcmtk.submit(reference.path, reference.syntax, default)
        jobs.append(("render_image default", render_image(entry.path), future))
    for frame in _frames(entry):
        if entry.kind == "color":
            future = dcmtk.submit(reference.path, reference.syntax, ["+F", str(frame)])
            jobs.append((f"frame {frame}", pipe.rgb_frame(frame - 1), future))
        else:
            jobs.extend(_grey_jobs(entry, pipe, dcmtk, frame) if reference is entry else [])
    if entry.kind != "color" and reference is not entry:
        ref_pipe = DisplayPipeline.open(reference.path, header_only=False)
        for frame in _frames(entry):
            jobs.extend(_grey_jobs(reference, ref_pipe, dcmtk, frame))
            ours_twin = ref_pipe.grey_frame(frame - 1, exact=True)
            assert np.array_equal(pipe.grey_frame(frame - 1, exact=True), ours_twin)
    assert jobs, f"{file_id}: nothing compared"
    for what, ours, future in jobs:
        _compare(ours, future.result(), reference, what)


@pytest.mark.parametrize("file_id", sorted(DECODER_TOLERANCE))
def test_lossy_pipeline_exact_on_dcmtk_decoding(file_id: str, dcmtk: Dcmtk) -> None:
    """Where only the decoders differ, the pipeline is exact on DCMTK's own decoding."""
    entry = CATALOG[file_id]
    raw = dcmtk.decode_only(entry.path)
    pipe = DisplayPipeline.open(raw, header_only=False)
    values = pipe.exact_modality_frame(0)
    window = minmax_window(values)
    ref = dcmtk.submit(raw, "", _window_args(window)).result()
    assert not isinstance(ref, str), ref
    assert np.array_equal(pipe.grey_frame(0, window, exact=True), ref)


@pytest.mark.parametrize("file_id", sorted(k for k in SKIP_REASONS if k not in TWINS))
def test_skip_reasons_still_hold(file_id: str, dcmtk: Dcmtk) -> None:
    """Files skipped because DCMTK cannot render them still fail in DCMTK; we render them."""
    entry = CATALOG[file_id]
    result = dcmtk.submit(entry.path, entry.syntax, []).result()
    assert isinstance(result, str), f"DCMTK renders {file_id} now: remove it from SKIP_REASONS"
    pipe = DisplayPipeline.open(entry.path)
    image = render_image(entry.path)
    assert image.shape == (pipe.info.rows, pipe.info.columns, 3)


@pytest.mark.parametrize("file_id", sorted(BROKEN))
def test_broken_files_fail_cleanly(file_id: str, tmp_path: Path) -> None:
    """Deliberately broken files give one clear ImagingError line and no output."""
    path = CATALOG[file_id].path
    out = tmp_path / "out.png"
    with pytest.raises(ImagingError) as info:
        render_to_file(path, out)
    message = str(info.value)
    assert message and "\n" not in message
    assert path.name in message
    assert not out.exists()


def test_non_images_are_rejected_cleanly() -> None:
    """Every non-image test file yields ImagingError with a one-line message."""
    checked = 0
    for entry in CATALOG.values():
        if not entry.skip.startswith("not an image"):
            continue
        with pytest.raises(ImagingError) as info:
            render_image(entry.path)
        assert "\n" not in str(info.value)
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("file_id", sorted(BROKEN)[:2])
def test_cli_reports_broken_file(file_id: str, tmp_path: Path) -> None:
    """``tuipacs render`` on a broken file: exit 1 and one 'tuipacs: error:' line."""
    out = tmp_path / "out.png"
    run = subprocess.run(
        [sys.executable, "-m", "tuipacs", "render", str(CATALOG[file_id].path), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 1, run.stderr
    assert len(lines) == 1 and lines[0].startswith("tuipacs: error:"), run.stderr
    assert not out.exists()


def test_cli_render_matches_dcmtk(tmp_path: Path, dcmtk: Dcmtk) -> None:
    """``tuipacs render FILE -o OUT --frame N --window C W`` writes DCMTK's image."""
    entry = CATALOG["pydicom-data/emri_small.dcm"]
    out = tmp_path / "frame5.png"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tuipacs",
            "render",
            str(entry.path),
            "-o",
            str(out),
            "--frame",
            "5",
            "--window",
            "300",
            "600",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    ref = dcmtk.submit(entry.path, entry.syntax, ["+F", "5", "+Ww", "300", "600"]).result()
    with Image.open(out) as image:
        assert image.mode == "L"
        _compare(np.asarray(image), ref, entry, "CLI frame 5")


SYNTHETIC = sorted(samples.SAMPLES)


@pytest.fixture(scope="module")
def synthetic_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The synthetic samples written to a temporary folder."""
    return samples.write_all(tmp_path_factory.mktemp("synthetic"))


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_matches_dcmtk(name: str, synthetic_files: dict[str, Path], dcmtk: Dcmtk) -> None:
    """Signed, 12-in-16, MONOCHROME1/INVERSE, rescale, LINEAR_EXACT, SIGMOID, overlays,
    enhanced multi-frame, palette and YBR samples render like DCMTK."""
    path = synthetic_files[name]
    entry = _classify(f"synthetic/{name}", path)
    assert not entry.skip, entry.skip
    pipe = DisplayPipeline.open(path, header_only=False)
    jobs: list[tuple[str, np.ndarray, Future[np.ndarray | str]]] = []
    for frame in range(1, entry.frames + 1):
        if entry.kind == "color":
            future = dcmtk.submit(path, entry.syntax, ["+F", str(frame)])
            jobs.append((f"frame {frame}", pipe.rgb_frame(frame - 1), future))
        else:
            jobs.extend(_grey_jobs(entry, pipe, dcmtk, frame))
    for what, ours, future in jobs:
        _compare(ours, future.result(), entry, what)
