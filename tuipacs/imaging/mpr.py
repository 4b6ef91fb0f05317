"""Orthogonal reformats of a volume: sagittal and coronal planes, thick slabs (pure).

A :class:`Reformatter` is made once per volume and plane; each :meth:`Reformatter.reformat`
call takes a position in mm and returns a :class:`Reformat`: the 2-D modality values
oriented for display and their (row, column) spacing in mm, which keeps the picture's aspect
(the slice spacing is rarely the pixel spacing). No interpolation: the plane is a plane of
the volume's voxels, so its values are the stack's own.

Planes follow the volume's own axes: a sagittal reformat cuts across the volume axis nearest
the patient's left-right axis, a coronal one across the axis nearest front-back (so an axial
stack rotated in its plane gives correspondingly rotated reformats). Display orientation is
worked out from the direction cosines, never from the order of the files: superior at the
top; sagittal with anterior on the left; coronal with the patient's right on the left.

Positions are mm along the patient axis across the plane, in DICOM patient coordinates (LPS):
``x`` (towards the patient's left) for sagittal, ``y`` (towards the back) for coronal, as in
Image Position (Patient). The default is the centre of the volume. A slab of ``thickness`` mm
covers that many voxels across the plane (at least one), centred on the position, and keeps
their maximum (MIP), minimum (MinIP) or mean (average).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from tuipacs.imaging.volume import Volume, VolumeError

_PATIENT = np.eye(3)
_LETTERS = (("R", "L"), ("A", "P"), ("F", "H"))
"""Patient orientation letters for the -/+ ends of the x, y, z axes (DICOM PS3.3 C.7.6.1.1.1)."""


class Plane(StrEnum):
    """A reformat plane."""

    SAGITTAL = "sagittal"
    CORONAL = "coronal"


class SlabMode(StrEnum):
    """How the voxels across a thick slab make one pixel."""

    MIP = "mip"
    MINIP = "minip"
    AVG = "avg"


_ACROSS = {Plane.SAGITTAL: 0, Plane.CORONAL: 1}
"""The patient axis across each plane (0 = x, 1 = y)."""
_ACROSS_LETTER = {Plane.SAGITTAL: "x", Plane.CORONAL: "y"}


def direction_letters(vector: np.ndarray) -> str:
    """Patient orientation letters of a direction, main axis first (e.g. 'P', 'LH')."""
    order = sorted(range(3), key=lambda a: -abs(float(vector[a])))
    letters = [_LETTERS[a][1 if vector[a] > 0 else 0] for a in order if abs(vector[a]) > 0.2]
    return "".join(letters) or "?"


@dataclass(frozen=True)
class PlaneLayout:
    """Which volume axis lies across a plane and how the other two are displayed."""

    across: int
    """The volume axis across the plane (0 slices, 1 rows, 2 columns)."""
    vertical: int
    """The volume axis shown top to bottom."""
    horizontal: int
    """The volume axis shown left to right."""
    flip_vertical: bool
    """True when the vertical axis runs upwards (shown reversed)."""
    flip_horizontal: bool
    sign: float
    """+1 when the across axis runs towards the plane's positive patient axis, else -1."""


def plane_layout(axes: np.ndarray, plane: Plane) -> PlaneLayout:
    """The layout of ``plane`` for a volume whose axes point along the rows of ``axes``.

    Each patient axis (x, y, z) gets the volume axis best aligned with it (the assignment with
    the largest total alignment); superior goes to the top, and anterior (sagittal) or the
    patient's right (coronal) to the left.
    """
    best = max(
        itertools.permutations(range(3)),
        key=lambda p: sum(abs(float(axes[p[a]][a])) for a in range(3)),
    )
    across_patient = _ACROSS[plane]
    horizontal_patient = 1 if plane is Plane.SAGITTAL else 0
    across, horizontal, vertical = best[across_patient], best[horizontal_patient], best[2]
    return PlaneLayout(
        across=across,
        vertical=vertical,
        horizontal=horizontal,
        flip_vertical=bool(axes[vertical][2] > 0),
        flip_horizontal=bool(axes[horizontal][horizontal_patient] < 0),
        sign=1.0 if axes[across][across_patient] >= 0 else -1.0,
    )


