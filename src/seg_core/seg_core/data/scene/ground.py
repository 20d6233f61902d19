"""The ground map: a top-down texture of road, markings, curbs, sidewalks and terrain, warped
onto the ground plane."""
from __future__ import annotations

import cv2
import numpy as np

from seg_core.data.classes import ROAD, SIDEWALK, TERRAIN
from seg_core.data.scene.texture import grain_noise, jitter, lowfreq, pick

GROUND_PPM = 12.0   # ground map pixels per metre


# ground materials: name -> (train id, blotch, grain)
MATERIALS = {
    "asphalt": (ROAD, 0.10, 7.0), "patch": (ROAD, 0.08, 6.0), "white": (ROAD, 0.05, 8.0),
    "yellow": (ROAD, 0.05, 8.0), "rail": (ROAD, 0.05, 10.0), "curb": (SIDEWALK, 0.05, 7.0),
    "walk": (SIDEWALK, 0.07, 6.0), "joint": (SIDEWALK, 0.05, 5.0), "plaza": (SIDEWALK, 0.08, 7.0),
    "grass": (TERRAIN, 0.22, 14.0), "soil": (TERRAIN, 0.15, 12.0),
}
MAT_ID = {name: i for i, name in enumerate(MATERIALS)}


def _material_colours(rng) -> np.ndarray:
    grey = rng.uniform(60, 110)
    asphalt = np.array([grey, grey, grey + rng.uniform(-4, 8)]) + rng.uniform(-6, 6)
    walk = pick(rng, ((150, 150, 148), (185, 180, 170), (165, 120, 110), (120, 120, 125), (200, 190, 165)), 12)
    grass = pick(rng, ((85, 125, 50), (110, 140, 60), (140, 135, 80), (70, 105, 45)), 12)
    colours = {
        "asphalt": asphalt, "patch": asphalt * rng.uniform(0.7, 0.9), "white": jitter(rng, (215, 215, 210), 15),
        "yellow": jitter(rng, (220, 180, 45), 15), "rail": jitter(rng, (150, 145, 140), 15),
        "curb": jitter(rng, (170, 168, 160), 20), "walk": walk, "joint": walk * 0.72,
        "plaza": pick(rng, ((175, 170, 160), (150, 130, 120), (200, 195, 185)), 12), "grass": grass,
        "soil": jitter(rng, (120, 100, 75), 15),
    }
    return np.array([colours[name] for name in MATERIALS], np.float32)


class GroundMap:
    """Top-down material map of the ground: rows run along x, columns along z."""

    def __init__(self, x0: float, x1: float, z0: float, z1: float, period: float | None):
        self.x0, self.z0, self.period = x0, z0, period
        self.rows, self.cols = int((x1 - x0) * GROUND_PPM), int((z1 - z0) * GROUND_PPM)
        self.mat = np.zeros((self.rows, self.cols), np.uint8)
        self.light = np.ones((self.rows, self.cols), np.float32)

    def _cols(self, z0: float, z1: float):
        """Column ranges of the map for z0..z1, repeated around the loop of a periodic map."""
        shifts = (0.0, -self.period, self.period) if self.period else (0.0,)
        for s in shifts:
            c0, c1 = (int(round((z + s - self.z0) * GROUND_PPM)) for z in (z0, z1))
            c0, c1 = max(c0, 0), min(c1, self.cols)
            if c1 > c0:
                yield c0, c1

    def _rows(self, x0: float, x1: float) -> slice:
        r0, r1 = (int(round((x - self.x0) * GROUND_PPM)) for x in (min(x0, x1), max(x0, x1)))
        return slice(max(r0, 0), max(min(r1, self.rows), 0))

    def rect(self, x0, x1, z0, z1, material: str):
        rows = self._rows(x0, x1)
        for c0, c1 in self._cols(z0, z1):
            self.mat[rows, c0:c1] = MAT_ID[material]

    def shadow(self, x0, x1, z0, z1, factor: float):
        rows = self._rows(x0, x1)
        for c0, c1 in self._cols(z0, z1):
            self.light[rows, c0:c1] = np.minimum(self.light[rows, c0:c1], factor)

    def blob(self, x, z, rx, rz, material: str | None = None, factor: float = 1.0):
        """An ellipse of material, or of shadow when material is None."""
        for c0, _ in self._cols(z - rz, z + rz):
            centre = (int(c0 + rz * GROUND_PPM), int((x - self.x0) * GROUND_PPM))
            axes = (max(1, int(rz * GROUND_PPM)), max(1, int(rx * GROUND_PPM)))
            if material is None:
                cv2.ellipse(self.light, centre, axes, 0, 0, 360, factor, -1)
            else:
                cv2.ellipse(self.mat, centre, axes, 0, 0, 360, MAT_ID[material], -1)

    def render(self, rng) -> tuple[np.ndarray, np.ndarray]:
        """Textured rgb and train ids of the map; keeps the material colours in `colours`."""
        self.colours = _material_colours(rng)
        table = np.zeros((6, 256, 1), np.float32)     # r, g, b, blotch, grain, label per material
        table[:3, :len(MATERIALS), 0] = self.colours.T
        for i, (label, blotch, grain) in enumerate(MATERIALS.values()):
            table[3:, i, 0] = blotch, grain, label
        shade = cv2.LUT(self.mat, table[3]) * lowfreq(rng, self.rows, self.cols, 40.0) + 1.0
        shade *= cv2.blur(self.light, (5, 5))
        noise = cv2.LUT(self.mat, table[4]) * grain_noise(rng, self.rows, self.cols)
        rgb = cv2.merge([cv2.convertScaleAbs(cv2.LUT(self.mat, table[c]) * shade + noise) for c in range(3)])
        return rgb, cv2.LUT(self.mat, table[5].astype(np.uint8))
