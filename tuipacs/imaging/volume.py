"""A volume from a stack of single-frame slices, for reformats (pure: no UI).

:func:`build_volume` (files) and :func:`volume_from_datasets` (datasets in memory) read every
slice's geometry, check that the slices form one regular stack, then decode them through the
display pipeline (:class:`~tuipacs.imaging.pipeline.DisplayPipeline`, the same decode and
modality LUT as the viewer: HU for CT) into one array of shape (slices, rows, columns).

Geometry (DICOM patient coordinates, LPS, mm): the row direction ``r`` and column direction
``c`` are ImageOrientationPatient's two vectors; the slice normal is ``n = r x c``; a slice's
position along the stack is ``dot(ImagePositionPatient, n)``. The slices are sorted by that
position (increasing), whatever their instance numbers or file order, so volume axis 0 runs
along ``n``, axis 1 (row index) along ``c`` and axis 2 (column index) along ``r``::

    point(k, i, j) = origin + k * spacing[0] * n + i * spacing[1] * c + j * spacing[2] * r

Every value comes from a file and is untrusted. A stack that cannot be reformatted is refused
with one :class:`VolumeError` line naming the reason: fewer than :data:`MIN_SLICES` slices;
missing or unusable position, orientation or pixel spacing; orientations that differ between
slices; gantry tilt or shear (steps between slices not along the normal); irregular spacing;
different Rows, Columns or Pixel Spacing; multi-frame, colour or undecodable images; a volume
over the decode limit (checked before anything is allocated, at 4 bytes a voxel).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
from pydicom.dataset import Dataset

from tuipacs.imaging.errors import ImagingError, is_fatal, short_reason
from tuipacs.imaging.limits import decode_limit, human_bytes
from tuipacs.imaging.pipeline import DisplayPipeline
from tuipacs.imaging.reading import quiet, read_dataset, transfer_syntax_of
from tuipacs.imaging.voi import VoiFunction, Window

MIN_SLICES = 3
"""Fewer slices than this make no reformat worth showing."""
SAME_ORIENTATION = 1e-3
"""Direction cosines that differ by more than this belong to different stacks."""
SPACING_TOLERANCE = (0.01, 0.01)
"""(mm, fraction): steps between slices differing from the typical step by more than the larger
of the two are irregular; the same bound limits the sideways offset of a step (shear)."""
MAX_COORDINATE = 1e6
"""Positions and spacings beyond this many mm are not plausible (a metre is 1000)."""
MIN_SPACING = 1e-4
"""Pixel spacings under this many mm (0.1 micrometre) are not plausible."""
MIN_STEP = 1e-3
"""Slices closer than this many mm lie at the same position (duplicates)."""
VOXEL_BYTES = 4
"""Bytes a voxel is budgeted at (float32; integer modality values take 2)."""

_INT16 = np.iinfo(np.int16)
_T = TypeVar("_T")
PIXEL_DATA = 0x7FE00010
DEFLATED = "1.2.840.10008.1.2.1.99"


class VolumeError(ImagingError):
    """A series that cannot be made into a volume; ``str()`` is one line saying why."""


class Cancelled(VolumeError):
    """The build was cancelled (the reader left the series)."""


def _check_cancelled(cancelled: Callable[[], bool] | None) -> None:
    """Cancelled when ``cancelled()`` says so (a build stops between slices)."""
    if cancelled is not None and cancelled():
        raise Cancelled("the volume build was cancelled")


@dataclass(frozen=True)
class SliceGeometry:
    """The plane of one slice: position, unit row and column directions, spacing, size."""

    position: tuple[float, float, float]
    row_dir: tuple[float, float, float]
    col_dir: tuple[float, float, float]
    spacing: tuple[float, float]
    """(between rows, between columns) in mm: DICOM Pixel Spacing."""
    rows: int
    columns: int
    frame_of_reference: str = ""

    @property
    def normal(self) -> np.ndarray:
        """Unit slice normal ``row_dir x col_dir``."""
        return np.cross(np.array(self.row_dir), np.array(self.col_dir))


def _numbers(ds: Dataset, keyword: str, count: int) -> tuple[float, ...] | None:
    """``count`` finite numbers of attribute ``keyword``, or None (absent, short, not numbers).

    A value still raw from the file is parsed here (backslash-separated decimal strings);
    that is several times faster than pydicom's conversion and trusts nothing.
    """
    try:
        with quiet():
            item = ds.get_item(keyword)
            if item is None:
                return None
            value = item.value
            if isinstance(value, bytes):
                text = value.decode("ascii", "replace").replace("\x00", " ").strip()
                items: list[object] = list(text.split("\\")) if text else []
            elif value is None or value == "":
                return None
            elif isinstance(value, str | int | float):
                items = [value]
            else:
                items = list(value)
            numbers = tuple(float(str(v).strip()) for v in items)
    except Exception:  # noqa: BLE001 - any unreadable value is simply unusable
        return None
    if len(numbers) != count or not all(math.isfinite(v) for v in numbers):
        return None
    return numbers


def _unit(vector: Sequence[float], what: str) -> tuple[float, float, float]:
    """``vector`` scaled to length 1; VolumeError unless it is a unit vector already (1%)."""
    norm = math.sqrt(sum(v * v for v in vector))
    if not abs(norm - 1.0) <= 0.01:
        raise VolumeError(f"the {what} direction has length {norm:.4g}, not 1 (a bad orientation)")
    x, y, z = (v / norm for v in vector)
    return x, y, z


def slice_geometry(ds: Dataset, name: str = "a slice") -> SliceGeometry:
    """The plane of ``ds``; VolumeError (one line) when a tag is missing or unusable."""
    position = _numbers(ds, "ImagePositionPatient", 3)
    orientation = _numbers(ds, "ImageOrientationPatient", 6)
    spacing = _numbers(ds, "PixelSpacing", 2)
    for value, tag in (
        (position, "Image Position (Patient)"),
        (orientation, "Image Orientation (Patient)"),
        (spacing, "Pixel Spacing"),
    ):
        if value is None:
            raise VolumeError(f"{name} has no usable {tag}: only stacks with it can be reformatted")
    assert position is not None and orientation is not None and spacing is not None
    if any(abs(v) > MAX_COORDINATE for v in position):
        raise VolumeError(f"{name} lies implausibly far away ({max(map(abs, position)):.3g} mm)")
    if not all(MIN_SPACING <= v <= MAX_COORDINATE for v in spacing):
        raise VolumeError(f"{name} has an impossible Pixel Spacing {spacing[0]:g}\\{spacing[1]:g}")
    row_dir = _unit(orientation[:3], "row")
    col_dir = _unit(orientation[3:], "column")
    if abs(sum(a * b for a, b in zip(row_dir, col_dir, strict=True))) > 0.01:
        raise VolumeError(f"{name} has row and column directions that are not perpendicular")
    rows, columns = _size(ds)
    x, y, z = position
    with quiet():
        frame_uid = str(ds.get("FrameOfReferenceUID", "") or "")
    return SliceGeometry(
        (x, y, z), row_dir, col_dir, (spacing[0], spacing[1]), rows, columns, frame_uid
    )


def _size(ds: Dataset) -> tuple[int, int]:
    """(Rows, Columns) as positive integers, 0 when unusable (the decode path says why)."""
    out = []
    for keyword in ("Rows", "Columns"):
        try:
            with quiet():
                out.append(max(0, int(ds.get(keyword) or 0)))
        except Exception:  # noqa: BLE001
            out.append(0)
    return out[0], out[1]


@dataclass(frozen=True)
class StackPlan:
    """How the slices form a volume: their order, the axes and the spacing (no pixels)."""

    order: list[int]
    """Indices of the input slices, sorted along the normal (increasing position)."""
    positions: list[float]
    """Position of each sorted slice along the normal, mm."""
    origin: tuple[float, float, float]
    axes: np.ndarray
    """3 x 3: unit directions of volume axes 0 (normal), 1 (rows: the column direction) and
    2 (columns: the row direction), in patient coordinates."""
    spacing: tuple[float, float, float]
    """mm between voxels along axes 0, 1, 2."""
    shape: tuple[int, int, int]


def check_count(count: int) -> None:
    """VolumeError unless ``count`` slices are enough for a reformat."""
    if count < MIN_SLICES:
        raise VolumeError(
            f"the series has {count} slice{'' if count == 1 else 's'}: "
            f"a reformat needs at least {MIN_SLICES}"
        )


def plan_stack(geometries: Sequence[SliceGeometry], limit: int | None = None) -> StackPlan:
    """Check that ``geometries`` form one regular stack and plan the volume; VolumeError
    (one line, the first problem found) otherwise. ``limit`` caps the volume's bytes."""
    limit = decode_limit() if limit is None else limit
    count = len(geometries)
    check_count(count)
    first = geometries[0]
    _check_same(geometries)
    normal = first.normal
    depth = [float(np.dot(g.position, normal)) for g in geometries]
    order = sorted(range(count), key=lambda i: depth[i])
    positions = [depth[i] for i in order]
    steps = [b - a for a, b in zip(positions, positions[1:], strict=False)]
    for k, step in enumerate(steps):
        if step < MIN_STEP:
            raise VolumeError(
                f"two slices lie at the same position ({positions[k]:.2f} mm along the normal): "
                "the series holds duplicates or several stacks"
            )
    _check_shear(geometries, order, normal)
    step = _regular_step(steps)
    rows, columns = first.rows, first.columns
    shape = (count, rows, columns)
    size = count * rows * columns * VOXEL_BYTES
    if size > limit:
        raise VolumeError(
            f"the volume is {count} x {rows} x {columns} voxels = {human_bytes(size)}, over "
            f"the {human_bytes(limit)} decode limit (raise decode_limit in the config)"
        )
    axes = np.array([normal, first.col_dir, first.row_dir], dtype=np.float64)
    origin = geometries[order[0]].position
    spacing = (step, first.spacing[0], first.spacing[1])
    return StackPlan(order, positions, origin, axes, spacing, shape)


