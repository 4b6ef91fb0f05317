"""What the viewer shows as a stack: the images of a series, or the planes of a reformat.

The viewer asks a :class:`FrameSource` for "frame ``i`` of the current stack" (in its render
thread) and steps ``i`` through ``len(source)``; a
:class:`~tuipacs.view.frames.FrameStore` is the acquired images, a :class:`ReformatStack` the
sagittal or coronal planes of a volume (:mod:`tuipacs.imaging.mpr`), one voxel apart, as a
:class:`~tuipacs.view.frames.Frame` the same render path takes (:mod:`tuipacs.view.reformat`).

A ReformatStack is immutable (the render thread may use an older one while the reader changes
the slab): :meth:`ReformatStack.with_slab` makes another over the same volume. Pure: no UI.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tuipacs.imaging.mpr import Plane, Reformatter, SlabMode
from tuipacs.imaging.volume import Volume, VolumeError
from tuipacs.view.frames import Frame, ImageRef
from tuipacs.view.reformat import reformat_frame

SLAB_STEPS = (0.0, 2.0, 5.0, 10.0, 20.0, 40.0)
"""Slab thicknesses ``{`` and ``}`` step through, in mm (0: a single voxel)."""
SLAB_MODES = (SlabMode.AVG, SlabMode.MIP, SlabMode.MINIP)
"""Slab modes in the order ``e`` cycles them (a thick slab starts as an average)."""
MODE_NAMES = {SlabMode.MIP: "MIP", SlabMode.MINIP: "MinIP", SlabMode.AVG: "average"}
PLANES = ("", Plane.SAGITTAL.value, Plane.CORONAL.value)
"""The planes ``b`` cycles through ('' is the acquired images)."""


class FrameSource(Protocol):
    """A stack the viewer shows: frame ``i`` of ``len()`` frames."""

    def __len__(self) -> int: ...

    def get(self, index: int) -> Frame:
        """Frame ``index`` (blocking: the render thread calls it); ImagingError (one line)."""
        ...

    def prefetch(self, index: int, direction: int, radius: int = 8) -> None:
        """Prepare the neighbours of ``index`` in the background (or nothing)."""
        ...


def next_plane(plane: str) -> str:
    """The plane after ``plane`` in the cycle acquired -> sagittal -> coronal -> acquired."""
    return PLANES[(PLANES.index(plane) + 1) % len(PLANES)] if plane in PLANES else ""


def next_slab(thickness: float, thicker: bool) -> float:
    """The slab thickness after ``thickness`` in :data:`SLAB_STEPS`, up or down (clamped)."""
    if thicker:
        return next((s for s in SLAB_STEPS if s > thickness + 1e-9), SLAB_STEPS[-1])
    return next((s for s in reversed(SLAB_STEPS) if s < thickness - 1e-9), SLAB_STEPS[0])


def next_mode(mode: SlabMode) -> SlabMode:
    """The slab mode after ``mode`` in :data:`SLAB_MODES`."""
    return SLAB_MODES[(SLAB_MODES.index(mode) + 1) % len(SLAB_MODES)]


def volume_paths(images: Sequence[ImageRef]) -> list[Path]:
    """The files of a series' images for a volume; VolumeError (one line) for a series of
    multi-frame objects, which are not a stack of slices."""
    if any(ref.frame for ref in images):
        raise VolumeError(
            "the series holds multi-frame images: only a stack of single-frame slices can "
            "be reformatted"
        )
    return [ref.path for ref in images]


class ReformatStack:
    """The planes of ``volume`` parallel to ``plane``, one voxel apart, as frames: plane ``i``
    lies at :meth:`position` ``i`` mm (ascending), as a slab of ``thickness`` mm (0: one
    voxel) combined by ``mode``."""

    def __init__(
        self,
        volume: Volume,
        plane: str,
        thickness: float = 0.0,
        mode: SlabMode = SlabMode.AVG,
        reformatter: Reformatter | None = None,
    ) -> None:
        self.volume = volume
        self.reformatter = reformatter or Reformatter(volume, plane)
        self.plane = self.reformatter.plane
        self.thickness = float(thickness)
        self.mode = mode

    def with_slab(self, thickness: float, mode: SlabMode) -> ReformatStack:
        """The same planes with another slab (sharing the volume and its reformatter)."""
        return ReformatStack(self.volume, self.plane, thickness, mode, self.reformatter)

    def __len__(self) -> int:
        return self.reformatter.count

    @property
    def centre_index(self) -> int:
        """The plane at the centre of the volume (where a reformat opens)."""
        return self._plane_index(self.reformatter.index_at(self.reformatter.centre))

    def _plane_index(self, volume_index: int) -> int:
        """Plane number of volume index ``volume_index`` (planes run by ascending position;
        the mapping is its own inverse)."""
        if self.reformatter.layout.sign >= 0:
            return volume_index
        return self.reformatter.count - 1 - volume_index

    def position(self, index: int) -> float:
        """Position in mm (patient x for sagittal, y for coronal) of plane ``index``."""
        return self.reformatter.position_of(self._plane_index(index))

    def label(self) -> str:
        """The overlay's line for this stack, e.g. ``Sagittal  slab 10 mm MIP``."""
        name = self.plane.value.capitalize()
        if self.thickness <= 0:
            return name
        return f"{name}  slab {self.thickness:g} mm {MODE_NAMES[self.mode]}"

    def get(self, index: int) -> Frame:
        """The frame of plane ``index`` (VolumeError when there is no such plane)."""
        if not 0 <= index < len(self):
            raise VolumeError(f"plane {index + 1} is out of range (1..{len(self)})")
        thickness = self.thickness if self.thickness > 0 else None
        ref = self.reformatter.reformat(self.position(index), thickness, self.mode)
        return reformat_frame(self.volume, ref)

    def prefetch(self, index: int, direction: int, radius: int = 8) -> None:
        """Nothing: a plane is cut from the volume in a few milliseconds when asked for."""
