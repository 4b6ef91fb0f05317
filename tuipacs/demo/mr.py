"""Synthetic head MR phantom: one label volume, rendered with T1 and T2 contrast.

Coordinates are LPS mm with the head centred on (0, 0, 0): ``x`` towards the patient's left,
``y`` towards the back, ``z`` towards the vertex. The tissues are ellipsoids painted into a
label volume in order, then mapped to signal per weighting, blurred slightly (partial volume),
shaded by a smooth coil profile and given Rician noise from a fixed seed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

SIZE = 256
FOV_MM = 230.0
SPACING_MM = FOV_MM / SIZE  # 0.8984375
SLICES = 24
SLICE_GAP_MM = 6.0
THICKNESS_MM = 5.0
FIRST_Z_MM = -66.0
NOISE_SIGMA = 14.0

Weighting = Literal["T1", "T2"]

# label: (name, T1 signal, T2 signal)
TISSUES: tuple[tuple[str, float, float], ...] = (
    ("air", 0, 0),
    ("fat", 900, 620),
    ("bone", 40, 30),
    ("csf", 170, 1500),
    ("grey", 480, 640),
    ("white", 720, 380),
    ("vitreous", 150, 1450),
    ("lesion", 330, 1150),
    ("muscle", 420, 300),
)
_LABEL = {name: index for index, (name, _t1, _t2) in enumerate(TISSUES)}

# (tissue, centre xyz, semi-axes xyz, fold depth); painted in order, later ones on top.
Ellipsoid = tuple[str, tuple[float, float, float], tuple[float, float, float], float]
ELLIPSOIDS: tuple[Ellipsoid, ...] = (
    ("fat", (0, 0, 0), (78, 99, 100), 0),
    ("muscle", (0, 8, -62), (62, 70, 40), 0),
    ("bone", (0, 0, 0), (73, 93, 95), 0),
    ("csf", (0, 3, 3), (67, 87, 89), 0),
    ("grey", (0, 3, 4), (64, 84, 86), 0.04),
    ("white", (0, 3, 10), (51, 69, 68), 0.09),
    ("grey", (-17, 4, 6), (10, 17, 12), 0),
    ("grey", (17, 4, 6), (10, 17, 12), 0),
    ("csf", (-10, -4, 20), (8, 30, 12), 0),
    ("csf", (10, -4, 20), (8, 30, 12), 0),
    ("csf", (0, 10, 2), (2.5, 11, 9), 0),
    ("grey", (0, 52, -44), (46, 30, 22), 0),
    ("white", (0, 50, -42), (24, 16, 12), 0),
    ("white", (0, 18, -38), (12, 14, 26), 0),
    ("csf", (0, 36, -40), (5, 5, 8), 0),
    ("bone", (0, -62, -60), (52, 40, 22), 0),
    ("air", (0, -84, -52), (9, 14, 16), 0),
    ("air", (-26, -66, -62), (12, 14, 11), 0),
    ("air", (26, -66, -62), (12, 14, 11), 0),
    ("fat", (-32, -72, -30), (17, 19, 15), 0),
    ("fat", (32, -72, -30), (17, 19, 15), 0),
    ("vitreous", (-32, -80, -30), (12, 12, 12), 0),
    ("vitreous", (32, -80, -30), (12, 12, 12), 0),
    ("lesion", (-24, -22, 30), (7, 8, 7), 0),
    ("lesion", (26, 14, 44), (4, 5, 4), 0),
    ("lesion", (-20, 30, 12), (3.5, 4, 3.5), 0),
)


def slice_positions() -> list[float]:
    """z (mm) of each slice, inferior to superior."""
    return [FIRST_Z_MM + k * SLICE_GAP_MM for k in range(SLICES)]


def _coordinates() -> tuple[npt.NDArray[np.float32], ...]:
    """Broadcastable z, y, x coordinates (mm) of the voxel centres."""
    axis = (np.arange(SIZE, dtype=np.float32) - (SIZE - 1) / 2) * SPACING_MM
    z = np.asarray(slice_positions(), dtype=np.float32)
    return z[:, None, None], axis[None, :, None], axis[None, None, :]


def label_volume() -> npt.NDArray[np.uint8]:
    """Tissue labels (slices, rows, cols) of the head."""
    z, y, x = _coordinates()
    labels = np.zeros((SLICES, SIZE, SIZE), dtype=np.uint8)
    for tissue, (cx, cy, cz), (ax, ay, az), folds in ELLIPSOIDS:
        limit: npt.NDArray[np.float32] | float = 1.0
        if folds:
            limit = 1.0 - folds * (1 + np.sin(11 * np.arctan2(y - cy, x - cx)) * np.cos(z / 7))
        inside = ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 + ((z - cz) / az) ** 2 <= limit
        labels[inside] = _LABEL[tissue]
    return labels


def _blur(volume: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """3x3 in-plane box blur (edges replicate), standing in for partial volume."""
    padded = np.pad(volume, ((0, 0), (1, 1), (1, 1)), mode="edge")
    out = np.zeros_like(volume)
    for dr in range(3):
        for dc in range(3):
            out += padded[:, dr : dr + SIZE, dc : dc + SIZE]
    out /= 9.0
    return out


def render(labels: npt.NDArray[np.uint8], weighting: Weighting) -> npt.NDArray[np.uint16]:
    """Stored values (12 bits) of the volume with ``weighting`` contrast."""
    column = 1 if weighting == "T1" else 2
    lut = np.asarray([tissue[column] for tissue in TISSUES], dtype=np.float32)
    signal = _blur(lut[labels])
    _z, y, x = _coordinates()
    signal *= 1.12 - 0.25 * ((y / 150.0) ** 2 + (x / 170.0) ** 2)
    rng = np.random.default_rng(1102 if weighting == "T1" else 1103)
    real = signal + rng.normal(0.0, NOISE_SIGMA, signal.shape).astype(np.float32)
    imag = rng.normal(0.0, NOISE_SIGMA, signal.shape).astype(np.float32)
    magnitude = np.sqrt(real * real + imag * imag)
    return np.clip(np.rint(magnitude), 0, 4095).astype("<u2")