@dataclass(frozen=True)
class Reformat:
    """One reformatted picture: modality values oriented for display, and where they lie."""

    values: np.ndarray
    """(rows, columns) modality values: the volume's dtype (float32 for an average)."""
    spacing: tuple[float, float]
    """(between rows, between columns) in mm: the picture's pixel spacing."""
    plane: Plane
    position: float
    """mm along the patient axis across the plane (the centre of the slab)."""
    index: int
    """The volume index across the plane at ``position``."""
    first: int
    """The first volume index of the slab across the plane."""
    count: int
    """Voxels across the slab (1 for a thin reformat)."""
    thickness: float
    """The slab's thickness in mm (``count`` voxels)."""
    mode: SlabMode
    corner: tuple[float, float, float]
    """Patient coordinates (mm) of the top-left pixel, on the plane at ``position``."""
    row_step: tuple[float, float, float]
    """Patient displacement (mm) from one row to the next (downwards)."""
    col_step: tuple[float, float, float]
    """Patient displacement (mm) from one column to the next (rightwards)."""

    @property
    def aspect(self) -> float:
        """Displayed height / width of one pixel (row spacing over column spacing)."""
        return self.spacing[0] / self.spacing[1]

    def point(self, row: float, col: float) -> np.ndarray:
        """Patient coordinates (mm) of pixel (``row``, ``col``) on the plane."""
        return np.array(self.corner) + row * np.array(self.row_step) + col * np.array(self.col_step)

    def edge_letters(self) -> tuple[str, str, str, str]:
        """Orientation letters of the (top, bottom, left, right) edges, e.g. ('H', 'F', 'A',
        'P') for a sagittal reformat."""
        down, right = np.array(self.row_step), np.array(self.col_step)
        return (
            direction_letters(-down),
            direction_letters(down),
            direction_letters(-right),
            direction_letters(right),
        )


