"""Synthetic chest-abdomen CT phantom: axial slices in Hounsfield units.

Patient coordinates (LPS, mm): ``x`` grows towards the patient's left (image right), ``y``
towards the back (image bottom), ``z`` towards the head. The scan covers ``z`` from 0 (thoracic
inlet) down to ``-EXTENT_MM`` (pelvis). Every structure is an ellipse whose size and position
follow piecewise-linear profiles in ``z``, so any slice can be drawn on its own, in a few ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tuipacs.demo.draw import (
    Grid,
    fill_ellipse,
    fill_ellipse_where,
    profile,
    ring,
    sphere_radius,
)

SIZE = 512
FOV_MM = 450.0
SPACING_MM = FOV_MM / SIZE  # 0.87890625, exact in binary and in decimal
EXTENT_MM = 450.0
TABLE_TOP_MM = 135.0
NOISE_HU = 12.0
NOISE_SEED = 20240315
NODULE_MM = 10.0

AIR, FAT, SOFT, MUSCLE, LIVER, LUNG = -1000, -100, 40, 50, 60, -850
CORTEX, CANCELLOUS, POSTERIOR_BONE, CONTRAST = 1150, 450, 900, 250

HU = npt.NDArray[np.int16]


def _vessel_table(count: int, seed: int) -> npt.NDArray[np.float64]:
    """Lung vessels as rows (u, v, radius mm, wiggle phase) in unit-lung coordinates."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * math.pi, count)
    dist = np.sqrt(rng.uniform(0.0, 0.85, count))
    radius = 0.8 + 3.2 * (1 - dist) ** 1.5
    phase = rng.uniform(0, 2 * math.pi, count)
    return np.stack([dist * np.cos(angle), dist * np.sin(angle), radius, phase], axis=1)


