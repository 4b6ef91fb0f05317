"""Synthetic test pictures for the display layer: a CT-like body slice and a gradient (test
only; scripts/bench_viewer.py uses them too).

Deterministic (seeded) so tests, the pty test app and the benchmark see the same pixels.
No patient data: everything here is drawn with numpy.
"""

from __future__ import annotations

import numpy as np


def _ellipse(
    yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float
) -> np.ndarray:
    """Boolean mask of an axis-aligned ellipse."""
    result: np.ndarray = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    return result


def ct_phantom(size: int = 512, *, noise_hu: float = 12.0, seed: int = 1) -> np.ndarray:
    """A CT-like axial body slice in Hounsfield units (int16, ``size`` x ``size``).

    Air around a body ellipse with a fat rim, soft tissue, two lungs with vessels,
    a contrast-filled aorta, a vertebra, ribs and a table; Gaussian noise inside the body
    (the air around it is clean, as outside a scanner's field of view).
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    hu = np.full((size, size), -1000.0, dtype=np.float32)
    body = _ellipse(yy, xx, 0.5, 0.5, 0.36, 0.46)
    hu[body] = -100.0  # subcutaneous fat
    inner = _ellipse(yy, xx, 0.5, 0.5, 0.33, 0.43)
    hu[inner] = 40.0 + 15.0 * np.sin(xx[inner] * 37.0) * np.cos(yy[inner] * 23.0)
    for cx in (0.3, 0.7):
        lung = _ellipse(yy, xx, 0.47, cx, 0.24, 0.15)
        hu[lung] = -850.0 + 60.0 * np.sin(xx[lung] * 90.0 + yy[lung] * 70.0) ** 8
    hu[_ellipse(yy, xx, 0.5, 0.5, 0.1, 0.08)] = 45.0  # heart
    hu[_ellipse(yy, xx, 0.66, 0.5, 0.035, 0.035)] = 250.0  # aorta with contrast
    hu[_ellipse(yy, xx, 0.77, 0.5, 0.055, 0.05)] = 700.0  # vertebral body
    hu[_ellipse(yy, xx, 0.77, 0.5, 0.035, 0.03)] = 250.0  # cancellous bone
    ring = _ellipse(yy, xx, 0.5, 0.5, 0.315, 0.415) & ~_ellipse(yy, xx, 0.5, 0.5, 0.3, 0.4)
    ribs = ring & (np.sin(np.arctan2(yy - 0.5, xx - 0.5) * 14.0) > 0.55)
    hu[ribs] = 900.0
    hu[(yy > 0.9) & (yy < 0.92) & (xx > 0.1) & (xx < 0.9)] = 200.0  # table
    rng = np.random.default_rng(seed)
    hu[body] += rng.normal(0.0, noise_hu, size=int(body.sum())).astype(np.float32)
    return np.clip(hu, -1024, 3071).astype(np.int16)


def window(values: np.ndarray, width: float, level: float) -> np.ndarray:
    """Linear window/level (DICOM C.11.2.1.2.1) of modality values to uint8 grey levels."""
    scaled = ((values.astype(np.float32) - (level - 0.5)) / (width - 1.0) + 0.5) * 255.0
    return np.clip(scaled, 0.0, 255.0).astype(np.uint8)


def gradient(height: int = 512, width: int = 512) -> np.ndarray:
    """A horizontal grey ramp from 0 to 255 (uint8, ``height`` x ``width``)."""
    ramp = np.linspace(0.0, 255.0, width, dtype=np.float32)
    return np.broadcast_to(np.round(ramp).astype(np.uint8), (height, width)).copy()