def _check_same(geometries: Sequence[SliceGeometry]) -> None:
    """Orientation, size, spacing and frame of reference must be those of the first slice."""
    first = geometries[0]
    ref = np.array(first.row_dir + first.col_dir)
    for number, g in enumerate(geometries[1:], start=2):
        if float(np.max(np.abs(np.array(g.row_dir + g.col_dir) - ref))) > SAME_ORIENTATION:
            raise VolumeError(
                f"slice {number} is oriented differently from slice 1 (mixed orientation, e.g. "
                "a localizer in the series): only a stack of parallel slices can be reformatted"
            )
        if (g.rows, g.columns) != (first.rows, first.columns):
            raise VolumeError(
                f"slice {number} is {g.columns} x {g.rows} pixels, slice 1 "
                f"{first.columns} x {first.rows}: the slices must have one size"
            )
        if any(
            abs(a - b) > 1e-3 * max(a, b) for a, b in zip(g.spacing, first.spacing, strict=True)
        ):
            raise VolumeError(
                f"slice {number} has Pixel Spacing {g.spacing[0]:g}\\{g.spacing[1]:g}, slice 1 "
                f"{first.spacing[0]:g}\\{first.spacing[1]:g}: the slices must have one spacing"
            )
        if g.frame_of_reference != first.frame_of_reference:
            raise VolumeError(
                f"slice {number} is in another frame of reference than slice 1: "
                "the slices do not share one coordinate system"
            )


