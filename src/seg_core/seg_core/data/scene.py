"""Procedural street scenes and driving sequences with Cityscapes train-id labels.

A scene is a street seen from a car-mounted pinhole camera.  A textured ground map
(road, markings, curbs, sidewalks, terrain) is warped onto the ground plane, facades,
walls, fences, hedges, trees, people and two-wheelers are textured sprites on vertical
planes, and vehicles, poles, signs and traffic lights are small polygon meshes.
Everything is painted far to near; each pixel takes the train id of what painted it.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import cv2
import numpy as np

from seg_core.data.classes import CITYSCAPES_CLASSES, IGNORE_ID, NUM_CLASSES, colorize

(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN, VEGETATION,
 TERRAIN, SKY, PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE) = range(NUM_CLASSES)

# Bumped whenever a change to the generator changes what a seed renders, so that scenes
# rendered (and cached) by an earlier version are never mistaken for current ones.
GENERATOR_VERSION = 2

SPLIT_SEED_BASE = {"train": 0, "val": 1_000_000, "test": 2_000_000}
SPLIT_SIZE = 1_000_000

SEQUENCE_FPS = 30.0
SEQUENCE_FRAMES = 900

NEAR = 0.3          # near clipping plane (m)
FAR = 120.0         # street objects further than this are not drawn (m)
BACK = 6.0          # how far behind the camera the world is kept (m)
_CLEAR = IGNORE_ID  # sprite pixels that paint nothing
_GROUND_PPM = 12.0  # ground map pixels per metre
_DETAIL_PX = 12.0   # meshes drawn smaller than this (pixels tall) leave out their details

_GRAIN_SIZE = 512
_GRAIN = np.random.default_rng(20240611).standard_normal((_GRAIN_SIZE, _GRAIN_SIZE)).astype(np.float32)


def split_seed(split: str, index: int) -> int:
    """Seed of scene `index` of a split; the splits never share seeds."""
    if split not in SPLIT_SEED_BASE:
        raise ValueError(f"unknown split '{split}', expected one of {', '.join(SPLIT_SEED_BASE)}")
    if not 0 <= index < SPLIT_SIZE:
        raise ValueError(f"index {index} is outside [0, {SPLIT_SIZE})")
    return SPLIT_SEED_BASE[split] + index


# ----------------------------------------------------------------------------- textures

def _col(colour) -> tuple[int, int, int]:
    r, g, b = colour
    return min(255, max(0, int(r))), min(255, max(0, int(g))), min(255, max(0, int(b)))


def _jitter(rng, colour, amount: float) -> np.ndarray:
    return np.clip(np.asarray(colour, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


def _pick(rng, colours, amount: float = 15.0) -> np.ndarray:
    return _jitter(rng, colours[rng.integers(len(colours))], amount)


def _lowfreq(rng, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth N(0, 1)-ish noise with features about `cell` pixels wide."""
    small = rng.standard_normal((int(h / cell) + 2, int(w / cell) + 2)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _grain(rng, h: int, w: int) -> np.ndarray:
    """Per-pixel N(0, 1) noise cut from a shared tile at a random offset."""
    tile = _GRAIN if rng.random() < 0.5 else _GRAIN.T
    oy, ox = (int(rng.integers(0, max(_GRAIN_SIZE - n, 0) + 1)) for n in (h, w))
    if h > _GRAIN_SIZE or w > _GRAIN_SIZE:
        tile = cv2.copyMakeBorder(tile, 0, max(h - _GRAIN_SIZE, 0), 0, max(w - _GRAIN_SIZE, 0), cv2.BORDER_WRAP)
    return tile[oy:oy + h, ox:ox + w]


def _texture(rng, h: int, w: int, colour, grain: float = 6.0, blotch: float = 0.08,
             cell: float = 30.0) -> np.ndarray:
    """Colour modulated by blotches about `cell` pixels wide and by per-pixel grain."""
    colour = np.asarray(colour, np.float32)
    shade = _lowfreq(rng, h, w, cell) * blotch + 1.0
    shade += _grain(rng, h, w) * (grain / max(float(colour.mean()), 1.0))
    return cv2.merge([cv2.convertScaleAbs(shade, alpha=float(c)) for c in colour])


def _foliage(rng, h: int, w: int, colour) -> np.ndarray:
    """Leafy texture: clumps of light and shade plus leaf-sized speckle."""
    clumps = _lowfreq(rng, h, w, 6.0)
    shade = np.clip(0.9 + 0.22 * clumps + 0.18 * _grain(rng, h, w), 0.35, 1.5)
    return np.clip(np.asarray(colour, np.float32) * shade[..., None], 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- sprites

class _Sprite:
    """A texture for a planar quad: rgb plus labels, _CLEAR where it paints nothing.

    ``alpha`` (optional) is where the rgb paints when that differs from where the label
    applies: Cityscapes labels an object's whole outline, so a bicycle wheel's inside or the
    gaps of a railing carry the object's label while the background shows through."""

    __slots__ = ("rgb", "lab", "ppm", "alpha", "_rgba", "_label", "_cover")

    def __init__(self, rgb: np.ndarray, lab: np.ndarray, ppm: float, alpha: np.ndarray | None = None):
        self.rgb, self.lab, self.ppm, self.alpha = rgb, lab, ppm, alpha
        self._rgba, self._label, self._cover = None, None, None

    def rgba(self) -> tuple[np.ndarray, int, np.ndarray | None]:
        """rgb plus coverage alpha, padded by one clear pixel of the edge colour, the one label
        the sprite paints, and (padded alike) where that label applies when it is not the alpha."""
        if self._rgba is None:
            cover = np.where(self.lab == _CLEAR, 0, 255).astype(np.uint8)
            alpha = cover if self.alpha is None else self.alpha
            self._rgba = cv2.merge([*cv2.split(cv2.copyMakeBorder(self.rgb, 1, 1, 1, 1, cv2.BORDER_REPLICATE)),
                                    cv2.copyMakeBorder(alpha, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)])
            if self.alpha is not None:
                self._cover = cv2.copyMakeBorder(cover, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
            self._label = int(self.lab.min())
        return self._rgba, self._label, self._cover

    @property
    def width(self) -> float:
        return self.lab.shape[1] / self.ppm

    @property
    def height(self) -> float:
        return self.lab.shape[0] / self.ppm


class _Pen:
    """Draws polygons given in metres (x right of the sprite centre, y up from its bottom)."""

    def __init__(self, width_m: float, height_m: float, ppm: float, fill):
        self.ppm = ppm
        self.w, self.h = max(2, int(round(width_m * ppm))), max(2, int(round(height_m * ppm)))
        self.rgb = np.empty((self.h, self.w, 3), np.uint8)
        self.rgb[:] = _col(fill)
        self.lab = np.full((self.h, self.w), _CLEAR, np.uint8)
        self.alpha = None   # where the rgb paints, once it differs from where the labels are

    def _pts16(self, pts) -> list[np.ndarray]:
        return [(np.asarray(pts, np.float64) * (16 * self.ppm, -16 * self.ppm)
                 + (8 * self.w - 8, 16 * self.h - 8)).astype(np.int32)]

    def outline(self, pts, label):
        """Label the polygon without painting it: the object's outline encloses it."""
        if self.alpha is None:
            self.alpha = np.where(self.lab == _CLEAR, 0, 255).astype(np.uint8)
        cv2.fillPoly(self.lab, self._pts16(pts), int(label), cv2.LINE_8, 4)

    def outline_disc(self, cx, cy, r, label):
        a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        self.outline(np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1), label)

    def _painted(self, draw):
        """Run draw(image, value) on the labels and, when kept apart, on the alpha."""
        if self.alpha is not None:
            draw(self.alpha, 255)

    def _px(self, x, y) -> tuple[int, int]:
        return int((x * self.ppm + self.w / 2 - 0.5) * 16), int((self.h - 0.5 - y * self.ppm) * 16)

    def poly(self, pts, colour, label):
        p = self._pts16(pts)
        cv2.fillPoly(self.rgb, p, _col(colour), cv2.LINE_AA, 4)
        cv2.fillPoly(self.lab, p, int(label), cv2.LINE_8, 4)
        self._painted(lambda img, v: cv2.fillPoly(img, p, v, cv2.LINE_8, 4))

    def ellipse(self, cx, cy, rx, ry, colour, label):
        c, axes = self._px(cx, cy), (int(rx * self.ppm * 16), int(ry * self.ppm * 16))
        cv2.ellipse(self.rgb, c, axes, 0, 0, 360, _col(colour), -1, cv2.LINE_AA, 4)
        cv2.ellipse(self.lab, c, axes, 0, 0, 360, int(label), -1, cv2.LINE_8, 4)
        self._painted(lambda img, v: cv2.ellipse(img, c, axes, 0, 0, 360, v, -1, cv2.LINE_8, 4))

    def line(self, x0, y0, x1, y1, width, colour, label):
        d = np.array([x1 - x0, y1 - y0], np.float64)
        n = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-6) * width / 2
        self.poly([(x0 + n[0], y0 + n[1]), (x1 + n[0], y1 + n[1]),
                   (x1 - n[0], y1 - n[1]), (x0 - n[0], y0 - n[1])], colour, label)

    def ring(self, cx, cy, r, width, colour, label):
        c = self._px(cx, cy)
        rr, t = int(round(r * self.ppm * 16)), max(1, int(round(width * self.ppm)))
        cv2.circle(self.rgb, c, rr, _col(colour), t, cv2.LINE_AA, 4)
        cv2.circle(self.lab, c, rr, int(label), t, cv2.LINE_8, 4)
        self._painted(lambda img, v: cv2.circle(img, c, rr, v, t, cv2.LINE_8, 4))

    def sprite(self, texture_amp: float = 0.0, rng=None) -> _Sprite:
        if texture_amp:
            noise = texture_amp * _grain(rng, self.h, self.w)[..., None]
            self.rgb = np.clip(self.rgb + noise, 0, 255).astype(np.uint8)
        return _Sprite(self.rgb, self.lab, self.ppm, self.alpha)


SKIN = ((245, 210, 180), (225, 185, 150), (195, 150, 115), (150, 105, 75), (105, 70, 50))
HAIR = ((25, 20, 18), (60, 40, 25), (110, 75, 40), (190, 160, 110), (150, 150, 150))
CLOTHES = ((30, 30, 35), (60, 60, 70), (200, 200, 205), (25, 40, 90), (120, 30, 35), (60, 90, 60),
           (150, 120, 80), (90, 60, 110), (200, 170, 40), (70, 110, 160), (170, 80, 40), (230, 230, 230))


def _person_frames(rng, phases: int, back_view: bool, riding: bool, label: int) -> list[_Sprite]:
    """Walk (or pedal) cycle of a person seen from the front or back, feet at the sprite bottom;
    a single frame shows a random moment of the cycle."""
    height = rng.uniform(1.5, 1.95)
    skin, hair = _pick(rng, SKIN, 10), _pick(rng, HAIR, 10)
    top, bottom = _pick(rng, CLOTHES, 25), _pick(rng, CLOTHES, 25)
    shoes = _jitter(rng, (35, 32, 30), 15)
    helmet = _pick(rng, CLOTHES, 30) if riding and rng.random() < 0.6 else None
    skirt = not riding and rng.random() < 0.15
    long_coat = not riding and rng.random() < 0.2
    bag = rng.random() < 0.3
    bag_colour = _pick(rng, CLOTHES, 20)
    sw = 0.115 * height * rng.uniform(0.9, 1.15)     # half shoulder width
    hw = 0.085 * height * rng.uniform(0.9, 1.1)      # half hip width
    lw, aw = 0.075 * height, 0.048 * height          # leg, arm width
    frames = []
    start = rng.uniform(0, 2 * np.pi) if phases == 1 else 0.0
    for k in range(phases):
        ph = start + 2 * np.pi * k / phases
        pen = _Pen(0.9, height + 0.08, 64, top)
        if riding:   # seated: hips on a saddle, feet on pedals, hands on a handlebar
            hip, sh, head = 0.95, height - 0.42, height - 0.14
            for side in (-1, 1):
                foot = 0.28 + 0.13 * math.sin(ph + (side > 0) * np.pi)
                knee = (side * 0.17, foot + 0.38)
                pen.line(side * 0.08, hip, *knee, lw * 1.1, bottom, label)
                pen.line(*knee, side * 0.13, foot, lw, bottom, label)
                pen.ellipse(side * 0.13, foot, 0.05, 0.035, shoes, label)
            pen.poly([(-sw, sh), (sw, sh), (hw, hip - 0.02), (-hw, hip - 0.02)], top, label)
            for side in (-1, 1):
                pen.line(side * sw * 0.9, sh - 0.03, side * (sw + 0.1), hip + 0.1, aw, top, label)
                pen.ellipse(side * (sw + 0.1), hip + 0.08, 0.035, 0.035, skin, label)
        else:
            hip, sh, head = 0.52 * height, 0.815 * height, 0.925 * height
            for side, lift in ((-1, max(0.0, math.sin(ph))), (1, max(0.0, -math.sin(ph)))):
                foot_y = 0.05 * height * lift
                x0 = side * (hw - lw / 2)
                x1 = side * (0.05 * height) + 0.015 * height * math.cos(ph) * side
                pen.poly([(x0 - lw / 2, hip), (x0 + lw / 2, hip), (x1 + lw * 0.4, foot_y + 0.03),
                          (x1 - lw * 0.4, foot_y + 0.03)], bottom, label)
                pen.ellipse(x1, foot_y + 0.03, lw * 0.55, 0.035, shoes, label)
            hem = 0.3 * height if skirt else (0.36 * height if long_coat else hip - 0.03 * height)
            widen = 0.05 * height if skirt or long_coat else 0.0
            pen.poly([(-sw, sh), (sw, sh), (hw + widen, hem), (-hw - widen, hem)],
                     bottom if skirt else top, label)
            if skirt:
                pen.poly([(-sw, sh), (sw, sh), (hw, 0.58 * height), (-hw, 0.58 * height)], top, label)
            for side in (-1, 1):
                swing = 0.035 * height * math.sin(ph) * side
                hand = (side * (sw + 0.02 * height), hip - 0.01 * height + swing)
                pen.line(side * (sw - aw / 2), sh - 0.01 * height, *hand, aw, top, label)
                pen.ellipse(*hand, aw * 0.55, aw * 0.6, skin, label)
        pen.line(0, sh - 0.02, 0, head - 0.06, 0.05 * height, skin, label)
        r = 0.062 * height
        pen.ellipse(0, head, r * 0.85, r, skin, label)
        if helmet is not None:
            pen.ellipse(0, head + r * 0.25, r * 0.95, r * 0.85, helmet, label)
        elif back_view:
            pen.ellipse(0, head + r * 0.1, r * 0.88, r * 0.95, hair, label)
        else:
            pen.ellipse(0, head + r * 0.55, r * 0.86, r * 0.5, hair, label)
        if bag and back_view:
            pen.poly([(-sw * 0.7, sh - 0.05), (sw * 0.7, sh - 0.05), (sw * 0.7, hip + 0.05),
                      (-sw * 0.7, hip + 0.05)], bag_colour, label)
        elif bag:
            pen.poly([(sw, hip + 0.1), (sw + 0.1, hip + 0.1), (sw + 0.1, hip - 0.15), (sw, hip - 0.15)],
                     bag_colour, label)
        frames.append(pen.sprite(4.0, rng))
    return frames


def _two_wheeler_length(rng, motor: bool) -> float:
    return rng.uniform(1.9, 2.2) if motor else rng.uniform(1.6, 1.8)


def _two_wheeler(rng, motor: bool, length: float) -> _Sprite:
    """Side view of a bicycle or motorcycle, front to the right."""
    label = MOTORCYCLE if motor else BICYCLE
    r = rng.uniform(0.28, 0.33) if motor else rng.uniform(0.31, 0.36)
    frame = _pick(rng, CLOTHES, 30)
    pen = _Pen(length, 1.25, 64, (40, 40, 40))
    rear, front = -length / 2 + r + 0.03, length / 2 - r - 0.03
    if motor:
        pen.poly([(rear + 0.2, r + 0.05), (front - 0.3, r + 0.05), (front - 0.25, r + 0.45),
                  (rear + 0.35, r + 0.45)], (45, 45, 48), label)                     # engine
        pen.poly([(rear - 0.05, r + 0.5), (front - 0.35, r + 0.5), (front - 0.25, r + 0.75),
                  (rear + 0.2, r + 0.68)], frame, label)                              # tank, tail
        pen.poly([(rear - 0.05, r + 0.62), (0.05, r + 0.62), (0.05, r + 0.72), (rear, r + 0.72)],
                 (25, 25, 25), label)                                                 # seat
        pen.line(front, r, front - 0.2, r + 0.75, 0.07, (150, 150, 155), label)         # fork
        pen.line(rear, r, rear + 0.45, r + 0.25, 0.06, (120, 120, 125), label)          # swing arm
        pen.ellipse(front - 0.15, r + 0.72, 0.08, 0.07, (230, 230, 210), label)         # headlight
        tyre, rim = 0.08, (150, 150, 155)
    else:
        seat, head, bb = (rear + 0.35, 0.92), (front - 0.25, 0.9), (rear + 0.48, r)
        for a, b in (((rear, r), seat), (seat, bb), (bb, (rear, r)), (seat, head), (head, bb),
                     (head, (front, r))):
            pen.line(*a, *b, 0.035, frame, label)
        pen.line(seat[0], seat[1], seat[0] - 0.03, seat[1] + 0.08, 0.03, (90, 90, 90), label)
        pen.poly([(seat[0] - 0.12, seat[1] + 0.08), (seat[0] + 0.08, seat[1] + 0.08),
                  (seat[0] + 0.08, seat[1] + 0.12), (seat[0] - 0.12, seat[1] + 0.12)], (20, 20, 20), label)
        pen.line(head[0], head[1], head[0] - 0.05, head[1] + 0.15, 0.03, (90, 90, 90), label)
        pen.outline([(rear, r), seat, head, (front, r), bb], label)      # the frame's inside
        tyre, rim = 0.04, (170, 170, 175)
    for cx in (rear, front):
        pen.outline_disc(cx, r, r, label)                                # the wheel's inside
        pen.ring(cx, r, r - tyre / 2, tyre, (20, 20, 22), label)
        pen.ring(cx, r, r - tyre - 0.01, 0.015, rim, label)
        for a in np.linspace(0, np.pi, 3 if motor else 6, endpoint=False):   # spokes
            dx, dy = math.cos(a) * (r - tyre), math.sin(a) * (r - tyre)
            pen.line(cx - dx, r - dy, cx + dx, r + dy, 0.03 if motor else 0.006, rim, label)
        pen.ellipse(cx, r, 0.05 if motor else 0.025, 0.05 if motor else 0.025, (60, 60, 62), label)
    if motor:
        pen.outline([(rear, r), (rear - 0.05, r + 0.62), (front - 0.25, r + 0.75), (front, r),
                     (front - 0.3, r + 0.05), (rear + 0.2, r + 0.05)], label)
    return pen.sprite(3.0, rng)


def _tree_size(rng) -> tuple[float, float]:
    """Crown width and height (m) of a tree."""
    height = rng.uniform(4.5, 13.0)
    return float(np.clip(height * rng.uniform(0.4, 0.7), 2.5, 8.5)), height


def _tree(rng, crown: float, height: float, ppm: float = 16.0) -> tuple[_Sprite, float]:
    """The crown of a deciduous or conifer tree (a sprite) and the height of its bottom."""
    green = _jitter(rng, (rng.uniform(50, 110), rng.uniform(90, 145), rng.uniform(30, 70)), 10)
    conifer = rng.random() < 0.15
    bottom = height * 0.25 if conifer else max(height - crown * 1.1, 0.0)
    pen = _Pen(crown, height - bottom, ppm, green * 0.7)
    top = height - bottom
    if conifer:
        for i in range(5):
            y0 = top * 0.19 * i
            half = crown / 2 * (1 - 0.17 * i)
            pen.poly([(-half, y0), (half, y0), (0, min(top, y0 + height * 0.3))], green * 0.8, VEGETATION)
    else:
        centre = top - crown * 0.5
        for _ in range(int(rng.integers(20, 36))):
            a, d = rng.uniform(0, 2 * np.pi), math.sqrt(rng.random())
            cx, cy = d * math.cos(a) * crown * 0.36, centre + d * math.sin(a) * crown * 0.38
            rad = crown * rng.uniform(0.1, 0.2)
            pen.ellipse(cx, cy, rad, rad * rng.uniform(0.8, 1.1), green * rng.uniform(0.65, 1.2), VEGETATION)
    leafy = np.clip(0.9 + 0.25 * _lowfreq(rng, pen.h, pen.w, 4.0) + 0.2 * _grain(rng, pen.h, pen.w), 0.3, 1.5)
    pen.rgb = np.clip(pen.rgb * leafy[..., None], 0, 255).astype(np.uint8)
    return pen.sprite(), bottom


BARK = ((92, 72, 52), (78, 64, 50), (110, 92, 70), (64, 50, 38), (96, 86, 72))


def _trunk(rng, top: float, ppm: float = 40.0) -> _Sprite:
    """A tree trunk up to height `top` (m): thick, tapering, flared at the roots, leaning a
    little, with bark furrows and round shading; nothing like a straight metal pole."""
    r = rng.uniform(0.1, 0.22)
    flare, lean = r * rng.uniform(1.4, 1.9), rng.uniform(-0.08, 0.08) * top
    half = flare + abs(lean) + r
    bark = _pick(rng, BARK, 12)
    pen = _Pen(2 * half, top, ppm, bark)
    ys = np.linspace(0.0, top, 12)
    bend = lean * (ys / top) ** 1.5 + rng.uniform(-0.03, 0.03, len(ys)) * (ys > 0.3)
    width = r * (1.0 - 0.35 * ys / top) + (flare - r) * np.exp(-ys / 0.18)
    pen.poly(list(zip(bend - width, ys)) + list(zip(bend + width, ys))[::-1], bark, VEGETATION)
    for _ in range(int(rng.integers(0, 3))):   # stubs of cut branches
        y = rng.uniform(0.45, 0.85) * top
        x = float(np.interp(y, ys, bend))
        side = 1 if rng.random() < 0.5 else -1
        pen.line(x, y, x + side * rng.uniform(0.2, 0.45), y + rng.uniform(0.15, 0.4), r * 0.6, bark, VEGETATION)
    h, w = pen.h, pen.w
    furrows = cv2.resize(rng.standard_normal((max(2, h // 10), max(2, int(2 * half / 0.04)))).astype(np.float32),
                         (w, h), interpolation=cv2.INTER_CUBIC)     # long vertical streaks
    row_y = (np.arange(h)[::-1] + 0.5) / ppm
    centre = np.interp(row_y, ys, bend) * ppm + w / 2
    across = np.abs(np.arange(w)[None, :] - centre[:, None]) / (np.interp(row_y, ys, width)[:, None] * ppm + 1e-3)
    shade = (1.05 - 0.5 * np.clip(across, 0, 1) ** 2) * (1 + 0.22 * furrows) * (1 + 0.1 * _grain(rng, h, w))
    pen.rgb = np.clip(pen.rgb * shade[..., None], 0, 255).astype(np.uint8)
    return pen.sprite()


def _hedge(rng, length: float, height: float) -> _Sprite:
    ppm = 12.0
    w, h = max(2, int(length * ppm)), max(2, int(height * ppm))
    green = _jitter(rng, (70, 115, 45), 20)
    rgb = _foliage(rng, h, w, green)
    top = (0.85 + 0.1 * _lowfreq(rng, 1, w, 8)[0]) * h
    lab = np.where(np.arange(h)[:, None] >= (h - top)[None, :], VEGETATION, _CLEAR).astype(np.uint8)
    return _Sprite(rgb, lab, ppm)


def _fence(rng, length: float, height: float) -> _Sprite:
    ppm = 20.0
    w, h = max(2, int(length * ppm)), max(2, int(height * ppm))
    colour = _pick(rng, ((60, 60, 60), (150, 150, 150), (40, 70, 50), (120, 85, 55), (200, 200, 195)), 15)
    rgb = _texture(rng, h, w, colour, 6, 0.1)
    lab = np.full((h, w), FENCE, np.uint8)   # the whole fence, gaps included (no holes)
    if rng.random() < 0.3:        # solid boards or construction panels
        rgb[:, :: max(2, int(rng.uniform(0.1, 0.25) * ppm))] = _col(np.asarray(colour) * 0.7)
        return _Sprite(rgb, lab, ppm)
    alpha = np.zeros((h, w), np.uint8)       # bars between rails, posts every couple of metres
    step = max(2, int(rng.uniform(0.1, 0.25) * ppm))
    bar = max(1, int(rng.uniform(0.02, 0.05) * ppm))
    for x in range(0, w, step):
        alpha[:, x:x + bar] = 255
    for x in range(0, w, max(3, int(rng.uniform(2.0, 3.0) * ppm))):
        alpha[:, x:x + 2 * bar + 1] = 255
    rail = max(1, int(0.05 * ppm))
    alpha[:rail] = 255
    alpha[h - int(0.15 * h) - rail:h - int(0.15 * h)] = 255
    return _Sprite(rgb, lab, ppm, alpha)


def _wall(rng, length: float, height: float) -> _Sprite:
    ppm = 16.0
    w, h = max(2, int(length * ppm)), max(2, int(height * ppm))
    colour = _pick(rng, ((150, 145, 135), (120, 115, 110), (175, 160, 140), (140, 80, 60), (95, 95, 100)), 15)
    rgb = _texture(rng, h, w, colour, 8, 0.15, 20)
    cap = max(1, int(0.12 * ppm))
    rgb[:cap] = _col(np.asarray(colour) * 1.15)
    if rng.random() < 0.5:        # block joints
        rgb[cap::max(3, int(0.4 * ppm))] = _col(np.asarray(colour) * 0.75)
    return _Sprite(rgb, np.full((h, w), WALL, np.uint8), ppm)


WALL_COLOURS = ((200, 185, 160), (225, 220, 210), (150, 145, 140), (155, 85, 65), (210, 185, 120),
                (175, 190, 200), (105, 100, 95), (190, 160, 140), (120, 130, 120), (235, 225, 195))


def _facade(rng, width: float, height: float, light: float) -> tuple[_Sprite, np.ndarray]:
    """Textured building front with floors of windows and a shop floor; returns it and its wall colour."""
    ppm = 14.0
    w, h = max(2, int(width * ppm)), max(2, int(height * ppm))
    wall = _pick(rng, WALL_COLOURS, 18) * light
    rgb = _texture(rng, h, w, wall, 5, 0.07, 40)
    if rng.random() < 0.25:       # brick courses / panel seams
        rgb[:: max(2, int(rng.uniform(0.25, 0.8) * ppm))] = _col(wall * 0.85)
    glass = _jitter(rng, (70, 85, 100), 25) * light
    frame = _col(_jitter(rng, (230, 230, 225), 20) * light if rng.random() < 0.6 else wall * 0.7)
    ground = rng.uniform(3.5, 5.0)
    storey = rng.uniform(2.9, 3.8)
    win_w, win_h = rng.uniform(0.8, 1.6), storey * rng.uniform(0.4, 0.6)
    spacing = win_w + rng.uniform(0.7, 2.2)
    n_cols = max(1, int((width - 1.0) / spacing))
    margin = (width - (n_cols - 1) * spacing) / 2
    y = height - ground - storey   # metres from the top of the facade
    floor = 0
    while y > 0.8:
        top = height - (ground + floor * storey + (storey - win_h) * 0.55 + win_h)
        for i in range(n_cols):
            cx = margin + i * spacing
            x0, x1 = int((cx - win_w / 2) * ppm), int((cx + win_w / 2) * ppm)
            y0, y1 = int(top * ppm), int((top + win_h) * ppm)
            if y0 < 2:
                continue
            tint = glass * rng.uniform(0.6, 1.5) + (rng.random() < 0.05) * np.array([80, 70, 30])
            cv2.rectangle(rgb, (x0 - 1, y0 - 1), (x1, y1), frame, -1)
            cv2.rectangle(rgb, (x0 + 1, y0 + 1), (x1 - 2, y1 - 2), _col(tint), -1)
            cv2.line(rgb, ((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1), frame, 1)
        floor += 1
        y -= storey
    shop = rng.random() < 0.6
    y0 = int((height - ground + 0.4) * ppm)
    if shop:
        cv2.rectangle(rgb, (int(0.4 * ppm), y0), (w - int(0.4 * ppm), h - int(0.3 * ppm)), _col(glass * 0.8), -1)
        for x in np.arange(0.4, width, rng.uniform(2.0, 4.0)):
            cv2.rectangle(rgb, (int(x * ppm), y0), (int(x * ppm) + 3, h), _col(wall * 0.6), -1)
        cv2.rectangle(rgb, (0, y0 - int(0.6 * ppm)), (w, y0), _col(_pick(rng, CLOTHES, 30)), -1)
    door = rng.uniform(0.2, max(0.3, width - 1.4))
    cv2.rectangle(rgb, (int(door * ppm), h - int(2.4 * ppm)), (int((door + 1.2) * ppm), h), _col(wall * 0.45), -1)
    cv2.rectangle(rgb, (0, 0), (w, int(0.5 * ppm)), _col(wall * 0.8), -1)        # cornice
    shade = np.linspace(1.0, 0.85, h, dtype=np.float32)[:, None, None]
    rgb = (rgb * shade).astype(np.uint8)
    return _Sprite(rgb, np.full((h, w), BUILDING, np.uint8), ppm), wall


# ----------------------------------------------------------------------------- meshes

def _lit(colour, normal) -> tuple[int, int, int]:
    k = 0.8 + 0.2 * normal[1] - 0.04 * abs(normal[2])
    return _col([c * k for c in colour])


def _quad_at(quad: np.ndarray, u0, u1, v0, v1) -> np.ndarray:
    """Sub-quad of quad [b0, b1, t1, t0] (bottom edge b0->b1, top edge t0->t1) between the
    fractions u0..u1 along the edges and v0..v1 from bottom to top."""
    b0, b1, t1, t0 = quad
    u, v = np.array([[u0], [u1], [u1], [u0]]), np.array([[v0], [v0], [v1], [v1]])
    return (b0 + (b1 - b0) * u) * (1 - v) + (t0 + (t1 - t0) * u) * v


_CIRCLE = np.stack([np.cos(np.linspace(0, 2 * np.pi, 10, endpoint=False)),
                    np.sin(np.linspace(0, 2 * np.pi, 10, endpoint=False))], 1)


def _disc(centre, radius, axis: int) -> np.ndarray:
    """Decagon approximating a disc in the plane normal to coordinate `axis`."""
    pts = np.empty((len(_CIRCLE), 3))
    pts[:] = centre
    pts[:, [k for k in range(3) if k != axis]] += radius * _CIRCLE
    return pts


class _Mesh:
    """Flat polygons in object coordinates (x right, y up, z forward), drawn in the order added
    once `finish` has frozen them.

    A face with a normal is drawn only when it faces the camera."""

    def __init__(self):
        self._polys, self.colours, self.labels, self._normals, self._detail = [], [], [], [], []

    def face(self, pts, colour, label, normal=(0.0, 0.0, 0.0), detail: bool = False):
        self._polys.append(np.asarray(pts, np.float64))
        self.colours.append(colour if type(colour) is tuple else _col(colour))
        self.labels.append(label)
        self._normals.append(normal)
        self._detail.append(detail)

    def decal(self, pts, colour, label, normal=(0.0, 0.0, 0.0)):
        """A detail (window, lamp, rim) on a face, left out when the object looks small."""
        self.face(pts, colour, label, normal, detail=True)

    def solid(self, faces, colour, label, shade: bool = True) -> list:
        """Faces of a convex solid; returns (points, outward normal) per face."""
        faces = [np.asarray(f, np.float64) for f in faces]
        centre = np.concatenate(faces).mean(0)
        out = []
        for f in faces:
            (ax, ay, az), (bx, by, bz) = (f[1] - f[0]).tolist(), (f[2] - f[0]).tolist()
            nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
            cx, cy, cz = ((f[0] + f[2]) / 2 - centre).tolist()   # a diagonal's middle lies inside
            k = (1.0 if nx * cx + ny * cy + nz * cz >= 0 else -1.0) / max(math.sqrt(nx * nx + ny * ny + nz * nz), 1e-9)
            n = (nx * k, ny * k, nz * k)
            self.face(f, _lit(colour, n) if shade else colour, label, n)
            out.append((f, n))
        return out

    def box(self, x0, x1, y0, y1, z0, z1, colour, label) -> list:
        c = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])
        # side faces ordered [b0, b1, t1, t0]: bottom edge first
        idx = ((0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 4, 6, 2), (1, 5, 7, 3))
        return self.solid([c[list(i)] for i in idx], colour, label)

    def frustum(self, bottom, top, colour, label) -> list:
        """Solid between two quads given in the same vertex order; returns its side faces
        as [b_i, b_i+1, t_i+1, t_i] with normals."""
        bottom, top = np.asarray(bottom, np.float64), np.asarray(top, np.float64)
        sides = [np.array([bottom[i], bottom[(i + 1) % 4], top[(i + 1) % 4], top[i]]) for i in range(4)]
        out = self.solid(sides + [top], colour, label)
        return out[:4]

    def finish(self, turned: bool = False, shadow=None) -> "_Mesh":
        """Freeze the faces.  `turned` rotates the object half a turn (front to -z); `shadow`,
        (colour, sideways reach), first lays a dark footprint that paints no label."""
        turn = np.array([-1.0, 1.0, -1.0]) if turned else np.ones(3)
        polys, normals = [p * turn for p in self._polys], [np.asarray(n) * turn for n in self._normals]
        verts = np.concatenate(polys)
        (x0, _, z0), (x1, y1, z1) = verts.min(0), verts.max(0)
        self.length, self.width, self.height = z1 - z0, x1 - x0, y1
        if shadow is not None:
            colour, reach = shadow
            x0, x1 = x0 - 0.1 + min(reach, 0), x1 + 0.1 + max(reach, 0)
            polys.insert(0, np.array([(x0, 0, z0 - 0.1), (x1, 0, z0 - 0.1), (x1, 0, z1 + 0.1), (x0, 0, z1 + 0.1)]))
            normals.insert(0, np.zeros(3))
            self.colours.insert(0, _col(colour))
            self.labels.insert(0, None)
            self._detail.insert(0, False)
        self.verts = np.concatenate(polys)
        self.starts = np.cumsum([0] + [len(p) for p in polys]).tolist()
        self.normals = np.array(normals)
        self.offsets = np.einsum("ij,ij->i", self.normals, np.array([p[0] for p in polys]))
        self.always = ~np.any(self.normals != 0, axis=1)
        self.coarse = ~np.array(self._detail)
        return self


GLASS = ((40, 50, 60), (60, 75, 90), (30, 35, 45), (80, 95, 110))
CAR_COLOURS = ((235, 235, 235), (180, 182, 185), (25, 25, 28), (90, 92, 95), (150, 25, 25), (30, 50, 120),
               (35, 70, 45), (210, 180, 40), (200, 195, 180), (110, 70, 40), (60, 120, 170), (120, 20, 60))


def _tyres(m: _Mesh, half_w: float, zs, r: float, label: int):
    """Tyres on axles `zs` (one dark box per axle): the body hides them except below it."""
    for z in zs:
        m.box(-half_w - 0.01, half_w + 0.01, 0, 2 * r * 0.9, z - r * 0.85, z + r * 0.85, (22, 22, 24), label)


def _wheel_sides(m: _Mesh, half_w: float, zs, r: float, label: int):
    """Tyre sidewalls and rims, seen from the side."""
    for z in zs:
        for sx in (-1, 1):
            c = (sx * (half_w + 0.02), r, z)
            m.decal(_disc(c, r, 0), (20, 20, 22), label, (sx, 0, 0))
            m.decal(_disc((c[0] + sx * 0.005, r, z), r * 0.55, 0), (150, 150, 155), label, (sx, 0, 0))


def _lights(m: _Mesh, half_w: float, y0: float, y1: float, z: float, rear: bool, label: int):
    colour = (200, 20, 20) if rear else (235, 235, 220)
    normal = (0, 0, -1) if rear else (0, 0, 1)
    for sx in (-1, 1):
        xs = sorted((sx * (half_w - 0.05), sx * (half_w - 0.35)))
        m.decal([(xs[0], y0, z), (xs[1], y0, z), (xs[1], y1, z), (xs[0], y1, z)], colour, label, normal)
    m.decal([(-0.25, y0 - 0.25, z), (0.25, y0 - 0.25, z), (0.25, y0 - 0.12, z), (-0.25, y0 - 0.12, z)],
           (225, 225, 225), label, normal)


VEHICLE_LENGTH = {"car": (3.8, 4.9), "truck": (6.5, 10.5), "bus": (10.5, 13.0), "train": (22.0, 32.0)}


def _car(rng, length: float) -> _Mesh:
    m = _Mesh()
    width = rng.uniform(1.65, 1.9)
    tall = rng.random() < 0.25
    hw = width / 2
    body0, body1 = 0.2, rng.uniform(0.75, 0.92) + 0.18 * tall
    roof = body1 + rng.uniform(0.48, 0.6)
    colour, glass = _pick(rng, CAR_COLOURS, 15), _pick(rng, GLASS, 10)
    r = 0.31 + 0.04 * tall
    axle = length / 2 - rng.uniform(0.7, 0.95)
    m.box(-hw + 0.1, hw - 0.1, 0.08, body0 + 0.1, -length / 2 + 0.3, length / 2 - 0.3, (20, 20, 22), CAR)
    _tyres(m, hw, (-axle, axle), r, CAR)
    m.box(-hw, hw, body0, body1, -length / 2, length / 2, colour, CAR)
    _wheel_sides(m, hw, (-axle, axle), r, CAR)
    rear0 = -length / 2 + rng.uniform(0.25, 0.8)
    front0 = length / 2 - rng.uniform(1.0, 1.5)
    rear1, front1 = rear0 + rng.uniform(0.15, 0.6), front0 - rng.uniform(0.6, 0.9)
    wb, wt = hw - 0.05, hw - 0.2
    sides = m.frustum([(-wb, body1, rear0), (wb, body1, rear0), (wb, body1, front0), (-wb, body1, front0)],
                      [(-wt, roof, rear1), (wt, roof, rear1), (wt, roof, front1), (-wt, roof, front1)],
                      colour, CAR)
    for quad, n in sides:
        if abs(n[0]) > 0.5:   # side windows with a pillar between them
            for u0, u1 in ((0.06, 0.48), (0.53, 0.93)):
                m.decal(_quad_at(quad, u0, u1, 0.08, 0.88), _lit(glass, n), CAR, n)
        else:
            m.decal(_quad_at(quad, 0.06, 0.94, 0.08, 0.9), _lit(glass, n), CAR, n)
    _lights(m, hw, body1 - 0.2, body1 - 0.06, -length / 2 - 0.01, True, CAR)
    _lights(m, hw, body1 - 0.2, body1 - 0.08, length / 2 + 0.01, False, CAR)
    return m


def _truck(rng, length: float) -> _Mesh:
    m = _Mesh()
    width = rng.uniform(2.3, 2.55)
    hw = width / 2
    cab_len = rng.uniform(1.8, 2.3)
    cab_h, box_h = rng.uniform(2.5, 3.0), rng.uniform(3.0, 3.8)
    cab_c, box_c = _pick(rng, CAR_COLOURS, 20), _pick(rng, ((235, 235, 235), (200, 200, 200), (90, 100, 110),
                                                         (40, 60, 110), (170, 40, 30)), 15)
    z_front = length / 2
    m.box(-hw + 0.2, hw - 0.2, 0.3, 1.0, -length / 2, z_front - 0.3, (30, 30, 32), TRUCK)
    axles = (-length / 2 + 1.2, -length / 2 + 2.5, z_front - 1.0)
    _tyres(m, hw - 0.1, axles, 0.5, TRUCK)
    _wheel_sides(m, hw - 0.1, axles, 0.5, TRUCK)
    box = m.box(-hw, hw, 1.0, box_h, -length / 2, z_front - cab_len - 0.3, box_c, TRUCK)
    cab = m.box(-hw, hw, 0.6, cab_h, z_front - cab_len, z_front, cab_c, TRUCK)
    for quad, n in cab:
        if n[2] > 0.5:
            m.decal(_quad_at(quad, 0.08, 0.92, 0.55, 0.9), _lit(_pick(rng, GLASS, 5), n), TRUCK, n)
        elif abs(n[0]) > 0.5:
            m.decal(_quad_at(quad, 0.1, 0.9, 0.55, 0.88), _lit(_pick(rng, GLASS, 5), n), TRUCK, n)
    for quad, n in box:
        if n[2] < -0.5:   # rear doors
            m.decal(_quad_at(quad, 0.49, 0.51, 0.02, 0.98), _lit(box_c * 0.6, n), TRUCK, n)
    _lights(m, hw, 1.05, 1.25, -length / 2 - 0.01, True, TRUCK)
    _lights(m, hw, 0.7, 0.9, z_front + 0.01, False, TRUCK)
    return m


def _bus(rng, label: int, length: float) -> _Mesh:
    """A bus, or (label TRAIN) an articulated tram."""
    m = _Mesh()
    tram = label == TRAIN
    width = rng.uniform(2.4, 2.6)
    hw = width / 2
    height = rng.uniform(3.2, 3.5) if tram else rng.uniform(2.9, 3.3)
    colours = ((200, 30, 30), (240, 200, 40), (235, 235, 235), (40, 120, 70), (30, 80, 160), (230, 120, 30))
    colour, glass = _pick(rng, colours, 20), _pick(rng, GLASS, 8)
    bottom = 0.35 if tram else 0.3
    m.box(-hw + 0.1, hw - 0.1, 0.1, bottom + 0.1, -length / 2 + 0.5, length / 2 - 0.5, (25, 25, 25), label)
    axles = (-length / 2 + 3.0, length / 2 - 3.0) if not tram else (-length / 2 + 2, 0.0, length / 2 - 2)
    _tyres(m, hw - 0.05, axles, 0.48, label)
    _wheel_sides(m, hw - 0.05, axles, 0.48, label)
    faces = m.box(-hw, hw, bottom, height, -length / 2, length / 2, colour, label)
    stripe = _pick(rng, CLOTHES, 30)
    for quad, n in faces:
        if abs(n[1]) > 0.5:
            continue
        if abs(n[0]) > 0.5:   # a stripe and a row of windows along each side
            m.decal(_quad_at(quad, 0.0, 1.0, 0.05, 0.12), _lit(stripe, n), label, n)
            k = int(length / (2.2 if tram else 1.6))
            for i in range(k):
                m.decal(_quad_at(quad, (i + 0.1) / k, (i + 0.9) / k, 0.38, 0.85), _lit(glass, n), label, n)
        else:                 # wind screen or rear window, destination display
            m.decal(_quad_at(quad, 0.05, 0.95, 0.4, 0.88), _lit(glass, n), label, n)
            m.decal(_quad_at(quad, 0.2, 0.8, 0.9, 0.96), (230, 140, 30) if n[2] > 0 else _lit(colour * 0.5, n),
                   label, n)
    if tram:
        m.face([(-0.6, height, -1.0), (0.6, height, -1.0), (0.0, height + 1.2, 0.0)], (60, 60, 60), label)
    _lights(m, hw, 0.6, 0.85, -length / 2 - 0.01, True, label)
    _lights(m, hw, 0.6, 0.85, length / 2 + 0.01, False, label)
    return m


def _pole_box(m: _Mesh, x: float, z: float, r: float, y0: float, y1: float, colour, label=POLE):
    m.box(x - r, x + r, y0, y1, z - r, z + r, colour, label)


def _street_lamp(rng, side: int) -> _Mesh:
    """Lamp post on the curb; `side` is -1 on the left of the road (arm reaches right)."""
    m = _Mesh()
    h = rng.uniform(6.0, 9.0)
    grey = _jitter(rng, (110, 112, 115), 30)
    _pole_box(m, 0, 0, 0.09, 0, h, grey)
    reach = -side * rng.uniform(0.8, 2.5)
    m.box(min(0, reach), max(0, reach), h - 0.12, h, -0.06, 0.06, grey, POLE)
    m.box(reach - 0.3, reach + 0.3, h - 0.3, h - 0.1, -0.18, 0.18, grey * 0.8, POLE)
    return m


SIGN_STYLES = (((200, 30, 30), (240, 240, 240), "disc"), ((30, 70, 170), (30, 70, 170), "disc"),
               ((200, 30, 30), (240, 240, 240), "triangle"), ((30, 70, 170), (240, 240, 240), "rect"),
               ((240, 190, 20), (240, 240, 240), "diamond"), ((200, 25, 25), (200, 25, 25), "octagon"),
               ((20, 110, 60), (240, 240, 240), "rect"))


def _sign_plate(m: _Mesh, rng, y: float, size: float):
    ring, inner, shape = SIGN_STYLES[rng.integers(len(SIGN_STYLES))]
    ring, inner = _jitter(rng, ring, 15), _jitter(rng, inner, 15)
    n = {"disc": 16, "triangle": 3, "rect": 4, "diamond": 4, "octagon": 8}[shape]
    start = {"disc": 0, "triangle": np.pi / 2, "rect": np.pi / 4, "diamond": 0, "octagon": np.pi / 8}[shape]
    a = start + np.linspace(0, 2 * np.pi, n, endpoint=False)
    sx = 1.4 if shape == "rect" and rng.random() < 0.5 else 1.0
    r = size / 2 * (1.3 if shape in ("rect", "triangle") else 1.0)

    def plate(scale, z):
        return np.stack([sx * scale * r * np.cos(a), y + scale * r * np.sin(a), np.full(n, z)], 1)

    m.face(plate(1.0, -0.03), (150, 150, 150), TRAFFIC_SIGN, (0, 0, 1))
    m.face(plate(1.0, -0.05), ring, TRAFFIC_SIGN, (0, 0, -1))
    m.face(plate(0.75, -0.06), inner, TRAFFIC_SIGN, (0, 0, -1))


def _sign(rng) -> _Mesh:
    m = _Mesh()
    h = rng.uniform(2.2, 3.0)
    _pole_box(m, 0, 0, 0.035, 0, h + 0.4, _jitter(rng, (150, 150, 150), 20))
    size = rng.uniform(0.55, 0.85)
    _sign_plate(m, rng, h, size)
    if rng.random() < 0.3:
        _sign_plate(m, rng, h - size * 1.2, size * 0.9)
    return m


def _traffic_light(rng, side: int, overhead: bool) -> _Mesh:
    """Signal pole on the curb; an overhead one hangs its head over the road (side: -1 left)."""
    m = _Mesh()
    grey = _jitter(rng, (90, 92, 95), 25)
    h = rng.uniform(5.5, 6.5) if overhead else rng.uniform(2.4, 3.2)
    _pole_box(m, 0, 0, 0.08, 0, h + (0 if overhead else 1.0), grey)
    x = 0.0
    if overhead:
        x = -side * rng.uniform(2.5, 4.5)
        m.box(min(0, x), max(0, x), h - 0.1, h + 0.05, -0.05, 0.05, grey, POLE)
        m.box(x - 0.03, x + 0.03, h - 0.5, h - 0.1, 0.14, 0.2, grey, POLE)
        h -= 1.0
    body = _jitter(rng, (35, 35, 35), 10) if rng.random() < 0.7 else _jitter(rng, (200, 170, 30), 20)
    m.box(x - 0.17, x + 0.17, h - 0.5, h + 0.5, 0.05, 0.3, body, TRAFFIC_LIGHT)
    lit = rng.integers(3)
    for i, colour in enumerate(((230, 30, 20), (240, 170, 20), (30, 210, 90))):
        c = colour if i == lit else np.asarray(colour) * 0.25
        m.face(_disc((x, h + 0.3 - 0.3 * i, 0.04), 0.11, 2), c, TRAFFIC_LIGHT, (0, 0, -1))
    return m


# ----------------------------------------------------------------------------- camera and canvas

class _Camera:
    """Pinhole camera at (x, height, 0) looking along +z (world x right, y up, z forward), turned
    by yaw (positive: right), pitch (positive: down) and roll."""

    def __init__(self, width, height, hfov_deg, cam_height, pitch_deg, yaw_deg, roll_deg, x=0.0):
        self.width, self.height = width, height
        self.f = 0.5 * width / math.tan(math.radians(hfov_deg) / 2)
        self.K = np.array([[self.f, 0, width / 2 - 0.5], [0, self.f, height / 2 - 0.5], [0, 0, 1.0]])
        p, y, r = np.radians([pitch_deg, yaw_deg, roll_deg])
        rp = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
        ry = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
        rr = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
        self.R = rr @ rp @ ry @ np.diag([1.0, -1.0, 1.0])
        self.KR = self.K @ self.R
        self.C = np.array([x, cam_height, 0.0])
        self.half_tan = math.tan(math.radians(hfov_deg) / 2 + abs(y) + abs(r)) * 1.05

    def rays(self) -> list[np.ndarray]:
        """World x, y and z components of every pixel's viewing direction (HxW float32 each)."""
        u = np.arange(self.width, dtype=np.float32)[None, :]
        v = np.arange(self.height, dtype=np.float32)[:, None]
        return [a * u + b * v + np.float32(c) for a, b, c in np.linalg.inv(self.KR).astype(np.float32)]


def _clip_near(pc: np.ndarray) -> np.ndarray:
    out = []
    n = len(pc)
    for i in range(n):
        a, b = pc[i], pc[(i + 1) % n]
        if a[2] >= NEAR:
            out.append(a)
        if (a[2] >= NEAR) != (b[2] >= NEAR):
            out.append(a + (b - a) * ((NEAR - a[2]) / (b[2] - a[2])))
    return np.array(out)


class _Canvas:
    """An rgb image and its labels, painted through a camera."""

    def __init__(self, cam: _Camera, rgb: np.ndarray, lab: np.ndarray):
        self.cam, self.rgb, self.lab = cam, rgb, lab
        self.RT, self.KT, self.C = cam.R.T, cam.K.T, cam.C
        self._c, self._r2, self._kr = tuple(cam.C.tolist()), tuple(cam.R[2].tolist()), cam.KR.tolist()

    def _uv16(self, pc: np.ndarray) -> np.ndarray:
        q = pc @ self.KT
        uv = q[:, :2] / np.maximum(q[:, 2:3], 1e-6)
        return np.round(np.clip(uv, -1e6, 1e6) * 16).astype(np.int32)

    def _fill(self, pc: np.ndarray, colour, label):
        """Fill a polygon given in camera coordinates; label None leaves the labels alone."""
        if pc[:, 2].min() < NEAR:
            pc = _clip_near(pc)
            if len(pc) < 3:
                return
        pts = [self._uv16(pc)]
        cv2.fillPoly(self.rgb, pts, colour, cv2.LINE_8, 4)
        if label is not None:
            cv2.fillPoly(self.lab, pts, label, cv2.LINE_8, 4)

    def poly(self, pts, colour, label):
        self._fill((np.asarray(pts, np.float64) - self.C) @ self.RT, _col(colour), int(label))

    def mesh(self, m: _Mesh, pos):
        pos = np.asarray(pos, np.float64)
        pc = (m.verts + (pos - self.C)) @ self.RT
        depth = pc[:, 2]
        if depth.max() < NEAR:
            return
        uv = self._uv16(pc)
        facing = m.always | (m.normals @ (self.C - pos) > m.offsets)
        if self.cam.f * m.height < _DETAIL_PX * depth.min():
            facing &= m.coarse
        near = np.minimum.reduceat(depth, m.starts[:-1]) < NEAR
        for i in np.flatnonzero(facing).tolist():
            a, b = m.starts[i], m.starts[i + 1]
            if near[i]:
                self._fill(pc[a:b], m.colours[i], m.labels[i])
            else:
                pts = [uv[a:b]]
                cv2.fillPoly(self.rgb, pts, m.colours[i], cv2.LINE_8, 4)
                if m.labels[i] is not None:
                    cv2.fillPoly(self.lab, pts, m.labels[i], cv2.LINE_8, 4)

    def sprite(self, spr: _Sprite, origin, u, v, opaque: bool = False):
        """Paint `spr` on the world quad origin + a*u + b*v, a, b in [0, 1]; u runs along the
        sprite's columns and v down its rows.  Opaque sprites skip the transparency mask."""
        rows, cols = spr.lab.shape
        lo, hi = 0, cols     # columns kept
        (ox, oy, oz), (ux, uy, uz), (vx, vy, vz) = origin, u, v
        cx, cy, cz = self._c
        r0, r1, r2 = self._r2
        ox, oy, oz = ox - cx, oy - cy, oz - cz          # relative to the camera from here on
        dv = min(r0 * vx + r1 * vy + r2 * vz, 0.0)
        near0 = r0 * ox + r1 * oy + r2 * oz + dv        # nearest depth of the first and last column
        near1 = near0 + r0 * ux + r1 * uy + r2 * uz
        if near0 < NEAR or near1 < NEAR:   # keep the columns in front of the near plane
            if near0 < NEAR and near1 < NEAR:
                return
            a = (NEAR - near0) / (near1 - near0)
            if near0 < NEAR:
                c = min(int(math.ceil(a * cols)), cols - 1)
                f, g = c / cols, (cols - c) / cols
                ox, oy, oz = ox + ux * f, oy + uy * f, oz + uz * f
                lo, cols = c, cols - c
            else:
                c = max(int(a * cols), 1)
                g = c / cols
                hi, cols = c, c
            ux, uy, uz = ux * g, uy * g, uz * g
        ux, uy, uz, vx, vy, vz = ux / cols, uy / cols, uz / cols, vx / rows, vy / rows, vz / rows
        tx, ty, tz = ox + (ux + vx) / 2, oy + (uy + vy) / 2, oz + (uz + vz) / 2
        mat = [(k0 * ux + k1 * uy + k2 * uz, k0 * vx + k1 * vy + k2 * vz, k0 * tx + k1 * ty + k2 * tz)
               for k0, k1, k2 in self._kr]
        xs, ys = [], []
        for s, t in ((-0.5, -0.5), (cols - 0.5, -0.5), (cols - 0.5, rows - 0.5), (-0.5, rows - 0.5)):
            w = mat[2][0] * s + mat[2][1] * t + mat[2][2]
            xs.append((mat[0][0] * s + mat[0][1] * t + mat[0][2]) / w)
            ys.append((mat[1][0] * s + mat[1][1] * t + mat[1][2]) / w)
        x0, y0 = max(int(min(xs)), 0), max(int(min(ys)), 0)
        x1, y1 = min(int(max(xs)) + 2, self.cam.width), min(int(max(ys)) + 2, self.cam.height)
        if x1 <= x0 or y1 <= y0:
            return
        mat = np.array(mat)
        mat[0] -= x0 * mat[2]
        mat[1] -= y0 * mat[2]
        size = (x1 - x0, y1 - y0)
        roi_rgb, roi_lab = self.rgb[y0:y1, x0:x1], self.lab[y0:y1, x0:x1]
        if opaque:
            cv2.warpPerspective(spr.rgb[:, lo:hi], mat, size, dst=roi_rgb, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_TRANSPARENT)
            cv2.warpPerspective(spr.lab[:, lo:hi], mat, size, dst=roi_lab, flags=cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_TRANSPARENT)
            return
        # one warp of rgb and coverage; a pixel is painted where it is at least half covered
        rgba, label, cover = spr.rgba()
        mat[:, 2] -= mat[:, 0] + mat[:, 1]     # the padded image starts one pixel up and left
        out = cv2.warpPerspective(rgba[:, lo:hi + 2], mat, size, flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        mask = out[..., 3] >= 128
        np.copyto(roi_rgb, out[..., :3], where=mask[..., None])
        if cover is not None:
            mask = cv2.warpPerspective(cover[:, lo:hi + 2], mat, size, flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_CONSTANT, borderValue=0) >= 128
        roi_lab[mask] = label


# ----------------------------------------------------------------------------- ground map

# ground materials: name -> (train id, blotch, grain)
_MATERIALS = {
    "asphalt": (ROAD, 0.10, 7.0), "patch": (ROAD, 0.08, 6.0), "white": (ROAD, 0.05, 8.0),
    "yellow": (ROAD, 0.05, 8.0), "rail": (ROAD, 0.05, 10.0), "curb": (SIDEWALK, 0.05, 7.0),
    "walk": (SIDEWALK, 0.07, 6.0), "joint": (SIDEWALK, 0.05, 5.0), "plaza": (SIDEWALK, 0.08, 7.0),
    "grass": (TERRAIN, 0.22, 14.0), "soil": (TERRAIN, 0.15, 12.0),
}
_MAT_ID = {name: i for i, name in enumerate(_MATERIALS)}


def _material_colours(rng) -> np.ndarray:
    grey = rng.uniform(60, 110)
    asphalt = np.array([grey, grey, grey + rng.uniform(-4, 8)]) + rng.uniform(-6, 6)
    walk = _pick(rng, ((150, 150, 148), (185, 180, 170), (165, 120, 110), (120, 120, 125), (200, 190, 165)), 12)
    grass = _pick(rng, ((85, 125, 50), (110, 140, 60), (140, 135, 80), (70, 105, 45)), 12)
    colours = {
        "asphalt": asphalt, "patch": asphalt * rng.uniform(0.7, 0.9), "white": _jitter(rng, (215, 215, 210), 15),
        "yellow": _jitter(rng, (220, 180, 45), 15), "rail": _jitter(rng, (150, 145, 140), 15),
        "curb": _jitter(rng, (170, 168, 160), 20), "walk": walk, "joint": walk * 0.72,
        "plaza": _pick(rng, ((175, 170, 160), (150, 130, 120), (200, 195, 185)), 12), "grass": grass,
        "soil": _jitter(rng, (120, 100, 75), 15),
    }
    return np.array([colours[name] for name in _MATERIALS], np.float32)


class _GroundMap:
    """Top-down material map of the ground: rows run along x, columns along z."""

    def __init__(self, x0: float, x1: float, z0: float, z1: float, period: float | None):
        self.x0, self.z0, self.period = x0, z0, period
        self.rows, self.cols = int((x1 - x0) * _GROUND_PPM), int((z1 - z0) * _GROUND_PPM)
        self.mat = np.zeros((self.rows, self.cols), np.uint8)
        self.light = np.ones((self.rows, self.cols), np.float32)

    def _cols(self, z0: float, z1: float):
        """Column ranges of the map for z0..z1, repeated around the loop of a periodic map."""
        shifts = (0.0, -self.period, self.period) if self.period else (0.0,)
        for s in shifts:
            c0, c1 = (int(round((z + s - self.z0) * _GROUND_PPM)) for z in (z0, z1))
            c0, c1 = max(c0, 0), min(c1, self.cols)
            if c1 > c0:
                yield c0, c1

    def _rows(self, x0: float, x1: float) -> slice:
        r0, r1 = (int(round((x - self.x0) * _GROUND_PPM)) for x in (min(x0, x1), max(x0, x1)))
        return slice(max(r0, 0), max(min(r1, self.rows), 0))

    def rect(self, x0, x1, z0, z1, material: str):
        rows = self._rows(x0, x1)
        for c0, c1 in self._cols(z0, z1):
            self.mat[rows, c0:c1] = _MAT_ID[material]

    def shadow(self, x0, x1, z0, z1, factor: float):
        rows = self._rows(x0, x1)
        for c0, c1 in self._cols(z0, z1):
            self.light[rows, c0:c1] = np.minimum(self.light[rows, c0:c1], factor)

    def blob(self, x, z, rx, rz, material: str | None = None, factor: float = 1.0):
        """An ellipse of material, or of shadow when material is None."""
        for c0, _ in self._cols(z - rz, z + rz):
            centre = (int(c0 + rz * _GROUND_PPM), int((x - self.x0) * _GROUND_PPM))
            axes = (max(1, int(rz * _GROUND_PPM)), max(1, int(rx * _GROUND_PPM)))
            if material is None:
                cv2.ellipse(self.light, centre, axes, 0, 0, 360, factor, -1)
            else:
                cv2.ellipse(self.mat, centre, axes, 0, 0, 360, _MAT_ID[material], -1)

    def render(self, rng) -> tuple[np.ndarray, np.ndarray]:
        """Textured rgb and train ids of the map; keeps the material colours in `colours`."""
        self.colours = _material_colours(rng)
        table = np.zeros((6, 256, 1), np.float32)     # r, g, b, blotch, grain, label per material
        table[:3, :len(_MATERIALS), 0] = self.colours.T
        for i, (label, blotch, grain) in enumerate(_MATERIALS.values()):
            table[3:, i, 0] = blotch, grain, label
        shade = cv2.LUT(self.mat, table[3]) * _lowfreq(rng, self.rows, self.cols, 40.0) + 1.0
        shade *= cv2.blur(self.light, (5, 5))
        noise = cv2.LUT(self.mat, table[4]) * _grain(rng, self.rows, self.cols)
        rgb = cv2.merge([cv2.convertScaleAbs(cv2.LUT(self.mat, table[c]) * shade + noise) for c in range(3)])
        return rgb, cv2.LUT(self.mat, table[5].astype(np.uint8))


# ----------------------------------------------------------------------------- world

class _Thing:
    """Something placed in the world.  Its painter `paint(canvas, d, t)` (d: relative depth of
    its centre) is built on first use from the thing's own seed, so nothing depends on the order
    in which things are first seen.

    layer 0 lies on the ground, 1 is the building line, 2 the street; within a layer things are
    painted far to near by d + key.  `motion(t)`, when set, gives the relative depth of a mover."""

    __slots__ = ("x", "z", "half", "radius", "layer", "key", "build", "seed", "motion", "_painter")

    def __init__(self, x, z, half, radius, layer, build, seed, key=None, motion=None):
        self.x, self.z, self.half, self.radius, self.layer = x, z, half, radius, layer
        self.key = -half if key is None else key
        self.build, self.seed, self.motion, self._painter = build, seed, motion, None

    def painter(self):
        if self._painter is None:
            self._painter = self.build(np.random.default_rng(self.seed))
        return self._painter


def _billboard(spr: _Sprite, x: float, bottom: float = 0.0):
    """Sprite facing the camera's direction, its bottom centre at (x, bottom) over the thing."""
    def paint(cv, d, t):
        cv.sprite(spr, (x - spr.width / 2, bottom + spr.height, d), (spr.width, 0, 0), (0, -spr.height, 0))
    return paint


def _along(spr: _Sprite, x: float, opaque: bool = False, reverse: bool = False):
    """Sprite on a vertical plane parallel to the road, centred at the thing's depth."""
    def paint(cv, d, t):
        u = -spr.width if reverse else spr.width
        cv.sprite(spr, (x, spr.height, d - u / 2), (0, 0, u), (0, -spr.height, 0), opaque)
    return paint


def _animate(frames: list[_Sprite], x: float, rate: float, phase: float):
    """Billboard cycling through `frames` at `rate` cycles per second."""
    def paint(cv, d, t):
        _billboard(frames[int((t * rate + phase) * len(frames)) % len(frames)], x)(cv, d, t)
    return paint


def _tree_paint(rng, crown: float, height: float, x: float):
    spr, bottom = _tree(rng, crown, height)
    crown_paint = _billboard(spr, x, bottom)
    trunk_paint = _billboard(_trunk(rng, bottom + crown * 0.3), x)

    def paint(cv, d, t):
        trunk_paint(cv, d, t)
        crown_paint(cv, d, t)
    return paint


class _World:
    """A street with its camera, lighting and everything in it; `render(t)` draws one frame.

    A periodic world is a loop of `length` metres driven in `period` seconds; otherwise the
    camera stands at z = 0 and nothing moves."""

    def __init__(self, rng, width: int, height: int, length: float, period: float | None):
        self.rng = rng
        self.length, self.period = length, period
        self.speed = length / period if period else 0.0
        self.phases = 8 if period else 1
        self.cam = _Camera(width, height, rng.uniform(50, 90), rng.uniform(1.2, 2.3), rng.uniform(-2, 7),
                           rng.uniform(-4, 4), rng.uniform(-1, 1) if period else rng.uniform(-2.5, 2.5),
                           rng.uniform(-0.4, 0.4))
        self.overcast = rng.random() < 0.35
        self.sun_side = 1 if rng.random() < 0.5 else -1
        self.shadow_len = rng.uniform(0.5, 2.0)
        self.light = rng.uniform(0.8, 1.1)
        self.things: list[_Thing] = []
        self._layout()
        self._ground_rgb, self._ground_lab = self.ground.render(rng)
        self._ground_z0 = self.ground.z0
        if period:   # let the map run on past both ends of the loop
            back, ahead = int(BACK * 2 * _GROUND_PPM), int((FAR + 40) * _GROUND_PPM)
            self._ground_rgb, self._ground_lab = (
                np.concatenate([m[:, -back:], m, m[:, :ahead]], 1) for m in (self._ground_rgb, self._ground_lab))
            self._ground_z0 = -back / _GROUND_PPM
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
        self.things.append(_Thing(x, z, half, radius, layer, build, seed, key, motion))

    # -- layout ---------------------------------------------------------------------------

    def _layout(self):
        """Lanes, the street's cross-section on the ground map, crossings and everything on the street."""
        rng, L = self.rng, self.length
        lane_w = rng.uniform(2.9, 3.7)
        n_same, n_onc = int(rng.integers(1, 3)), int((0, 1, 1, 2)[rng.integers(4)])
        ego = int(rng.integers(n_same))
        self.lanes = [((i - ego) * lane_w, 1) for i in range(n_same)]
        self.lanes += [((-ego - 1 - j) * lane_w, -1) for j in range(n_onc)]
        xs = [x for x, _ in self.lanes]
        park = {-1: rng.random() < 0.35, 1: rng.random() < 0.5}
        edge = {-1: min(xs) - lane_w / 2 - 2.2 * park[-1], 1: max(xs) + lane_w / 2 + 2.2 * park[1]}
        self.edge = edge
        self.z_lo = 0.0 if self.period else -BACK
        sides = {}
        for s in (-1, 1):
            strip = rng.uniform(1.0, 3.0) if rng.random() < 0.35 else 0.0
            walk = rng.uniform(1.8, 5.5)
            lawn = rng.uniform(1.0, 4.0) if rng.random() < 0.2 else 0.0
            sides[s] = dict(strip=strip, walk=walk, lawn=lawn, face=edge[s] + s * (0.25 + strip + walk + lawn))
        self.sides = sides
        x_min, x_max = sides[-1]["face"] - 12, sides[1]["face"] + 12
        self.ground = g = _GroundMap(x_min, x_max, self.z_lo, L, L if self.period else None)
        self.profile = []   # lateral bands (x0, x1, material) for the far distance
        g.rect(x_min, x_max, self.z_lo, L, "soil")
        g.rect(edge[-1], edge[1], self.z_lo, L, "asphalt")
        self.profile.append((edge[-1], edge[1], "asphalt"))
        for s in (-1, 1):
            d = sides[s]
            x = edge[s]
            parts = [(0.25, "curb"), (d["strip"], "grass"), (d["walk"], "walk"), (d["lawn"], "grass"),
                     (40.0, "plaza" if rng.random() < 0.5 else "grass")]
            for w, material in parts:
                if w > 0:
                    g.rect(x, x + s * w, self.z_lo, L, material)
                    self.profile.append((min(x, x + s * w), max(x, x + s * w), material))
                    x += s * w
        sc, sr = (max(2, int(rng.uniform(0.3, 0.8) * _GROUND_PPM)) for _ in range(2))
        joints = (np.arange(g.cols) % sc == 0)[None, :] | (np.arange(g.rows) % sr == 0)[:, None]
        g.mat[(g.mat == _MAT_ID["walk"]) & joints] = _MAT_ID["joint"]

        self.crossings = []
        z = rng.uniform(15, 60)
        while z < L - 40:
            w = rng.uniform(8, 14)
            self.crossings.append((z, z + w))
            z += w + rng.uniform(40, 120)
        self._markings(lane_w, park)
        for c0, c1 in self.crossings:
            g.rect(x_min, x_max, c0, c1, "asphalt")
            for s in (-1, 1):
                g.rect(edge[s] + s * 0.25, x_max if s > 0 else x_min, c0 - 0.25, c0, "curb")
                g.rect(edge[s] + s * 0.25, x_max if s > 0 else x_min, c1, c1 + 0.25, "curb")
        for s in (-1, 1):
            self._curbs(s)
            self._building_line(s)
            self._furniture(s)
        self._traffic(park)

    def _in_crossing(self, z0: float, z1: float, margin: float = 0.0) -> bool:
        return any(z0 < c1 + margin and z1 > c0 - margin for c0, c1 in self.crossings)

    def _markings(self, lane_w: float, park: dict):
        """Lane lines, zebra crossings and stop lines, tram rails and road patches on the ground map."""
        rng, g, L, z_lo = self.rng, self.ground, self.length, self.z_lo
        dash, gap = rng.uniform(2.5, 4.5), rng.uniform(4.0, 9.0)
        lw = rng.uniform(0.1, 0.16)
        same = sorted(x for x, d in self.lanes if d > 0)
        onc = sorted(x for x, d in self.lanes if d < 0)
        phase = rng.uniform(0, dash + gap)

        def dashed(x, material="white"):
            z = z_lo - phase
            while z < L:
                if not self._in_crossing(z, z + dash, 2.0):
                    g.rect(x - lw / 2, x + lw / 2, z, z + dash, material)
                z += dash + gap

        def solid(x, material="white"):
            g.rect(x - lw / 2, x + lw / 2, z_lo, L, material)

        for a, b in zip(same, same[1:]):
            dashed((a + b) / 2)
        for a, b in zip(onc, onc[1:]):
            dashed((a + b) / 2)
        if onc:
            centre = same[0] - lane_w / 2
            paint = "yellow" if rng.random() < 0.3 else "white"
            if rng.random() < 0.5:
                solid(centre - 0.12, paint)
                solid(centre + 0.12, paint)
            else:
                dashed(centre, paint)
        for s in (-1, 1):
            if rng.random() < 0.6:
                solid(self.edge[s] - s * (2.2 * park[s] + 0.3))
        for c0, c1 in self.crossings:   # zebra and stop line
            z0 = c0 - rng.uniform(4.0, 6.0)
            x = self.edge[-1]
            while x < self.edge[1]:
                g.rect(x, x + 0.5, z0, z0 + 3.0, "white")
                x += 1.0
            g.rect(same[0] - lane_w / 2, same[-1] + lane_w / 2, z0 - 1.5, z0 - 1.0, "white")
        self.tram_x = None
        if rng.random() < 0.25:
            self.tram_x = same[0] if not onc or rng.random() < 0.5 else onc[-1]
            for r in (-0.72, 0.72):
                g.rect(self.tram_x + r - 0.04, self.tram_x + r + 0.04, z_lo, L, "rail")
        for _ in range(int(L / 20)):
            x, z = rng.uniform(self.edge[-1], self.edge[1]), rng.uniform(z_lo, L)
            if rng.random() < 0.5:
                g.blob(x, z, 0.35, 0.35, "patch")
            else:
                g.rect(x, x + rng.uniform(0.5, 3), z, z + rng.uniform(1, 8), "patch")

    def _curbs(self, s: int):
        """Vertical curb faces along the road edge, cut at the crossings."""
        x = self.edge[s]
        h = self.rng.uniform(0.08, 0.16)
        colour = _col(_jitter(self.rng, (150, 148, 140), 20) * self.light)
        z = self.z_lo
        for c0, c1 in sorted(self.crossings) + [(self.length, self.length)]:
            while z < c0:
                z1 = min(z + 25.0, c0)
                half = (z1 - z) / 2

                def build(rng, half=half):
                    def paint(cv, d, t):
                        cv.poly([(x, 0, d - half), (x, 0, d + half), (x, h, d + half), (x, h, d - half)],
                                colour, SIDEWALK)
                    return paint
                self._add(x, (z + z1) / 2, half, 0.0, 0, build)
                z = z1
            z = c1

    def _building_line(self, s: int):
        """Buildings along side s, with gaps (parks, yards, lots) and the crossings left open."""
        rng, L = self.rng, self.length
        face = self.sides[s]["face"]
        dense = rng.uniform(0.5, 0.95)
        tall = ((6, 14), (10, 25), (15, 35))[rng.integers(3)]
        z = self.z_lo
        cuts = sorted(self.crossings) + [(L + 1e9, L + 1e9)]
        ci = 0
        while z < L:
            while cuts[ci][1] <= z:
                ci += 1
            if cuts[ci][0] <= z:
                z = cuts[ci][1]
                continue
            building = rng.random() < dense
            seg = rng.uniform(8, 35) if building else rng.uniform(4, 22)
            z1 = min(z + seg, cuts[ci][0], L)
            if z1 - z >= 2.0:
                if building:
                    setback = rng.uniform(0.5, 3.0) if rng.random() < 0.35 else 0.0
                    self._building(s, face + s * setback, z, z1, rng.uniform(*tall), rng.uniform(8, 15))
                else:
                    self._gap(s, face, z, z1, tall)
            z = z1

    def _building(self, s, face, z0, z1, height, depth, key=None):
        """A building with its front at x = face between z0 and z1, casting its shadow on the street."""
        light = self.light * (1.05 if s == self.sun_side else 0.85)
        half = (z1 - z0) / 2

        def build(rng):
            spr, wall = _facade(rng, z1 - z0, height, light)
            side_colour = _col(wall * 0.7)

            def paint(cv, d, t):
                cv.sprite(spr, (face, height, d - half), (0, 0, 2 * half), (0, -height, 0), opaque=True)
                if d - half > 0:
                    far = face + s * depth
                    cv.poly([(face, 0, d - half), (far, 0, d - half), (far, height, d - half),
                             (face, height, d - half)], side_colour, BUILDING)
            return paint
        self._add(face + s * depth / 2, (z0 + z1) / 2, half, depth / 2, 1, build, key)
        if s == self.sun_side and not self.overcast:
            self.ground.shadow(face, face - s * height * self.shadow_len * 0.5, z0, z1, 0.55)

    def _gap(self, s, face, z0, z1, tall):
        """Space between buildings: a park, yard or lot behind a wall, fence or hedge, maybe a rear building."""
        rng, g = self.rng, self.ground
        half, zc = (z1 - z0) / 2, (z0 + z1) / 2
        kind = ("park", "yard", "lot")[rng.integers(3)]
        g.rect(face, face + s * 40, z0, z1, {"park": "grass", "yard": "soil", "lot": "plaza"}[kind])
        if rng.random() < (0.4 if kind == "park" else 0.75):
            back = rng.uniform(18, 30)
            self._building(s, face + s * back, z0, z1, rng.uniform(*tall), 10.0, key=half + 0.01)
        for _ in range(int(rng.integers(1, 4)) if kind != "lot" else 0):
            crown, height = _tree_size(rng)
            r = crown / 2
            if 2 * r < z1 - z0:
                zt = rng.uniform(z0 + r, z1 - r)
                xt = face + s * rng.uniform(r + 0.5, r + 8)
                self._add(xt, zt, r, r, 1, lambda g_, c=crown, h=height, x=xt: _tree_paint(g_, c, h, x), 0.0)
        edge, height = rng.random(), rng.uniform(0.8, 2.3)
        x = face - s * 0.2
        if edge < 0.3:
            build = lambda g_, n=z1 - z0, h=height, x=x: _along(_wall(g_, n, h), x, opaque=True)
        elif edge < 0.65:
            build = lambda g_, n=z1 - z0, h=height, x=x: _along(_fence(g_, n, h), x)
        elif edge < 0.9:
            build = lambda g_, n=z1 - z0, h=height, x=x: _along(_hedge(g_, n, h), x)
        else:
            return
        self._add(x, zc, half, 0.0, 1, build)

    def _every(self, mean_gap: float, spread: float = 0.4):
        """Positions along the street about `mean_gap` apart."""
        rng = self.rng
        z = self.z_lo + rng.uniform(0, mean_gap)
        while z < self.length:
            yield z
            z += mean_gap * rng.uniform(1 - spread, 1 + spread)

    def _furniture(self, s: int):
        """Lamps, trees or bushes, signs, traffic lights, parked two-wheelers and pedestrians."""
        rng, g, side = self.rng, self.ground, self.sides[s]
        edge = self.edge[s]
        x = edge + s * 0.45
        for z in self._every(rng.uniform(12, 30)):
            if not self._in_crossing(z, z, 1.0):
                self._add(x, z, 0.3, 3.0, 2, lambda g_, x=x: self._mesh_paint(_street_lamp(g_, s), x))
        if side["strip"] or rng.random() < 0.45:
            xt = edge + s * (0.25 + side["strip"] / 2 if side["strip"] else 1.0)
            for z in self._every(rng.uniform(6, 16)):
                if self._in_crossing(z, z, 3.0) or rng.random() < 0.2:
                    continue
                crown, height = _tree_size(rng)
                self._add(xt, z, 0.3, crown / 2, 2, lambda g_, c=crown, h=height, x=xt: _tree_paint(g_, c, h, x))
                if not self.overcast:
                    g.blob(xt - self.sun_side * height * self.shadow_len * 0.4, z, crown / 2, crown / 2, None, 0.6)
        elif rng.random() < 0.5:
            xb = side["face"] - s * 0.6
            for z in self._every(rng.uniform(10, 30)):
                if not self._in_crossing(z, z, 2.0):
                    length, height = rng.uniform(1.0, 3.0), rng.uniform(0.6, 1.3)
                    self._add(xb, z, length / 2, 0.5, 2,
                              lambda g_, n=length, h=height, x=xb: _along(_hedge(g_, n, h), x))
        xs = edge + s * 0.4
        two_way = any(d < 0 for _, d in self.lanes)
        for z in self._every(rng.uniform(10, 30)):
            if not self._in_crossing(z, z, 1.0):
                turned = s < 0 and two_way and rng.random() < 0.5     # facing the oncoming traffic
                self._add(xs, z, 0.3, 0.5, 2, lambda g_, x=xs, f=turned: self._mesh_paint(_sign(g_), x, f))
        xl = edge + s * 0.5
        for c0, c1 in self.crossings:
            for z, flip in ((c0 - rng.uniform(0.5, 2.5), False), (c1 + rng.uniform(0.5, 2.5), True)):
                overhead = s == (-1 if flip else 1) and rng.random() < 0.6
                self._add(xl, z, 0.3, 4.0, 2, lambda g_, f=flip, o=overhead, x=xl: self._mesh_paint(
                    _traffic_light(g_, -s if f else s, o), x, f))
        walk_x = (edge + s * (0.25 + side["strip"]), edge + s * (0.25 + side["strip"] + side["walk"]))
        for z in self._every(rng.uniform(8, 30)):            # parked two-wheelers
            if self._in_crossing(z, z, 2.0):
                continue
            x = side["face"] - s * 0.8 if rng.random() < 0.6 else walk_x[0] + s * 0.6
            for i in range(int(rng.integers(1, 4))):
                motor = rng.random() < 0.3
                length = _two_wheeler_length(rng, motor)
                if rng.random() < 0.5:
                    self._add(x, z + i * 0.8, length / 2, 0.2, 2,
                              lambda g_, m=motor, n=length, x=x: _along(_two_wheeler(g_, m, n), x))
                else:
                    xb = x - s * length / 2
                    self._add(xb, z + i * 0.7, 0.2, length / 2, 2,
                              lambda g_, m=motor, n=length, x=xb: _billboard(_two_wheeler(g_, m, n), x))
        self._pedestrians(walk_x)

    def _mesh_paint(self, mesh: _Mesh, x: float, turned: bool = False, shadow: bool = False):
        """Painter of a mesh standing at lateral position x, optionally casting a shadow."""
        if shadow:
            dark = self.ground.colours[_MAT_ID["asphalt"]] * (0.55 if self.overcast else 0.4)
            shadow = (dark, -self.sun_side * 0.4 * self.shadow_len * (not self.overcast))
        mesh.finish(turned, shadow or None)

        def paint(cv, d, t):
            cv.mesh(mesh, (x, 0, d))
        return paint

    # -- movers ---------------------------------------------------------------------------

    def _surge(self, amp: float):
        """A slow periodic surge, closing over the loop: (amplitude, angular rate, phase)."""
        return amp, 2 * np.pi * int(self.rng.integers(1, 4)) / (self.period or 1.0), self.rng.uniform(0, 2 * np.pi)

    def _rigid(self, z0: float, w: float, surge):
        """Motion at relative speed w (a multiple of the ego speed, so the loop closes) plus a
        surge; things sharing a surge keep their distances."""
        if not self.period:
            return None
        amp, om, ph = surge
        return lambda t: z0 + w * t + amp * (math.sin(om * t + ph) - math.sin(ph))

    def _walker(self, z0: float, speed: float):
        """Motion at ground speed `speed`.  Over the loop it falls behind the road by a jump that
        happens out of sight; None when no such jump exists."""
        if not self.period:
            return None
        w, T, L = speed - self.speed, self.period, self.length
        r = (w * T + L / 2) % L - L / 2
        lo, hi = FAR + 5, L - BACK - 5
        lo, hi = (lo - r, hi) if r < 0 else (lo, hi - r)
        if hi <= lo:
            return None
        d_a, t_a = self.rng.uniform(lo, hi), self.rng.uniform(0, T)
        return lambda t: d_a + w * ((t - t_a) % T)

    def _pedestrians(self, walk_x):
        """People standing or walking either way on the sidewalk between walk_x."""
        rng = self.rng
        density = rng.uniform(0.05, 0.2)
        for z in self._every(1 / density, 0.9):
            x = rng.uniform(*sorted(walk_x))
            standing = rng.random() < 0.25
            speed = 0.0 if standing else rng.uniform(0.9, 1.7) * (1 if rng.random() < 0.5 else -1)
            motion = None if standing else self._walker(z, speed)
            if self.period and motion is None and not standing:
                continue
            phases = 1 if standing else self.phases
            self._add(x, z, 0.3, 0.5, 2, lambda g_, p=phases, sp=speed, x=x: _animate(
                _person_frames(g_, p, sp >= 0, False, PERSON), x, abs(sp) * 1.2, g_.uniform(0, 1)), motion=motion)

    def _rider(self, rng, x: float, motor: bool, oncoming: bool, length: float):
        """Painter of a cyclist or motorcyclist riding along the road."""
        bike = _two_wheeler(rng, motor, length)
        ride = _animate(_person_frames(rng, self.phases, not oncoming, True, RIDER), x, 2.0, rng.uniform(0, 1))
        along = _along(bike, x, reverse=oncoming)
        body = None
        if motor:
            body = _Mesh()
            body.box(-0.25, 0.25, 0.35, 0.85, -0.6, 0.6, _jitter(rng, (40, 40, 45), 20), MOTORCYCLE)
            body.finish(oncoming)

        def paint(cv, d, t):
            along(cv, d, t)
            if body is not None:
                cv.mesh(body, (x, 0, d))
            ride(cv, d + (0.1 if oncoming else -0.1), t)
        return paint

    def _vehicle(self, rng, kind: str, length: float, x: float, flip: bool):
        if kind == "car":
            mesh = _car(rng, length)
        elif kind == "truck":
            mesh = _truck(rng, length)
        else:
            mesh = _bus(rng, BUS if kind == "bus" else TRAIN, length)
        return self._mesh_paint(mesh, x, flip, True)

    def _traffic(self, park: dict):
        """Parked cars, lane traffic (cars, trucks, buses, motorcycles, trams) and cyclists."""
        rng, L, v, z_lo = self.rng, self.length, self.speed, self.z_lo
        for s in (-1, 1):    # parked cars
            if not park[s]:
                continue
            x = self.edge[s] - s * 1.1
            flip = s < 0 and any(d < 0 for _, d in self.lanes)
            z = z_lo + rng.uniform(0, 5)
            while z < L:
                kind = "car" if rng.random() < 0.92 else "truck"
                length = rng.uniform(*VEHICLE_LENGTH[kind])
                if rng.random() < 0.8 and not self._in_crossing(z, z + length, 7.0):
                    self._add(x, z + length / 2, length / 2, 1.3, 2,
                              lambda g_, k=kind, n=length, x=x, f=flip: self._vehicle(g_, k, n, x, f))
                z += length + rng.uniform(0.6, 6.0)
        gap_mean = rng.uniform(8, 45)
        for x, direction in self.lanes:
            tram = self.tram_x is not None and abs(x - self.tram_x) < 0.1
            ego = abs(x) < 0.1
            w = 0.0 if direction > 0 else -2 * v
            surge = self._surge(rng.uniform(0, 6) if direction > 0 else 0.0)
            z = rng.uniform(8, 30) + 2 * surge[0] if ego else z_lo + rng.uniform(-10, 10)
            end = FAR + 40 if ego else L + z_lo - 8
            want_tram = tram and rng.random() < 0.8
            oncoming = direction < 0
            while z < end:
                if want_tram and z > 10:
                    kind, want_tram = "train", False
                else:
                    kind = str(rng.choice(("car", "truck", "bus", "motorcycle", "train"),
                                          p=(0.72, 0.1, 0.08, 0.05, 0.05) if tram else (0.76, 0.1, 0.08, 0.06, 0)))
                if kind == "motorcycle":
                    length = _two_wheeler_length(rng, True)
                    build = lambda g_, n=length, x=x, o=oncoming: self._rider(g_, x, True, o, n)
                else:
                    length = rng.uniform(*VEHICLE_LENGTH[kind])
                    build = lambda g_, k=kind, n=length, x=x, o=oncoming: self._vehicle(g_, k, n, x, o)
                self._add(x, z + length / 2, length / 2, 1.3, 2, build, motion=self._rigid(z + length / 2, w, surge))
                z += length + rng.exponential(gap_mean) + 4.0
        density = 0.0 if rng.random() < 0.1 else rng.uniform(0.01, 0.05)
        for s in (-1, 1):     # cyclists along the kerb, or between parked cars and traffic
            if not density:
                continue
            oncoming = s < 0 and any(d < 0 for _, d in self.lanes)
            x = self.edge[s] - s * (0.8 + 2.2 * park[s])
            if abs(x - self.cam.C[0]) < 1.8:   # no riding through the ego car
                continue
            for z in self._every(1 / density, 0.8):
                speed = rng.uniform(3.0, 6.5)
                motion = (self._walker(z, -speed if oncoming else speed)
                          or self._rigid(z, -2 * v if oncoming else 0.0, self._surge(0.0)))
                length = _two_wheeler_length(rng, False)
                self._add(x, z, length / 2, 0.5, 2,
                          lambda g_, n=length, x=x, o=oncoming: self._rider(g_, x, False, o, n), motion=motion)

    # -- look -----------------------------------------------------------------------------

    def _background(self):
        """Sky, distant skyline and distant ground; fixed for the world's camera."""
        rng, cam = self.rng, self.cam
        h, w = cam.height, cam.width
        dx, dy, dz = cam.rays()
        up = dy / np.sqrt(dx * dx + dy * dy + dz * dz)
        if self.overcast:
            zenith = _jitter(rng, (165, 170, 178), 20)
            horizon = np.minimum(zenith + rng.uniform(10, 40), 255)
        else:
            zenith = _jitter(rng, (70, 125, 205), 25)
            horizon = _jitter(rng, (190, 210, 230), 20)
            if rng.random() < 0.15:
                horizon = _jitter(rng, (230, 190, 150), 20)
        tt = np.clip(up / 0.6, 0, 1) ** 0.7
        cover = rng.uniform(0.0, 0.9)
        clouds = _lowfreq(rng, h, w, w / 10) + 0.5 * _lowfreq(rng, h, w, w / 30)
        alpha = np.clip((clouds - (1.2 - 2 * cover)) * 0.8, 0, 0.9)
        cloud_colour = _jitter(rng, (235, 235, 238), 10) * (0.8 if self.overcast else 1.0)
        self.bg_rgb = cv2.merge([cv2.convertScaleAbs((hc + (zc - hc) * tt) * (1 - alpha) + cc * alpha)
                                 for hc, zc, cc in zip(horizon, zenith, cloud_colour)])
        # distant ground: the street's cross-section, hazed towards the horizon colour
        below = up <= 0
        x_hit = cam.C[0] + cam.C[1] / np.maximum(-dy[below], 1e-9) * dx[below]
        bands = sorted(self.profile)
        edges = np.array([b[0] for b in bands[1:]])
        band_colour = np.array([self.ground.colours[_MAT_ID[m]] for *_, m in bands]) * 0.7 + horizon * 0.3
        band_label = np.array([_MATERIALS[m][0] for *_, m in bands], np.uint8)
        k = np.searchsorted(edges, x_hit)
        self.bg_rgb[below] = band_colour.astype(np.uint8)[k]
        self.bg_lab = np.full((h, w), SKY, np.uint8)
        self.bg_lab[below] = band_label[k]
        cv = _Canvas(cam, self.bg_rgb, self.bg_lab)
        zb = 260.0
        x = -zb * 1.6
        while x < zb * 1.6:
            wdt = rng.uniform(10, 40)
            if rng.random() < 0.65 and abs(x + wdt / 2) > 6:
                hb = rng.uniform(8, 45)
                col = 0.4 * _pick(rng, WALL_COLOURS, 20) + 0.5 * horizon
                cv.poly([(x, 0, zb), (x + wdt, 0, zb), (x + wdt, hb, zb), (x, hb, zb)], col, BUILDING)
            elif rng.random() < 0.6:
                n = 12
                xs = np.linspace(x, x + wdt, n)
                ys = rng.uniform(6, 14) + rng.uniform(-2.5, 2.5, n)
                pts = [(x, 0, zb)] + [(a, b, zb) for a, b in zip(xs, ys)] + [(x + wdt, 0, zb)]
                cv.poly(pts, 0.5 * _jitter(rng, (70, 100, 50), 15) + 0.5 * horizon, VEGETATION)
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
            n = sigma * _grain(rng, h, 3 * w).reshape(h, w, 3)
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

    def _draw_ground(self, cv: _Canvas, z_ego: float):
        """Warp the ground map ahead of the camera onto the ground plane."""
        c0 = int((z_ego + NEAR + 0.2 - self._ground_z0) * _GROUND_PPM)
        c1 = min(c0 + int((FAR + 30) * _GROUND_PPM), self._ground_lab.shape[1])
        g = self.ground
        spr = _Sprite(self._ground_rgb[:, c0:c1], self._ground_lab[:, c0:c1], _GROUND_PPM)
        zr = self._ground_z0 + c0 / _GROUND_PPM - z_ego
        cv.sprite(spr, (g.x0, 0, zr), (0, 0, (c1 - c0) / _GROUND_PPM), (g.rows / _GROUND_PPM, 0, 0), opaque=True)

    def render(self, t: float, index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rgb, lab = self.bg_rgb.copy(), self.bg_lab.copy()
        cv = _Canvas(self.cam, rgb, lab)
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


# ----------------------------------------------------------------------------- public API

def _check_size(width: int, height: int):
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise ValueError(f"image size {width}x{height} must be within 16..8192 per side")


def render_scene(seed: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """One random street scene: (rgb uint8 HxWx3, train-id labels uint8 HxW), a pure function of
    the seed and size."""
    _check_size(width, height)
    rng = np.random.default_rng(seed)
    world = _World(rng, width, height, FAR + 20.0, None)
    return world.render(0.0)


class DrivingSequence:
    """A looped drive down a generated street: `len(seq)` frames at SEQUENCE_FPS, after which
    it repeats.  `frame(i)` is a pure function of the seed, size and i (i modulo the length)."""

    def __init__(self, seed: int, width: int, height: int):
        _check_size(width, height)
        rng = np.random.default_rng([seed, 7])
        period = SEQUENCE_FRAMES / SEQUENCE_FPS
        length = max(rng.uniform(8.0, 12.0) * period, 2 * FAR + 40)   # the loop, driven at 8..12 m/s
        self._world = _World(rng, width, height, length, period)
        self._world.prepare()

    def __len__(self) -> int:
        return SEQUENCE_FRAMES

    def frame(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(rgb, labels) of frame `index` (taken modulo the length)."""
        i = index % SEQUENCE_FRAMES
        return self._world.render(i / SEQUENCE_FPS, i)


def label_statistics(split: str, count: int, width: int, height: int) -> str:
    """Per class over the first `count` scenes of a split: share of the pixels, share of the
    scenes showing it, objects (8-connected regions of at least 4 pixels) per scene and their
    median width, height and area and 90th-percentile height in pixels."""
    pixels, scenes = np.zeros(NUM_CLASSES), np.zeros(NUM_CLASSES)
    objects = [[] for _ in range(NUM_CLASSES)]
    for i in range(count):
        labels = render_scene(split_seed(split, i), width, height)[1]
        counts = np.bincount(labels.ravel(), minlength=NUM_CLASSES)[:NUM_CLASSES]
        pixels += counts
        scenes += counts > 0
        for k in np.flatnonzero(counts):
            n, _, stats, _ = cv2.connectedComponentsWithStats((labels == k).astype(np.uint8), connectivity=8)
            objects[k] += [tuple(st) for st in stats[1:, 2:5] if st[2] >= 4]
    lines = [f"{count} {split} scenes at {width}x{height}, generator version {GENERATOR_VERSION}",
             f"{'class':<14} {'pixels %':>8} {'scenes %':>8} {'objects':>7} {'med w':>5} {'med h':>5} "
             f"{'med px':>6} {'p90 h':>5}"]
    for k, name in enumerate(CITYSCAPES_CLASSES):
        o = np.array(objects[k], np.float64).reshape(-1, 3)
        w, h, a = np.median(o, 0) if len(o) else (0, 0, 0)
        p90 = np.percentile(o[:, 1], 90) if len(o) else 0
        lines.append(f"{name:<14} {100 * pixels[k] / pixels.sum():8.3f} {100 * scenes[k] / count:8.0f} "
                     f"{len(o) / count:7.2f} {w:5.0f} {h:5.0f} {a:6.0f} {p90:5.0f}")
    return "\n".join(lines)


def _preview(rgb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.concatenate([rgb, colorize(labels)], 1), cv2.COLOR_RGB2BGR)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write previews (image | colour mask) of generated scenes.")
    parser.add_argument("--out", help="output folder (previews)")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--split", default="val", choices=sorted(SPLIT_SEED_BASE))
    parser.add_argument("--sequence", type=int, default=None, metavar="SEED",
                        help="preview frames of the driving sequence with this seed instead")
    parser.add_argument("--bench", action="store_true", help="time the scene and one sequence on one core")
    parser.add_argument("--stats", action="store_true",
                        help="print per-class label statistics of --count scenes instead of previews")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    _check_size(args.width, args.height)
    if args.stats:
        print(label_statistics(args.split, args.count, args.width, args.height))
        return
    if not args.out:
        parser.error("--out is needed for previews")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.sequence is not None:
        seq = DrivingSequence(args.sequence, args.width, args.height)
        for k in range(args.count):
            i = k * len(seq) // args.count
            cv2.imwrite(str(out / f"seq{args.sequence}_{i:04d}.png"), _preview(*seq.frame(i)))
    else:
        for i in range(args.count):
            rgb, labels = render_scene(split_seed(args.split, i), args.width, args.height)
            cv2.imwrite(str(out / f"{args.split}_{i:04d}.png"), _preview(rgb, labels))
    print(f"wrote {args.count} previews to {out}")
    if args.bench:
        cv2.setNumThreads(1)
        scene_ms = _timed(lambda i: render_scene(split_seed(args.split, i), args.width, args.height), args.count)
        print(f"render_scene {args.width}x{args.height}: {scene_ms[0]:.1f} ms wall, {scene_ms[1]:.1f} ms cpu per scene")
        seq = DrivingSequence(0, args.width, args.height)
        wall, cpu = _timed(seq.frame, 300)
        print(f"sequence {args.width}x{args.height}: {wall:.2f} ms wall ({1e3 / wall:.0f} fps), "
              f"{cpu:.2f} ms cpu per frame on one core")


def _timed(fn, n: int) -> tuple[float, float]:
    """Mean wall and cpu milliseconds of fn(0) .. fn(n - 1)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - wall) / n * 1e3, (time.process_time() - cpu) / n * 1e3


if __name__ == "__main__":
    main()
