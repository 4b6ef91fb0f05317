"""Synthetic apical four-chamber echocardiography cine: RGB frames with colour Doppler.

A sector scan with speckle (Rayleigh, looping smoothly over the cine), beating chambers,
opening and closing valves, a colour-flow box over the mitral inflow, a colour bar, depth
marks and an ECG trace with a moving cursor. Frames are (rows, cols, 3) uint8, RGB.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FRAMES = 30
ROWS, COLS = 480, 640
MM_PER_PIXEL = 0.36
APEX = (24, COLS // 2)  # row, column of the sector apex
DEPTH_MM = 150.0
HALF_ANGLE = math.radians(38.0)
BEAMS, SAMPLES = 160, 420
SEED = 20240122
DOPPLER_BOX = (300, 230, 419, 379)  # left, top, right, bottom pixel (inclusive)

Float = npt.NDArray[np.float32]
Rgb = npt.NDArray[np.uint8]


class EchoCine:
    """Precomputed geometry and speckle; :meth:`frame` renders one frame."""

    def __init__(self) -> None:
        """Scan-conversion maps, time-gain compensation, two speckle fields, the ECG."""
        rows, cols = np.mgrid[0:ROWS, 0:COLS].astype(np.float32)
        self.x: Float = (cols - APEX[1]) * MM_PER_PIXEL  # lateral mm (image right = positive)
        self.y: Float = (rows - APEX[0]) * MM_PER_PIXEL  # depth mm
        radius = np.hypot(self.x, self.y)
        angle = np.arctan2(self.x, np.maximum(self.y, 1e-3))
        self.sector = (radius <= DEPTH_MM) & (np.abs(angle) <= HALF_ANGLE) & (self.y > 0)
        self.beam = np.clip((angle / HALF_ANGLE + 1) / 2 * (BEAMS - 1), 0, BEAMS - 1).astype(int)
        self.sample = np.clip(radius / DEPTH_MM * (SAMPLES - 1), 0, SAMPLES - 1).astype(int)
        self.gain = np.exp(-radius / 220.0) * 1.6
        rng = np.random.default_rng(SEED)
        shape = (2, SAMPLES, BEAMS)
        field = rng.normal(size=shape) + 1j * rng.normal(size=shape)
        field = (field + np.roll(field, 1, axis=1) + np.roll(field, 2, axis=1)) / 3
        self.speckle = field[:, self.sample, self.beam].astype(np.complex64)
        self.ecg = _ecg_trace()

    def frame(self, index: int) -> Rgb:
        """RGB frame ``index`` (0-based) of the loop."""
        phase = 2 * math.pi * index / FRAMES
        squeeze = 0.5 - 0.5 * math.cos(phase)  # 0 at end-diastole, 1 at end-systole
        echo = self._echogenicity(squeeze)
        speckle = np.abs(self.speckle[0] * math.cos(phase) + self.speckle[1] * math.sin(phase))
        level = echo * speckle * self.gain
        grey = 255.0 * np.log1p(8.0 * level) / math.log1p(8.0 * 2.2)
        grey = np.where(self.sector, np.clip(grey, 0, 255), 0).astype(np.uint8)
        rgb = np.repeat(grey[:, :, None], 3, axis=2)
        self._doppler(rgb, echo, squeeze)
        self._annotations(rgb, index)
        return rgb

    def _echogenicity(self, squeeze: float) -> Float:
        """Echo strength map: tissue ~0.5, myocardium ~0.9, blood ~0.04, valves bright."""
        echo = np.full((ROWS, COLS), 0.45, dtype=np.float32)
        shrink = 1.0 - 0.18 * squeeze
        chambers = (
            ((14.0, 62.0), (19.0 * shrink, 40.0 * shrink)),  # left ventricle (image right)
            ((-24.0, 60.0), (13.0 * shrink, 35.0 * shrink)),  # right ventricle
            ((14.0, 122.0), (19.0, 16.0 + 3 * squeeze)),  # left atrium
            ((-24.0, 120.0), (14.0, 15.0 + 3 * squeeze)),  # right atrium
        )
        for (cx, cy), (ax, ay) in chambers:
            wall = _inside(self.x, self.y, cx, cy, ax + 7, ay + 7)
            echo = np.where(wall, 0.9, echo)
        for (cx, cy), (ax, ay) in chambers:
            echo = np.where(_inside(self.x, self.y, cx, cy, ax, ay), 0.04, echo)
        echo = np.where(_inside(self.x, self.y, -5.0, 62.0, 3.5, 40.0), 0.9, echo)
        valve = 12.0 * squeeze + 2.0
        for cx in (14.0, -24.0):
            for side in (-1, 1):
                leaflet = _inside(self.x, self.y, cx + side * valve, 102.0, 6.0, 1.6)
                echo = np.where(leaflet, 1.6, echo)
        pericardium = _inside(self.x, self.y, -6.0, 95.0, 58.0, 88.0)
        rim = pericardium & ~_inside(self.x, self.y, -6.0, 95.0, 54.0, 84.0)
        return np.where(rim, 1.8, echo).astype(np.float32)

    def _doppler(self, rgb: Rgb, echo: Float, squeeze: float) -> None:
        """Colour flow in a box over the mitral valve: red towards the probe, blue away."""
        left, top, right, bottom = DOPPLER_BOX
        box = (slice(top, bottom + 1), slice(left, right + 1))
        x, y = self.x[box], self.y[box]
        blood = echo[box] < 0.1
        velocity = (1.0 - 2.0 * squeeze) * 0.8 + 0.25 * np.sin((x - 14.0) / 5.0)
        velocity = velocity * np.exp(-(((y - 100.0) / 30.0) ** 2))
        strength = np.clip(np.abs(velocity) * 320.0, 0, 255).astype(np.uint8)
        flow = blood & self.sector[box] & (strength > 24)
        colour = np.zeros(x.shape + (3,), dtype=np.uint8)
        colour[..., 0] = np.where(velocity > 0, strength, 0)
        colour[..., 2] = np.where(velocity <= 0, strength, 0)
        colour[..., 1] = (strength // 5).astype(np.uint8)
        view = rgb[box]
        view[flow] = colour[flow]
        view[0, :], view[-1, :], view[:, 0], view[:, -1] = 200, 200, 200, 200

    def _annotations(self, rgb: Rgb, index: int) -> None:
        """Colour bar, depth marks every centimetre and the ECG trace with its cursor."""
        ramp = np.linspace(1.0, -1.0, 120, dtype=np.float32)
        bar = rgb[40:160, 24:36]
        bar[..., 0] = np.clip(ramp * 255, 0, 255).astype(np.uint8)[:, None]
        bar[..., 1] = np.clip(np.abs(ramp) * 50, 0, 255).astype(np.uint8)[:, None]
        bar[..., 2] = np.clip(-ramp * 255, 0, 255).astype(np.uint8)[:, None]
        for cm in range(1, int(DEPTH_MM // 10) + 1):
            row = APEX[0] + int(round(cm * 10 / MM_PER_PIXEL))
            if row < ROWS - 50:
                width = 8 if cm % 5 == 0 else 4
                rgb[row - 1 : row + 1, COLS - 40 : COLS - 40 + width] = 230
        trace_rows, trace_cols = self.ecg
        rgb[trace_rows, trace_cols] = (40, 220, 60)
        cursor = 20 + int((COLS - 40) * index / FRAMES)
        rgb[ROWS - 46 : ROWS - 6, cursor : cursor + 2] = (250, 220, 40)


def sector_box() -> tuple[int, int, int, int]:
    """Bounding box (left, top, right, bottom pixel, inclusive) of the scanned sector."""
    reach = DEPTH_MM / MM_PER_PIXEL
    half = int(math.ceil(reach * math.sin(HALF_ANGLE)))
    return APEX[1] - half, APEX[0], APEX[1] + half, min(ROWS - 1, APEX[0] + int(math.ceil(reach)))


def _inside(
    x: Float, y: Float, cx: float, cy: float, ax: float, ay: float
) -> npt.NDArray[np.bool_]:
    """Points of an axis-aligned ellipse."""
    return ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 <= 1.0


def _ecg_trace() -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Pixel rows and columns of one heartbeat of ECG across the bottom strip (2 px thick)."""
    cols = np.arange(20, COLS - 20)
    t = (cols - 20) / (COLS - 40)
    wave = (
        0.12 * np.exp(-(((t - 0.15) / 0.025) ** 2))
        - 0.10 * np.exp(-(((t - 0.245) / 0.008) ** 2))
        + 1.0 * np.exp(-(((t - 0.26) / 0.008) ** 2))
        - 0.20 * np.exp(-(((t - 0.275) / 0.008) ** 2))
        + 0.25 * np.exp(-(((t - 0.5) / 0.05) ** 2))
    )
    rows = np.rint(ROWS - 16 - 26 * wave).astype(np.intp)
    filled_rows = np.concatenate([rows, rows + 1])
    filled_cols = np.concatenate([cols, cols])
    return filled_rows, filled_cols.astype(np.intp)
