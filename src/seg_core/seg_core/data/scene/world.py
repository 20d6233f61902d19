"""A street with its camera, lighting and everything in it; renders one frame at a time."""
from __future__ import annotations

import cv2
import numpy as np

from seg_core.data.classes import BUILDING, SKY, VEGETATION
from seg_core.data.scene.texture import grain_noise, jitter, lowfreq, pick
from seg_core.data.scene.sprites import Sprite, WALL_COLOURS
from seg_core.data.scene.canvas import BACK, Camera, Canvas, FAR, NEAR
from seg_core.data.scene.ground import GROUND_PPM, MATERIALS, MAT_ID
from seg_core.data.scene.things import Thing
from seg_core.data.scene.street import StreetLayout
from seg_core.data.scene.traffic import Traffic


class World(StreetLayout, Traffic):
    """A street with its camera, lighting and everything in it; `render(t)` draws one frame.

    A periodic world is a loop of `length` metres driven in `period` seconds; otherwise the
    camera stands at z = 0 and nothing moves."""

    def __init__(self, rng, width: int, height: int, length: float, period: float | None):
        self.rng = rng
        self.length, self.period = length, period
        self.speed = length / period if period else 0.0
        self.phases = 8 if period else 1
        self.cam = Camera(width, height, rng.uniform(50, 90), rng.uniform(1.2, 2.3), rng.uniform(-2, 7),
                           rng.uniform(-4, 4), rng.uniform(-1, 1) if period else rng.uniform(-2.5, 2.5),
                           rng.uniform(-0.4, 0.4))
        self.overcast = rng.random() < 0.35
        self.sun_side = 1 if rng.random() < 0.5 else -1
        self.shadow_len = rng.uniform(0.5, 2.0)
        self.light = rng.uniform(0.8, 1.1)
        self.things: list[Thing] = []
        self._layout()
        self._ground_rgb, self._ground_lab = self.ground.render(rng)
        self._ground_z0 = self.ground.z0
        if period:   # let the map run on past both ends of the loop
            back, ahead = int(BACK * 2 * GROUND_PPM), int((FAR + 40) * GROUND_PPM)
            self._ground_rgb, self._ground_lab = (
                np.concatenate([m[:, -back:], m, m[:, :ahead]], 1) for m in (self._ground_rgb, self._ground_lab))
            self._ground_z0 = -back / GROUND_PPM
        self.static = [t for t in self.things if t.motion is None]
        self.movers = [t for t in self.things if t.motion is not None]
        for name in ("x", "z", "half", "radius", "layer"):
            setattr(self, "_s_" + name, np.array([getattr(t, name) for t in self.static], np.float64))
            setattr(self, "_m_" + name, np.array([getattr(t, name) for t in self.movers], np.float64))
        self._background()
        self._look()

    def prepare(self):
        """Build every painter now rather than on first sight."""
        for t in self.things:
            t.painter()

    def _add(self, x, z, half, radius, layer, build, key=None, motion=None):
        seed = int(self.rng.integers(2 ** 63))
        self.things.append(Thing(x, z, half, radius, layer, build, seed, key, motion))


    # -- look -----------------------------------------------------------------------------

    def _background(self):
        """Sky, distant skyline and distant ground; fixed for the world's camera."""
        rng, cam = self.rng, self.cam
        h, w = cam.height, cam.width
        dx, dy, dz = cam.rays()
        up = dy / np.sqrt(dx * dx + dy * dy + dz * dz)
        if self.overcast:
            zenith = jitter(rng, (165, 170, 178), 20)
            horizon = np.minimum(zenith + rng.uniform(10, 40), 255)
        else:
            zenith = jitter(rng, (70, 125, 205), 25)
            horizon = jitter(rng, (190, 210, 230), 20)
            if rng.random() < 0.15:
                horizon = jitter(rng, (230, 190, 150), 20)
        tt = np.clip(up / 0.6, 0, 1) ** 0.7
        cover = rng.uniform(0.0, 0.9)
        clouds = lowfreq(rng, h, w, w / 10) + 0.5 * lowfreq(rng, h, w, w / 30)
        alpha = np.clip((clouds - (1.2 - 2 * cover)) * 0.8, 0, 0.9)
        cloud_colour = jitter(rng, (235, 235, 238), 10) * (0.8 if self.overcast else 1.0)
        self.bg_rgb = cv2.merge([cv2.convertScaleAbs((hc + (zc - hc) * tt) * (1 - alpha) + cc * alpha)
                                 for hc, zc, cc in zip(horizon, zenith, cloud_colour)])
        # distant ground: the street's cross-section, hazed towards the horizon colour
        below = up <= 0
        x_hit = cam.C[0] + cam.C[1] / np.maximum(-dy[below], 1e-9) * dx[below]
        bands = sorted(self.profile)
        edges = np.array([b[0] for b in bands[1:]])
        band_colour = np.array([self.ground.colours[MAT_ID[m]] for *_, m in bands]) * 0.7 + horizon * 0.3
        band_label = np.array([MATERIALS[m][0] for *_, m in bands], np.uint8)
        k = np.searchsorted(edges, x_hit)
        self.bg_rgb[below] = band_colour.astype(np.uint8)[k]
        self.bg_lab = np.full((h, w), SKY, np.uint8)
        self.bg_lab[below] = band_label[k]
        cv = Canvas(cam, self.bg_rgb, self.bg_lab)
        zb = 260.0
        x = -zb * 1.6
        while x < zb * 1.6:
            wdt = rng.uniform(10, 40)
            if rng.random() < 0.65 and abs(x + wdt / 2) > 6:
                hb = rng.uniform(8, 45)
                col = 0.4 * pick(rng, WALL_COLOURS, 20) + 0.5 * horizon
                cv.poly([(x, 0, zb), (x + wdt, 0, zb), (x + wdt, hb, zb), (x, hb, zb)], col, BUILDING)
            elif rng.random() < 0.6:
                n = 12
                xs = np.linspace(x, x + wdt, n)
                ys = rng.uniform(6, 14) + rng.uniform(-2.5, 2.5, n)
                pts = [(x, 0, zb)] + [(a, b, zb) for a, b in zip(xs, ys)] + [(x + wdt, 0, zb)]
                cv.poly(pts, 0.5 * jitter(rng, (70, 100, 50), 15) + 0.5 * horizon, VEGETATION)
            x += wdt

    def _look(self):
        """Tone curve, white balance, saturation, blur and sensor noise of the camera."""
        rng = self.rng
        gain = rng.uniform(0.75, 1.2) * (0.9 if self.overcast else 1.0)
        gamma, contrast = rng.uniform(0.8, 1.25), rng.uniform(0.8, 1.2)
        temp = rng.uniform(-0.08, 0.08)
        x = np.linspace(0, 1, 256)
        base = ((x ** gamma - 0.5) * contrast + 0.5) * gain
        lut = np.stack([base * (1 + temp), base, base * (1 - temp)], -1) * 255
        self.lut = np.clip(lut, 0, 255).astype(np.uint8).reshape(256, 1, 3)
        s = rng.uniform(0.7, 1.2)      # saturation: a mix of the colour and its grey
        self.saturation = (s * np.eye(3) + (1 - s) * np.array([[0.299, 0.587, 0.114]] * 3)).astype(np.float32)
        self.blur = rng.uniform(0.3, 1.1) if rng.random() < 0.5 else 0.0
        sigma = rng.uniform(1.0, 5.0)
        h, w = self.cam.height, self.cam.width
        self.noise = []
        for _ in range(4 if self.period else 1):
            n = sigma * grain_noise(rng, h, 3 * w).reshape(h, w, 3)
            self.noise.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))

    def _post(self, rgb: np.ndarray, index: int) -> np.ndarray:
        """Camera response, blur and sensor noise (noise pattern `index`), in place."""
        cv2.LUT(rgb, self.lut, dst=rgb)
        cv2.transform(rgb, self.saturation, dst=rgb)
        if self.blur:
            cv2.GaussianBlur(rgb, (3, 3), self.blur, dst=rgb)
        plus, minus = self.noise[index % len(self.noise)]
        cv2.add(rgb, plus, dst=rgb)
        cv2.subtract(rgb, minus, dst=rgb)
        return rgb

    # -- rendering ------------------------------------------------------------------------

    def _draw_ground(self, cv: Canvas, z_ego: float):
        """Warp the ground map ahead of the camera onto the ground plane."""
        c0 = int((z_ego + NEAR + 0.2 - self._ground_z0) * GROUND_PPM)
        c1 = min(c0 + int((FAR + 30) * GROUND_PPM), self._ground_lab.shape[1])
        g = self.ground
        spr = Sprite(self._ground_rgb[:, c0:c1], self._ground_lab[:, c0:c1], GROUND_PPM)
        zr = self._ground_z0 + c0 / GROUND_PPM - z_ego
        cv.sprite(spr, (g.x0, 0, zr), (0, 0, (c1 - c0) / GROUND_PPM), (g.rows / GROUND_PPM, 0, 0), opaque=True)

    def render(self, t: float, index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rgb, lab = self.bg_rgb.copy(), self.bg_lab.copy()
        cv = Canvas(self.cam, rgb, lab)
        z_ego = (self.speed * t) % self.length if self.period else 0.0
        self._draw_ground(cv, z_ego)
        d = self._s_z - z_ego
        if self.period:
            margin = BACK + self._s_half
            d = (d + margin) % self.length - margin
        todo = [(self.static[i], d[i]) for i in np.flatnonzero(self._visible(d, self._s_half, self._s_x,
                                                                            self._s_radius, self._s_layer))]
        if self.movers:
            d = np.array([th.motion(t) for th in self.movers])
            margin = BACK + self._m_half
            d = (d + margin) % self.length - margin
            visible = self._visible(d, self._m_half, self._m_x, self._m_radius, self._m_layer)
            todo += [(self.movers[i], d[i]) for i in np.flatnonzero(visible)]
        todo.sort(key=lambda e: (e[0].layer, -(e[1] + e[0].key)))
        for th, dd in todo:
            th.painter()(cv, dd, t)
        return self._post(rgb, index), lab

    def _visible(self, d, half, x, radius, layer):
        """Whether things at relative depth d may show in the picture (vectorised)."""
        far = np.where(layer == 2, FAR, FAR + 60)
        return ((d + half > NEAR) & (d - half < far)
                & (np.abs(x - self.cam.C[0]) - radius < (d + half) * self.cam.half_tan + 1.0))