class Reformatter:
    """Reformats of one volume in one plane; make once, call :meth:`reformat` per position."""

    def __init__(self, volume: Volume, plane: Plane | str) -> None:
        try:
            self.plane = Plane(str(plane).lower())
        except ValueError:
            raise VolumeError(f"unknown plane {plane!r}: use sagittal or coronal") from None
        self.volume = volume
        self.layout = plane_layout(volume.axes, self.plane)
        self.count = volume.values.shape[self.layout.across]
        self.step = float(volume.spacing[self.layout.across])
        base = float(np.dot(volume.origin, volume.axes[self.layout.across]))
        self._base = base

    def position_of(self, index: int) -> float:
        """mm along the patient axis across the plane of volume index ``index``."""
        return self.layout.sign * (self._base + index * self.step)

    @property
    def extent(self) -> tuple[float, float]:
        """(lowest, highest) position in mm."""
        a, b = self.position_of(0), self.position_of(self.count - 1)
        return (a, b) if a <= b else (b, a)

    @property
    def centre(self) -> float:
        """The position of the middle of the volume."""
        low, high = self.extent
        return (low + high) / 2

    def index_at(self, position: float) -> int:
        """The volume index nearest ``position`` mm; VolumeError when outside the volume."""
        if not isinstance(position, int | float) or not math.isfinite(position):
            raise VolumeError(f"invalid position {position!r}: give a number of mm")
        exact = (self.layout.sign * position - self._base) / self.step
        index = math.floor(exact + 0.5)
        if not 0 <= index < self.count:
            low, high = self.extent
            axis = _ACROSS_LETTER[self.plane]
            raise VolumeError(
                f"position {position:g} mm is outside the volume: {self.plane} positions run "
                f"from {axis} = {low:.1f} to {high:.1f} mm"
            )
        return index

    def slab(self, index: int, thickness: float | None) -> tuple[int, int]:
        """(first index, count) of the slab of ``thickness`` mm centred on ``index``."""
        if thickness is None:
            return index, 1
        if not isinstance(thickness, int | float) or not (
            math.isfinite(thickness) and thickness > 0
        ):
            raise VolumeError(f"invalid slab thickness {thickness!r}: give a positive number of mm")
        count = max(1, min(self.count, round(thickness / self.step)))
        first = min(max(0, index - (count - 1) // 2), self.count - count)
        return first, count

    def reformat(
        self,
        position: float | None = None,
        thickness: float | None = None,
        mode: SlabMode | str = SlabMode.MIP,
    ) -> Reformat:
        """The picture at ``position`` mm (None: the centre), as a slab of ``thickness`` mm
        (None: one voxel) combined by ``mode``."""
        try:
            slab_mode = SlabMode(str(mode).lower())
        except ValueError:
            raise VolumeError(f"unknown slab mode {mode!r}: use mip, minip or avg") from None
        index = self.index_at(self.centre if position is None else position)
        first, count = self.slab(index, thickness)
        values = self._values(first, count, slab_mode)
        return self._described(values, index, first, count, slab_mode)

    def _values(self, first: int, count: int, mode: SlabMode) -> np.ndarray:
        """The slab's combined values, in display orientation (contiguous)."""
        lay = self.layout
        picked: list[slice | int] = [slice(None)] * 3
        picked[lay.across] = slice(first, first + count)
        block = self.volume.values[tuple(picked)]
        if count == 1:
            plane = np.take(block, 0, axis=lay.across)
        elif mode is SlabMode.MIP:
            plane = block.max(axis=lay.across)
        elif mode is SlabMode.MINIP:
            plane = block.min(axis=lay.across)
        else:
            plane = block.mean(axis=lay.across, dtype=np.float64).astype(np.float32)
        # remaining axes keep their order; put the vertical one first
        kept = [a for a in range(3) if a != lay.across]
        if kept.index(lay.vertical) != 0:
            plane = plane.T
        if lay.flip_vertical:
            plane = plane[::-1]
        if lay.flip_horizontal:
            plane = plane[:, ::-1]
        return np.ascontiguousarray(plane)

    def _described(
        self, values: np.ndarray, index: int, first: int, count: int, mode: SlabMode
    ) -> Reformat:
        """A Reformat of ``values`` with its geometry."""
        lay, volume = self.layout, self.volume
        rows, cols = values.shape
        down = volume.axes[lay.vertical] * volume.spacing[lay.vertical]
        right = volume.axes[lay.horizontal] * volume.spacing[lay.horizontal]
        top = rows - 1 if lay.flip_vertical else 0
        left = cols - 1 if lay.flip_horizontal else 0
        voxel = [0.0, 0.0, 0.0]
        voxel[lay.across] = float(index)
        voxel[lay.vertical] = float(top)
        voxel[lay.horizontal] = float(left)
        corner = volume.point(*voxel)
        row_step = -down if lay.flip_vertical else down
        col_step = -right if lay.flip_horizontal else right
        return Reformat(
            values=values,
            spacing=(float(volume.spacing[lay.vertical]), float(volume.spacing[lay.horizontal])),
            plane=self.plane,
            position=self.position_of(index),
            index=index,
            first=first,
            count=count,
            thickness=count * self.step,
            mode=mode,
            corner=_triple(corner),
            row_step=_triple(row_step),
            col_step=_triple(col_step),
        )


def _triple(vector: np.ndarray) -> tuple[float, float, float]:
    """A 3-vector as a tuple of floats."""
    x, y, z = (float(v) for v in vector)
    return x, y, z


def reformat(
    volume: Volume,
    plane: Plane | str,
    position: float | None = None,
    thickness: float | None = None,
    mode: SlabMode | str = SlabMode.MIP,
) -> Reformat:
    """One reformat of ``volume`` (see :meth:`Reformatter.reformat`)."""
    return Reformatter(volume, plane).reformat(position, thickness, mode)