def _tolerance(step: float) -> float:
    """The allowed deviation for a step of ``step`` mm."""
    absolute, fraction = SPACING_TOLERANCE
    return max(absolute, fraction * abs(step))


def _check_shear(geometries: Sequence[SliceGeometry], order: list[int], normal: np.ndarray) -> None:
    """Each step between neighbours must run along the normal (no gantry tilt, no shear)."""
    points = np.array([geometries[i].position for i in order], dtype=np.float64)
    deltas = np.diff(points, axis=0)
    along = deltas @ normal
    sideways = np.linalg.norm(deltas - np.outer(along, normal), axis=1)
    for k in range(len(deltas)):
        if sideways[k] > _tolerance(float(along[k])):
            angle = math.degrees(math.atan2(float(sideways[k]), abs(float(along[k]))))
            raise VolumeError(
                f"the slices are sheared (gantry tilt of about {angle:.1f} degrees between "
                f"slices {k + 1} and {k + 2} in position order): tilted stacks cannot be "
                "reformatted yet"
            )


def _regular_step(steps: list[float]) -> float:
    """The common step between slices; VolumeError naming the steps found when irregular."""
    typical = float(np.median(steps))
    if all(abs(s - typical) <= _tolerance(typical) for s in steps):
        return float(np.mean(steps))
    found = sorted({round(s, 2) for s in steps})
    shown = ", ".join(f"{s:g}" for s in found[:4]) + (", ..." if len(found) > 4 else "")
    raise VolumeError(
        f"the slice spacing is irregular (steps of {shown} mm; a missing slice?): only evenly "
        "spaced stacks can be reformatted"
    )


