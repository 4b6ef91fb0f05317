"""Drawing primitives for the synthetic demo phantoms (pure numpy, no randomness).

Shapes are given in millimetres on a :class:`Grid` and only the pixels inside each shape's
bounding box are touched, so stamping many small structures stays cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Region = tuple[slice, slice]
Mask = npt.NDArray[np.bool_]
Image = npt.NDArray[Any]


@dataclass(frozen=True)
class Grid:
    """Pixel-centre coordinates (mm) of an image: ``x`` along columns, ``y`` along rows."""

    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.float32]

    @classmethod
    def centred(cls, rows: int, cols: int, spacing: float) -> Grid:
        """A grid of ``rows`` x ``cols`` pixels of ``spacing`` mm centred on (0, 0)."""
        x = (np.arange(cols, dtype=np.float32) - (cols - 1) / 2) * spacing
        y = (np.arange(rows, dtype=np.float32) - (rows - 1) / 2) * spacing
        return cls(x=x, y=y)

    def region(self, x0: float, x1: float, y0: float, y1: float) -> Region | None:
        """Index slices of the pixels whose centres lie in [x0, x1] x [y0, y1], or None."""
        c0 = int(np.searchsorted(self.x, x0, side="left"))
        c1 = int(np.searchsorted(self.x, x1, side="right"))
        r0 = int(np.searchsorted(self.y, y0, side="left"))
        r1 = int(np.searchsorted(self.y, y1, side="right"))
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)


def ellipse(
    grid: Grid, cx: float, cy: float, ax: float, ay: float, angle: float = 0.0
) -> tuple[Region, Mask] | None:
    """Region and mask of an ellipse (semi-axes ``ax``, ``ay`` mm, rotated ``angle`` degrees)."""
    if ax <= 0 or ay <= 0:
        return None
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    half_w = math.hypot(ax * cos, ay * sin)
    half_h = math.hypot(ax * sin, ay * cos)
    region = grid.region(cx - half_w, cx + half_w, cy - half_h, cy + half_h)
    if region is None:
        return None
    dx = grid.x[region[1]][None, :] - cx
    dy = grid.y[region[0]][:, None] - cy
    if angle:
        dx, dy = dx * cos + dy * sin, dy * cos - dx * sin
    mask: Mask = (dx / ax) ** 2 + (dy / ay) ** 2 <= 1.0
    return region, mask


def fill_ellipse(
    image: Image,
    grid: Grid,
    cx: float,
    cy: float,
    ax: float,
    ay: float,
    value: float,
    angle: float = 0.0,
) -> None:
    """Set the pixels of an ellipse to ``value`` (in place)."""
    shape = ellipse(grid, cx, cy, ax, ay, angle)
    if shape is not None:
        region, mask = shape
        image[region][mask] = value


def fill_ellipse_where(
    image: Image,
    grid: Grid,
    centre: tuple[float, float],
    axes: tuple[float, float],
    value: float,
    below: float,
) -> None:
    """Set the pixels of an ellipse to ``value`` where the image is currently below ``below``."""
    shape = ellipse(grid, centre[0], centre[1], axes[0], axes[1])
    if shape is not None:
        region, mask = shape
        view = image[region]
        view[mask & (view < below)] = value


def ring(
    image: Image,
    grid: Grid,
    centre: tuple[float, float],
    axes: tuple[float, float],
    values: tuple[float, float],
    wall: float,
) -> None:
    """An ellipse of ``values[1]`` inside a wall ``wall`` mm thick of ``values[0]``."""
    cx, cy = centre
    fill_ellipse(image, grid, cx, cy, axes[0], axes[1], values[0])
    fill_ellipse(image, grid, cx, cy, axes[0] - wall, axes[1] - wall, values[1])


def sphere_radius(radius: float, distance: float) -> float:
    """Radius of the section of a sphere cut at ``distance`` from its centre (0 if missed)."""
    return math.sqrt(radius * radius - distance * distance) if abs(distance) < radius else 0.0


def profile(z: float, points: tuple[tuple[float, float], ...]) -> float:
    """Piecewise-linear profile through ``(z, value)`` points (any z order), 0 outside."""
    zs = [p[0] for p in points]
    if z < min(zs) or z > max(zs):
        return 0.0
    ordered = sorted(points)
    return float(np.interp(z, [p[0] for p in ordered], [p[1] for p in ordered]))
