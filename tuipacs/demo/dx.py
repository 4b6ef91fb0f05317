"""Synthetic PA chest radiograph stored as MONOCHROME1 (low values display white).

The image is built as a map of attenuation (line integrals, in units of mu * mm) of soft
tissue, air and bone, then compressed like a processed "for presentation" radiograph: direct
exposure gets high stored values, bone low ones. ``x`` grows towards the patient's left
(image right, as for a PA view), ``y`` towards the feet; (0, 0) is the image centre.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from tuipacs.demo.draw import Grid, ellipse

SIZE = 2048
SPACING_MM = 0.2
MU_SOFT = 0.02
MU_BONE = 0.05
MAX_STORED = 4095
NOISE_SEED = 20240314

Float = npt.NDArray[np.float32]


def chest(size: int = SIZE, spacing: float = SPACING_MM) -> npt.NDArray[np.uint16]:
    """Stored values (12 bits, MONOCHROME1 sense) of a PA chest radiograph."""
    grid = Grid.centred(size, size, spacing)
    att = _trunk(grid)
    att -= MU_SOFT * _lung_air(grid)
    for side in (-1, 1):
        _ribs(att, grid, side)
        _clavicle(att, grid, side)
        _shoulder(att, grid, side)
    _spine(att, grid)
    _stomach_bubble(att, grid)
    stored = 300.0 + 3500.0 * np.exp(-att / 2.2)
    rng = np.random.default_rng(NOISE_SEED)
    stored += rng.normal(0.0, 12.0, stored.shape).astype(np.float32)
    result: npt.NDArray[np.uint16] = np.clip(np.rint(stored), 0, MAX_STORED).astype("<u2")
    return result


def _trunk(grid: Grid) -> Float:
    """Soft-tissue attenuation of the neck, shoulders and trunk (elliptic cross-sections)."""
    widths = np.interp(grid.y, [-220, -165, -140, -110, 60, 220], [48, 58, 150, 172, 165, 160])
    depths = np.interp(grid.y, [-220, -150, -100, 220], [55, 70, 105, 115])
    ratio = grid.x[None, :] / widths[:, None].astype(np.float32)
    path = np.sqrt(np.clip(1.0 - ratio * ratio, 0.0, 1.0)) * depths[:, None].astype(np.float32)
    return ((2.0 * MU_SOFT) * path).astype(np.float32)


def _lung_air(grid: Grid) -> Float:
    """Air path length (mm) through both lungs, minus the heart and mediastinum shadows."""
    air = np.zeros((grid.y.size, grid.x.size), dtype=np.float32)
    for side, dome in ((-1, 78.0), (1, 92.0)):
        cx, ax, ay, cy = side * 88.0, 70.0, 150.0, 20.0
        shape = ellipse(grid, cx, cy, ax, ay)
        if shape is None:
            continue
        region, mask = shape
        dx = (grid.x[region[1]][None, :] - cx) / ax
        dy = (grid.y[region[0]][:, None] - cy) / ay
        depth = 150.0 * np.sqrt(np.clip(1.0 - dx * dx - dy * dy, 0.0, 1.0))
        diaphragm = dome + 0.006 * (grid.x[region[1]][None, :] - cx * 0.9) ** 2
        depth *= np.clip((diaphragm - grid.y[region[0]][:, None]) / 12.0, 0.0, 1.0)
        air[region] += np.where(mask, depth, 0.0)
    _shadow(air, grid, (30.0, 58.0), (84.0, 64.0), -18.0, 1.0)
    _shadow(air, grid, (30.0, -45.0), (22.0, 20.0), 0.0, 0.8)
    _shadow(air, grid, (-8.0, -30.0), (26.0, 110.0), 0.0, 0.7)
    _vessels(air, grid)
    return air


def _shadow(
    air: Float,
    grid: Grid,
    centre: tuple[float, float],
    axes: tuple[float, float],
    angle: float,
    strength: float,
) -> None:
    """Remove a soft-edged fraction of the air where a dense organ sits in front of it."""
    shape = ellipse(grid, centre[0], centre[1], axes[0] * 1.15, axes[1] * 1.15, angle)
    if shape is None:
        return
    region, _mask = shape
    theta = math.radians(angle)
    dx = grid.x[region[1]][None, :] - centre[0]
    dy = grid.y[region[0]][:, None] - centre[1]
    u = (dx * math.cos(theta) + dy * math.sin(theta)) / axes[0]
    v = (dy * math.cos(theta) - dx * math.sin(theta)) / axes[1]
    cover = np.clip((1.15 - np.sqrt(u * u + v * v)) / 0.3, 0.0, 1.0) * strength
    air[region] *= 1.0 - cover


def _vessels(air: Float, grid: Grid) -> None:
    """Branching vascular markings fanning out from both hila (fixed pseudo-random)."""
    rng = np.random.default_rng(5)
    for side in (-1, 1):
        hilum = (side * 48.0, 10.0)
        for _ in range(16):
            angle = math.radians(side * 90 + rng.uniform(-80, 80))
            length = rng.uniform(50, 115)
            end = (hilum[0] + length * math.sin(angle), hilum[1] - length * math.cos(angle))
            _segment(air, grid, hilum, end, rng.uniform(2.0, 3.5))
            mid = (hilum[0] + 0.5 * (end[0] - hilum[0]), hilum[1] + 0.5 * (end[1] - hilum[1]))
            turn = angle + math.radians(rng.choice([-35, 35]))
            twig = (mid[0] + 40 * math.sin(turn), mid[1] - 40 * math.cos(turn))
            _segment(air, grid, mid, twig, 1.6)


def _segment(
    air: Float, grid: Grid, start: tuple[float, float], end: tuple[float, float], width: float
) -> None:
    """A vessel tapering from ``width`` mm at ``start`` to nothing at ``end``."""
    region = grid.region(
        min(start[0], end[0]) - width,
        max(start[0], end[0]) + width,
        min(start[1], end[1]) - width,
        max(start[1], end[1]) + width,
    )
    if region is None:
        return
    sx, sy = start
    ex, ey = end[0] - sx, end[1] - sy
    px = grid.x[region[1]][None, :] - sx
    py = grid.y[region[0]][:, None] - sy
    t = np.clip((px * ex + py * ey) / (ex * ex + ey * ey), 0.0, 1.0)
    dist = np.hypot(px - t * ex, py - t * ey)
    radius = width * (1.0 - 0.8 * t)
    core = np.clip(1.0 - dist / radius, 0.0, 1.0)
    air[region] *= 1.0 - 0.4 * core


def _ribs(att: Float, grid: Grid, side: int) -> None:
    """Posterior ribs (curving down laterally) and fainter anterior ribs."""
    for i in range(10):
        _rib(att, grid, side, (-128.0 + 25.0 * i, -0.2, 0.0045, 0.0), 5.5, 1.0)
    for i in range(6):
        _rib(att, grid, side, (-50.0 + 30.0 * i, -0.35, 0.0, 0.0), 6.0, 0.35)


def _rib(
    att: Float,
    grid: Grid,
    side: int,
    shape: tuple[float, float, float, float],
    half_width: float,
    weight: float,
) -> None:
    """Add a rib-like bone band 14-164 mm from the midline.

    Its centre row is ``y0 + slope*u + curve*u**2 + wave*sin(u/30)`` where ``u`` is the
    distance from the spine's edge and ``shape`` is ``(y0, slope, curve, wave)``.
    """
    x0, x1 = (14.0, 162.0) if side > 0 else (-162.0, -14.0)
    cols = grid.region(x0, x1, -1e9, 1e9)
    if cols is None:
        return
    u = np.abs(grid.x[cols[1]]) - 14.0
    y0, slope, curve, wave = shape
    line = (y0 + slope * u + curve * u * u + wave * np.sin(u / 30.0)).astype(np.float32)
    top, bottom = float(line.min()) - half_width, float(line.max()) + half_width
    region = grid.region(x0, x1, top, bottom)
    if region is None:
        return
    d = np.abs(grid.y[region[0]][:, None] - line[None, :]) / half_width
    profile = np.where(d < 1.0, 0.55 + 0.45 * d * d, 0.0) * (2 * half_width * MU_BONE * weight)
    fade = np.clip((150.0 - u) / 25.0, 0.0, 1.0)[None, :]
    att[region] += (profile * fade).astype(np.float32)


def _clavicle(att: Float, grid: Grid, side: int) -> None:
    """An S-curved clavicle from the sternal notch to the shoulder."""
    _rib(att, grid, side, (-150.0, -0.06, 0.0, 8.0), 9.0, 1.2)


def _shoulder(att: Float, grid: Grid, side: int) -> None:
    """Upper arm (soft tissue, humerus and its head) and the lateral border of the scapula."""
    _solid(att, grid, (side * 188.0, -20.0), (46.0, 210.0), 0.0, 2 * 46.0 * MU_SOFT)
    _solid(att, grid, (side * 186.0, -20.0), (13.0, 110.0), 0.0, 2 * 13.0 * MU_BONE)
    _solid(att, grid, (side * 176.0, -128.0), (27.0, 29.0), 0.0, 2 * 27.0 * MU_BONE)
    _solid(att, grid, (side * 128.0, -70.0), (10.0, 75.0), side * 18.0, 12.0 * MU_BONE)


def _solid(
    att: Float,
    grid: Grid,
    centre: tuple[float, float],
    axes: tuple[float, float],
    angle: float,
    peak: float,
) -> None:
    """Add an ellipsoid's projection: ``peak`` at the centre, falling to 0 at the rim."""
    shape = ellipse(grid, centre[0], centre[1], axes[0], axes[1], angle)
    if shape is None:
        return
    region, _mask = shape
    theta = math.radians(angle)
    dx = grid.x[region[1]][None, :] - centre[0]
    dy = grid.y[region[0]][:, None] - centre[1]
    u = (dx * math.cos(theta) + dy * math.sin(theta)) / axes[0]
    v = (dy * math.cos(theta) - dx * math.sin(theta)) / axes[1]
    att[region] += (peak * np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, 1.0))).astype(np.float32)


def _spine(att: Float, grid: Grid) -> None:
    """The thoracic spine: a column of vertebral bodies with end plates every 28 mm."""
    cols = grid.region(-20.0, 20.0, -1e9, 1e9)
    if cols is None:
        return
    x = grid.x[cols[1]][None, :] / 20.0
    y = grid.y[:, None]
    width = np.sqrt(np.clip(1.0 - x * x, 0.0, 1.0))
    plates = 0.75 + 0.25 * np.cos(2 * np.pi * y / 28.0) ** 8
    start = (y > -230).astype(np.float32)
    att[:, cols[1]] += (40.0 * MU_BONE * width * plates * start).astype(np.float32)


def _stomach_bubble(att: Float, grid: Grid) -> None:
    """Gas in the gastric fundus under the left hemidiaphragm."""
    _solid(att, grid, (70.0, 140.0), (34.0, 20.0), 0.0, -45.0 * MU_SOFT)