@dataclass
class Volume:
    """Modality values (HU for CT) of a stack, shape (slices, rows, columns), with geometry.

    Build it once per series (:func:`build_volume`); reformats (:mod:`tuipacs.imaging.mpr`)
    are cheap views of it. ``values`` is int16 when every slice's modality values are integers
    that fit, float32 otherwise.
    """

    values: np.ndarray
    origin: tuple[float, float, float]
    axes: np.ndarray
    spacing: tuple[float, float, float]
    header: Dataset
    """The header of the first slice in position order (patient, study, windows)."""
    positions: list[float] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    """What each slice came from in position order (file paths, or '' for datasets)."""
    windows: list[Window] = field(default_factory=list)
    function: VoiFunction = VoiFunction.LINEAR
    invert: bool = False
    modality: str = ""

    @property
    def shape(self) -> tuple[int, int, int]:
        """(slices, rows, columns)."""
        k, i, j = self.values.shape
        return int(k), int(i), int(j)

    def point(self, k: float, i: float, j: float) -> np.ndarray:
        """Patient coordinates (mm) of voxel (slice ``k``, row ``i``, column ``j``)."""
        steps = np.array([k, i, j], dtype=np.float64) * np.array(self.spacing)
        return np.array(self.origin) + steps @ self.axes


def _guarded(number: int, work: Callable[[], _T]) -> _T:
    """``work()``, with anything it raises as one VolumeError line naming slice ``number``."""
    try:
        return work()
    except VolumeError:
        raise
    except ImagingError as exc:
        raise VolumeError(f"slice {number}: {exc.reason}", exc.reason) from None
    except BaseException as exc:
        if is_fatal(exc):
            raise
        raise VolumeError(f"slice {number}: {short_reason(exc)}") from None


def _checked_geometry(number: int, pipe: DisplayPipeline) -> SliceGeometry:
    """The geometry of a slice that can go into a volume (grey, single frame, decodable)."""
    if pipe.frame_count > 1:
        raise VolumeError(
            f"slice {number} has {pipe.frame_count} frames: multi-frame (enhanced) objects "
            "cannot be reformatted yet; choose a series of single-frame slices"
        )
    if pipe.is_color:
        raise VolumeError(f"slice {number} is a colour image: only grey images can be reformatted")
    pipe.source.check()
    geometry = slice_geometry(pipe.dataset, f"slice {number}")
    rows, columns = pipe.info.rows, pipe.info.columns
    if (geometry.rows, geometry.columns) != (rows, columns):
        geometry = SliceGeometry(
            geometry.position,
            geometry.row_dir,
            geometry.col_dir,
            geometry.spacing,
            rows,
            columns,
            geometry.frame_of_reference,
        )
    return geometry