def _bowel_table(count: int, seed: int) -> npt.NDArray[np.float64]:
    """Bowel loops as rows (x, y, radius, gas flag, z drift phase)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-90, 90, count)
    y = rng.uniform(-70, 10, count)
    radius = rng.uniform(9, 17, count)
    gas = (rng.uniform(0, 1, count) < 0.45).astype(np.float64)
    phase = rng.uniform(0, 2 * math.pi, count)
    return np.stack([x, y, radius, gas, phase], axis=1)


@dataclass
class CtPhantom:
    """Draws axial slices of the phantom; build once, call :meth:`slice_hu` per slice."""

    grid: Grid = field(default_factory=lambda: Grid.centred(SIZE, SIZE, SPACING_MM))
    vessels: npt.NDArray[np.float64] = field(default_factory=lambda: _vessel_table(70, 7))
    bowel: npt.NDArray[np.float64] = field(default_factory=lambda: _bowel_table(14, 11))
    nodule_mm: float = NODULE_MM
    """Diameter of the nodule in the right upper lobe (a prior shows it smaller)."""
    noise_seed: int = NOISE_SEED
    noise: HU = field(init=False)

    def __post_init__(self) -> None:
        """Draw the fixed noise field once (twice the slice size; slices take windows of it)."""
        rng = np.random.default_rng(self.noise_seed)
        field_ = rng.normal(0.0, NOISE_HU, (2 * SIZE, 2 * SIZE))
        self.noise = np.rint(field_).astype(np.int16)

    def stored_slice(self, z: float, index: int) -> npt.NDArray[np.uint16]:
        """Stored values (HU + 1024, 12 bits) of the slice at ``z`` with fixed noise."""
        r0 = (index * 131) % SIZE
        c0 = (index * 257) % SIZE
        hu = self.slice_hu(z)
        hu += self.noise[r0 : r0 + SIZE, c0 : c0 + SIZE]
        hu += 1024
        np.clip(hu, 0, 4095, out=hu)
        return hu.astype("<u2")

    def slice_hu(self, z: float) -> HU:
        """Noise-free Hounsfield units of the axial slice at ``z`` (mm, 0 down to -450)."""
        img: HU = np.full((SIZE, SIZE), AIR, dtype=np.int16)
        table = self.grid.region(-FOV_MM, FOV_MM, TABLE_TOP_MM + 3, TABLE_TOP_MM + 11)
        if table is not None:
            img[table] = 110
        body = _Body.at(z)
        self._body(img, body)
        self._abdomen(img, body, z)
        self._lungs(img, body, z)
        self._mediastinum(img, body, z)
        self._spine(img, body, z)
        self._ribs(img, body, z)
        self._girdles(img, body, z)
        return img

    def _body(self, img: HU, body: _Body) -> None:
        """Subcutaneous fat, the muscle wall and the soft tissue inside."""
        g, cy = self.grid, body.cy
        fill_ellipse(img, g, 0, cy, body.ax, body.ay, FAT)
        fill_ellipse(img, g, 0, cy, body.ax - body.fat, body.ay - body.fat, MUSCLE)
        inner = body.fat + 14
        fill_ellipse(img, g, 0, cy - 6, body.ax - inner, body.ay - inner - 6, SOFT)

    def _lungs(self, img: HU, body: _Body, z: float) -> None:
        """Both lungs with their vessels, and a nodule (10 mm) in the right upper lobe."""
        g = self.grid
        for side, bottom in ((-1, -245.0), (1, -262.0)):
            scale = profile(z, ((-8, 0.2), (-40, 0.75), (-110, 1.0), (-200, 1.0), (bottom, 0.15)))
            if scale <= 0:
                continue
            cx, cy = side * 0.47 * body.ax, body.cy + 8
            ax, ay = 0.36 * body.ax * scale, 0.74 * body.ay * scale
            fill_ellipse(img, g, cx, cy, ax, ay, LUNG)
            for u, v, radius, phase in self.vessels:
                wiggle = 4 * math.sin(z / 23 + phase)
                centre = (cx + u * ax + side * wiggle, cy + v * ay)
                fill_ellipse_where(img, g, centre, (radius, radius), 35, -500)
        nodule = sphere_radius(self.nodule_mm / 2, z + 84)
        if nodule:
            fill_ellipse(img, g, -0.5 * body.ax, body.cy - 20, nodule, nodule, 30)

    def _mediastinum(self, img: HU, body: _Body, z: float) -> None:
        """Heart, aorta (arch, ascending, descending, iliacs), pulmonary trunk, SVC, IVC."""
        g, cy = self.grid, body.cy
        heart = profile(z, ((-105, 0.35), (-150, 1.0), (-200, 0.9), (-235, 0.3)))
        if heart:
            fill_ellipse(img, g, 22, cy - 28, 62 * heart, 52 * heart, -60, angle=-25)
            fill_ellipse(img, g, 22, cy - 28, 56 * heart, 46 * heart, 45, angle=-25)
            fill_ellipse(img, g, 28, cy - 32, 38 * heart, 30 * heart, 190, angle=-25)
            fill_ellipse(img, g, 5, cy - 22, 22 * heart, 20 * heart, 160)
        if -45 >= z >= -60:
            fill_ellipse(img, g, 0, cy - 5, 16, 38, CONTRAST, angle=20)
        if -60 > z >= -125:
            fill_ellipse(img, g, -8, cy - 32, 15, 15, CONTRAST)
        if -92 >= z >= -118:
            fill_ellipse(img, g, 18, cy - 40, 13, 13, 200)
        if -25 >= z >= -110:
            fill_ellipse(img, g, -32, cy - 22, 9, 9, 360)
        vy, radius = _spine_centre(body, z)
        ay, ax = vy - 0.77 * (radius + 14), 0.64 * (radius + 14)
        if -60 > z >= -402:
            fill_ellipse(img, g, ax, ay, 12, 12, CONTRAST)
        elif z < -402:
            for side in (-1, 1):
                fill_ellipse(img, g, ax + side * (-402 - z) * 0.5, ay, 7, 7, CONTRAST)
        if -225 >= z >= -400:
            fill_ellipse(img, g, -0.7 * (radius + 16), vy - 0.7 * (radius + 16), 11, 10, 130)

    def _abdomen(self, img: HU, body: _Body, z: float) -> None:
        """Visceral fat, liver with vessels, gallbladder, spleen, stomach and bowel."""
        g, cy = self.grid, body.cy
        visceral = profile(z, ((-250, 0.0), (-290, 1.0), (-450, 1.0)))
        if visceral:
            fill_ellipse(img, g, 0, cy - 10, 0.66 * body.ax * visceral, 0.6 * body.ay, -85)
        self._retroperitoneum(img, body, z)
        liver = profile(z, ((-190, 0.3), (-215, 1.0), (-285, 0.85), (-345, 0.2)))
        if liver:
            fill_ellipse(img, g, -0.42 * body.ax, cy - 5, 82 * liver, 80 * liver, LIVER, angle=15)
            for k in range(5):
                vx = -0.42 * body.ax + 40 * liver * math.cos(k * 1.3 + z / 40)
                vy = cy - 5 + 38 * liver * math.sin(k * 1.3 + z / 40)
                fill_ellipse(img, g, vx, vy, 4 + k % 3, 4 + k % 3, 165)
        gallbladder = profile(z, ((-255, 0.4), (-275, 1.0), (-300, 0.3)))
        if gallbladder:
            fill_ellipse(img, g, -45, cy - 48, 17 * gallbladder, 13 * gallbladder, 8)
        spleen = profile(z, ((-200, 0.4), (-240, 1.0), (-290, 0.3)))
        if spleen:
            fill_ellipse(img, g, 0.6 * body.ax, cy + 30, 42 * spleen, 26 * spleen, 55, angle=-40)
        self._stomach(img, body, z)
        self._bowel(img, body, z)

    def _retroperitoneum(self, img: HU, body: _Body, z: float) -> None:
        """Kidneys (cortex, medulla, sinus fat in perirenal fat) and psoas muscles."""
        g, cy = self.grid, body.cy
        for side, top in ((1, -272.0), (-1, -287.0)):
            kidney = profile(z, ((top, 0.3), (top - 20, 1.0), (top - 80, 0.9), (top - 100, 0.3)))
            if not kidney:
                continue
            cx, ky = side * 72, cy + 48
            fill_ellipse(img, g, cx, ky, 42 * kidney, 34 * kidney, -90)
            fill_ellipse(img, g, cx, ky, 29 * kidney, 22 * kidney, 160, angle=side * 30)
            fill_ellipse(img, g, cx, ky, 19 * kidney, 13 * kidney, 95, angle=side * 30)
            fill_ellipse(img, g, cx - side * 12, ky, 9 * kidney, 6 * kidney, -70)
        psoas = profile(z, ((-300, 0.3), (-360, 0.9), (-450, 1.0)))
        if psoas:
            for side in (-1, 1):
                fill_ellipse(img, g, side * 34, cy + 50, 14 * psoas, 17 * psoas, 55)

    def _stomach(self, img: HU, body: _Body, z: float) -> None:
        """Stomach with fluid and an air-fluid level (air on the anterior, upper side)."""
        stomach = profile(z, ((-200, 0.4), (-225, 1.0), (-275, 0.3)))
        if not stomach:
            return
        cx, cy = 0.35 * body.ax, body.cy - 45
        ring(img, self.grid, (cx, cy), (45 * stomach, 33 * stomach), (50, 15), 4)
        air = self.grid.region(cx - 45, cx + 45, cy - 33, cy - 10 * stomach)
        if air is not None:
            view = img[air]
            view[view == 15] = AIR

    def _bowel(self, img: HU, body: _Body, z: float) -> None:
        """Small bowel loops (gas or fluid) and the ascending and descending colon."""
        if z > -300:
            return
        g, cy = self.grid, body.cy
        for x, y, radius, gas, phase in self.bowel:
            drift = 12 * math.sin(z / 35 + phase)
            content = -950 if gas else 15
            ring(img, g, (x + drift, cy + y), (radius, radius), (50, content), 3)
        for side, radius in ((-1, 22.0), (1, 18.0)):
            ring(img, g, (side * 0.62 * body.ax, cy + 5), (radius, radius), (50, -950), 3)

    def _spine(self, img: HU, body: _Body, z: float) -> None:
        """Vertebra (cortex, cancellous bone, posterior arch) or disc, and the spinal canal."""
        g = self.grid
        vy, radius = _spine_centre(body, z)
        if (-z) % 28 < 5:
            fill_ellipse(img, g, 0, vy, radius, radius * 0.85, 90)
        else:
            fill_ellipse(img, g, 0, vy, radius, radius * 0.85, CORTEX)
            fill_ellipse(img, g, 0, vy, radius - 2.5, radius * 0.85 - 2.5, CANCELLOUS)
            canal = vy + radius + 9
            fill_ellipse(img, g, 0, canal, 14, 13, POSTERIOR_BONE)
            for side in (-1, 1):
                fill_ellipse(img, g, side * 24, canal - 2, 14, 5, POSTERIOR_BONE, angle=side * 10)
            fill_ellipse(img, g, 0, canal + 20, 5, 13, POSTERIOR_BONE)
        fill_ellipse(img, g, 0, vy + radius + 9, 8, 7, 10)

    def _ribs(self, img: HU, body: _Body, z: float) -> None:
        """Rib cross-sections along the chest wall, sliding round with z, and the sternum."""
        if not -12 >= z >= -285:
            return
        g = self.grid
        rx, ry = body.ax - body.fat - 8, body.ay - body.fat - 8
        shift = 18 * ((-z / 24) % 1.0)
        for side in (-1, 1):
            for i in range(8):
                phi = math.radians(22 + 18 * i + shift)
                if phi > math.radians(150):
                    continue
                cx, cy = side * rx * math.sin(phi), body.cy + ry * math.cos(phi)
                tangent = -side * math.degrees(math.atan2(ry * math.sin(phi), rx * math.cos(phi)))
                fill_ellipse(img, g, cx, cy, 6, 4.5, 1000, angle=tangent)
                fill_ellipse(img, g, cx, cy, 3.5, 2.2, 380, angle=tangent)
        if -40 >= z >= -215:
            fill_ellipse(img, g, 0, body.cy - ry + 2, 14, 6, 700)

    def _girdles(self, img: HU, body: _Body, z: float) -> None:
        """Clavicles and scapulae at the top, iliac wings and sacrum at the bottom."""
        g, cy = self.grid, body.cy
        for side in (-1, 1):
            if z >= -22:
                fill_ellipse(img, g, side * 75, cy - body.ay + 28, 34, 7, 1000, angle=side * 12)
            if z >= -140:
                sx = side * (0.68 * body.ax)
                fill_ellipse(img, g, sx, cy + body.ay - 45, 48, 5, 900, angle=-side * 28)
            if z <= -380:
                fill_ellipse(img, g, side * 92, cy + 30, 55, 11, 1000, angle=-side * 35)
                fill_ellipse(img, g, side * 92, cy + 30, 50, 7, 320, angle=-side * 35)
        if z <= -395:
            fill_ellipse(img, g, 0, cy + body.ay - 52, 42, 17, 700)


@dataclass(frozen=True)
class _Body:
    """Outline of the trunk at one ``z``: semi-axes, fat thickness, centre row (mm)."""

    ax: float
    ay: float
    fat: float
    cy: float

    @classmethod
    def at(cls, z: float) -> _Body:
        """The outline at ``z``: wider shoulders and pelvis, more fat over the abdomen."""
        ax = profile(z, ((0, 178), (-60, 172), (-200, 163), (-300, 152), (-450, 168)))
        ay = profile(z, ((0, 108), (-100, 118), (-250, 120), (-350, 114), (-450, 108)))
        fat = profile(z, ((0, 11), (-200, 13), (-300, 24), (-450, 28)))
        return cls(ax=ax, ay=ay, fat=fat, cy=TABLE_TOP_MM - ay)


def _spine_centre(body: _Body, z: float) -> tuple[float, float]:
    """Row (mm) of the vertebral body centre and its radius: bigger and more anterior below."""
    radius = 15 + 8 * min(1.0, max(0.0, (-z - 150) / 250))
    return body.cy + body.ay - body.fat - 42 - radius, radius