def _fits_int16(pipe: DisplayPipeline) -> bool:
    """Whether the slice's modality values are integers inside int16 (from its header)."""
    transform = pipe.modality_transform(0)
    if not transform.is_integral:
        return False
    bits = max(1, min(pipe.info.bits_stored, 64))
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if pipe.info.signed else (0, 2**bits - 1)
    lo, hi = transform.value_range(low, high)
    return _INT16.min <= lo and hi <= _INT16.max


def assemble(
    pipes: Sequence[DisplayPipeline],
    limit: int | None = None,
    sources: Sequence[str] | None = None,
    *,
    release: bool = False,
    cancelled: Callable[[], bool] | None = None,
) -> Volume:
    """The volume of the slices behind ``pipes`` (opened pipelines, one per slice, any order):
    checked (see the module doc), then decoded into one array. With ``release`` each slice's
    Pixel Data element is dropped from its dataset once decoded (the datasets are ours).
    ``cancelled`` is asked before each slice is decoded: True stops with :class:`Cancelled`."""
    limit = decode_limit() if limit is None else limit
    check_count(len(pipes))
    geometries = [
        _guarded(n, partial(_checked_geometry, n, p)) for n, p in enumerate(pipes, start=1)
    ]
    plan = plan_stack(geometries, limit)
    integral = all(_guarded(n, partial(_fits_int16, p)) for n, p in enumerate(pipes, start=1))
    values = np.empty(plan.shape, dtype=np.int16 if integral else np.float32)
    for k, index in enumerate(plan.order):
        _check_cancelled(cancelled)
        pipe = pipes[index]
        frame = _guarded(index + 1, partial(pipe.modality_frame, 0))
        if frame.shape != plan.shape[1:]:
            raise VolumeError(f"slice {index + 1} decoded to an unexpected size {frame.shape}")
        if values.dtype != np.float32 and not np.can_cast(frame.dtype, values.dtype, "safe"):
            values = values.astype(np.float32)
        values[k] = frame
        if release:
            with quiet():
                pipe.dataset.pop(PIXEL_DATA, None)
    head = pipes[plan.order[0]]
    names = list(sources) if sources is not None else [""] * len(pipes)
    windows = head.windows(0)
    return Volume(
        values=values,
        origin=plan.origin,
        axes=plan.axes,
        spacing=plan.spacing,
        header=head.dataset,
        positions=plan.positions,
        sources=[names[i] for i in plan.order],
        windows=windows,
        function=windows[0].function if windows else VoiFunction.LINEAR,
        invert=head.invert,
        modality=head.modality,
    )


def _open_slice(path: Path, limit: int) -> DisplayPipeline:
    """The pipeline of one slice file: its header read, its pixel data left on disk and read
    in one piece when decoded (a deflated file is read whole then)."""
    ds = read_dataset(path, header_only=True, limit=limit)
    deflated = transfer_syntax_of(ds) == DEFLATED
    return DisplayPipeline(ds, path, from_file=deflated, limit=limit)


def build_volume(
    paths: Sequence[Path],
    limit: int | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Volume:
    """The volume of the single-frame slice files ``paths`` (one series, any order).

    Headers are read first and checked (nothing is allocated for a stack that will be
    refused); the pixel data is then decoded slice by slice into the volume. ``cancelled`` is
    asked before each file is read and each slice decoded (:class:`Cancelled` when True).
    """
    limit = decode_limit() if limit is None else limit
    pipes = []
    for n, path in enumerate(paths, start=1):
        _check_cancelled(cancelled)
        pipes.append(_guarded(n, partial(_open_slice, Path(path), limit)))
    return assemble(pipes, limit, [str(p) for p in paths], release=True, cancelled=cancelled)


def volume_from_datasets(datasets: Sequence[Dataset], limit: int | None = None) -> Volume:
    """The volume of in-memory datasets with their pixel data (one per slice, any order)."""
    limit = decode_limit() if limit is None else limit
    pipes = [
        _guarded(n, partial(DisplayPipeline, ds, limit=limit))
        for n, ds in enumerate(datasets, start=1)
    ]
    return assemble(pipes, limit)
