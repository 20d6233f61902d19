"""Sprites (an rgb + label image on a vertical plane) and the things drawn as sprites:
people, two-wheelers, trees, hedges, fences, walls and facades."""
from __future__ import annotations

import math

import cv2
import numpy as np

from seg_core.data.classes import BICYCLE, BUILDING, FENCE, IGNORE_ID, MOTORCYCLE, VEGETATION, WALL
from seg_core.data.scene.texture import cv_colour, foliage, grain_noise, jitter, lowfreq, pick, texture

CLEAR = IGNORE_ID  # sprite pixels that paint nothing


class Sprite:
    """A texture for a planar quad: rgb plus labels, CLEAR where it paints nothing.

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
            cover = np.where(self.lab == CLEAR, 0, 255).astype(np.uint8)
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
        self.rgb[:] = cv_colour(fill)
        self.lab = np.full((self.h, self.w), CLEAR, np.uint8)
        self.alpha = None   # where the rgb paints, once it differs from where the labels are

    def _pts16(self, pts) -> list[np.ndarray]:
        return [(np.asarray(pts, np.float64) * (16 * self.ppm, -16 * self.ppm)
                 + (8 * self.w - 8, 16 * self.h - 8)).astype(np.int32)]

    def outline(self, pts, label):
        """Label the polygon without painting it: the object's outline encloses it."""
        if self.alpha is None:
            self.alpha = np.where(self.lab == CLEAR, 0, 255).astype(np.uint8)
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
        cv2.fillPoly(self.rgb, p, cv_colour(colour), cv2.LINE_AA, 4)
        cv2.fillPoly(self.lab, p, int(label), cv2.LINE_8, 4)
        self._painted(lambda img, v: cv2.fillPoly(img, p, v, cv2.LINE_8, 4))

    def ellipse(self, cx, cy, rx, ry, colour, label):
        c, axes = self._px(cx, cy), (int(rx * self.ppm * 16), int(ry * self.ppm * 16))
        cv2.ellipse(self.rgb, c, axes, 0, 0, 360, cv_colour(colour), -1, cv2.LINE_AA, 4)
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
        cv2.circle(self.rgb, c, rr, cv_colour(colour), t, cv2.LINE_AA, 4)
        cv2.circle(self.lab, c, rr, int(label), t, cv2.LINE_8, 4)
        self._painted(lambda img, v: cv2.circle(img, c, rr, v, t, cv2.LINE_8, 4))

    def sprite(self, texture_amp: float = 0.0, rng=None) -> Sprite:
        if texture_amp:
            noise = texture_amp * grain_noise(rng, self.h, self.w)[..., None]
            self.rgb = np.clip(self.rgb + noise, 0, 255).astype(np.uint8)
        return Sprite(self.rgb, self.lab, self.ppm, self.alpha)


SKIN = ((245, 210, 180), (225, 185, 150), (195, 150, 115), (150, 105, 75), (105, 70, 50))
HAIR = ((25, 20, 18), (60, 40, 25), (110, 75, 40), (190, 160, 110), (150, 150, 150))
CLOTHES = ((30, 30, 35), (60, 60, 70), (200, 200, 205), (25, 40, 90), (120, 30, 35), (60, 90, 60),
           (150, 120, 80), (90, 60, 110), (200, 170, 40), (70, 110, 160), (170, 80, 40), (230, 230, 230))


def _seated_body(pen: _Pen, ph: float, height: float, dims, colours, label: int) -> tuple[float, float, float]:
    """Legs, torso and arms of a rider at phase ``ph``: hips on a saddle, feet on pedals, hands on a
    handlebar. Returns the hip, shoulder and head heights."""
    (sw, hw, lw, aw), (top, bottom, shoes, skin) = dims, colours
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
    return hip, sh, head


def _walking_body(pen: _Pen, ph: float, height: float, dims, colours, skirt: bool, long_coat: bool,
                  label: int) -> tuple[float, float, float]:
    """Legs, torso and arms of a walker at phase ``ph``; returns the hip, shoulder and head heights."""
    (sw, hw, lw, aw), (top, bottom, shoes, skin) = dims, colours
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
    return hip, sh, head


def person_frames(rng, phases: int, back_view: bool, riding: bool, label: int) -> list[Sprite]:
    """Walk (or pedal) cycle of a person seen from the front or back, feet at the sprite bottom;
    a single frame shows a random moment of the cycle."""
    height = rng.uniform(1.5, 1.95)
    skin, hair = pick(rng, SKIN, 10), pick(rng, HAIR, 10)
    top, bottom = pick(rng, CLOTHES, 25), pick(rng, CLOTHES, 25)
    shoes = jitter(rng, (35, 32, 30), 15)
    helmet = pick(rng, CLOTHES, 30) if riding and rng.random() < 0.6 else None
    skirt = not riding and rng.random() < 0.15
    long_coat = not riding and rng.random() < 0.2
    bag = rng.random() < 0.3
    bag_colour = pick(rng, CLOTHES, 20)
    sw = 0.115 * height * rng.uniform(0.9, 1.15)     # half shoulder width
    hw = 0.085 * height * rng.uniform(0.9, 1.1)      # half hip width
    lw, aw = 0.075 * height, 0.048 * height          # leg, arm width
    frames = []
    start = rng.uniform(0, 2 * np.pi) if phases == 1 else 0.0
    for k in range(phases):
        ph = start + 2 * np.pi * k / phases
        pen = _Pen(0.9, height + 0.08, 64, top)
        dims, colours = (sw, hw, lw, aw), (top, bottom, shoes, skin)
        if riding:
            hip, sh, head = _seated_body(pen, ph, height, dims, colours, label)
        else:
            hip, sh, head = _walking_body(pen, ph, height, dims, colours, skirt, long_coat, label)
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


def two_wheeler_length(rng, motor: bool) -> float:
    return rng.uniform(1.9, 2.2) if motor else rng.uniform(1.6, 1.8)


def two_wheeler(rng, motor: bool, length: float) -> Sprite:
    """Side view of a bicycle or motorcycle, front to the right."""
    label = MOTORCYCLE if motor else BICYCLE
    r = rng.uniform(0.28, 0.33) if motor else rng.uniform(0.31, 0.36)
    frame = pick(rng, CLOTHES, 30)
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


def tree_size(rng) -> tuple[float, float]:
    """Crown width and height (m) of a tree."""
    height = rng.uniform(4.5, 13.0)
    return float(np.clip(height * rng.uniform(0.4, 0.7), 2.5, 8.5)), height


def tree(rng, crown: float, height: float, ppm: float = 16.0) -> tuple[Sprite, float]:
    """The crown of a deciduous or conifer tree (a sprite) and the height of its bottom."""
    green = jitter(rng, (rng.uniform(50, 110), rng.uniform(90, 145), rng.uniform(30, 70)), 10)
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
    leafy = np.clip(0.9 + 0.25 * lowfreq(rng, pen.h, pen.w, 4.0) + 0.2 * grain_noise(rng, pen.h, pen.w), 0.3, 1.5)
    pen.rgb = np.clip(pen.rgb * leafy[..., None], 0, 255).astype(np.uint8)
    return pen.sprite(), bottom


BARK = ((92, 72, 52), (78, 64, 50), (110, 92, 70), (64, 50, 38), (96, 86, 72))


def trunk(rng, top: float, ppm: float = 40.0) -> Sprite:
    """A tree trunk up to height `top` (m): thick, tapering, flared at the roots, leaning a
    little, with bark furrows and round shading; nothing like a straight metal pole."""
    r = rng.uniform(0.1, 0.22)
    flare, lean = r * rng.uniform(1.4, 1.9), rng.uniform(-0.08, 0.08) * top
    half = flare + abs(lean) + r
    bark = pick(rng, BARK, 12)
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
    shade = (1.05 - 0.5 * np.clip(across, 0, 1) ** 2) * (1 + 0.22 * furrows) * (1 + 0.1 * grain_noise(rng, h, w))
    pen.rgb = np.clip(pen.rgb * shade[..., None], 0, 255).astype(np.uint8)
    return pen.sprite()


def hedge(rng, length: float, height: float) -> Sprite:
    ppm = 12.0
    w, h = max(2, int(length * ppm)), max(2, int(height * ppm))
    green = jitter(rng, (70, 115, 45), 20)
    rgb = foliage(rng, h, w, green)
    top = (0.85 + 0.1 * lowfreq(rng, 1, w, 8)[0]) * h
    lab = np.where(np.arange(h)[:, None] >= (h - top)[None, :], VEGETATION, CLEAR).astype(np.uint8)
    return Sprite(rgb, lab, ppm)


def fence(rng, length: float, height: float) -> Sprite:
    ppm = 20.0
    w, h = max(2, int(length * ppm)), max(2, int(height * ppm))
    colour = pick(rng, ((60, 60, 60), (150, 150, 150), (40, 70, 50), (120, 85, 55), (200, 200, 195)), 15)
    rgb = texture(rng, h, w, colour, 6, 0.1)
    lab = np.full((h, w), FENCE, np.uint8)   # the whole fence, gaps included (no holes)
    if rng.random() < 0.3:        # solid boards or construction panels
        rgb[:, :: max(2, int(rng.uniform(0.1, 0.25) * ppm))] = cv_colour(np.asarray(colour) * 0.7)
        return Sprite(rgb, lab, ppm)
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
    return Sprite(rgb, lab, ppm, alpha)


def wall(rng, length: float, height: float) -> Sprite:
    ppm = 16.0
    w, h = max(2, int(length * ppm)), max(2, int(height * ppm))
    colour = pick(rng, ((150, 145, 135), (120, 115, 110), (175, 160, 140), (140, 80, 60), (95, 95, 100)), 15)
    rgb = texture(rng, h, w, colour, 8, 0.15, 20)
    cap = max(1, int(0.12 * ppm))
    rgb[:cap] = cv_colour(np.asarray(colour) * 1.15)
    if rng.random() < 0.5:        # block joints
        rgb[cap::max(3, int(0.4 * ppm))] = cv_colour(np.asarray(colour) * 0.75)
    return Sprite(rgb, np.full((h, w), WALL, np.uint8), ppm)


WALL_COLOURS = ((200, 185, 160), (225, 220, 210), (150, 145, 140), (155, 85, 65), (210, 185, 120),
                (175, 190, 200), (105, 100, 95), (190, 160, 140), (120, 130, 120), (235, 225, 195))


def facade(rng, width: float, height: float, light: float) -> tuple[Sprite, np.ndarray]:
    """Textured building front with floors of windows and a shop floor; returns it and its wall colour."""
    ppm = 14.0
    w, h = max(2, int(width * ppm)), max(2, int(height * ppm))
    wall = pick(rng, WALL_COLOURS, 18) * light
    rgb = texture(rng, h, w, wall, 5, 0.07, 40)
    if rng.random() < 0.25:       # brick courses / panel seams
        rgb[:: max(2, int(rng.uniform(0.25, 0.8) * ppm))] = cv_colour(wall * 0.85)
    glass = jitter(rng, (70, 85, 100), 25) * light
    frame = cv_colour(jitter(rng, (230, 230, 225), 20) * light if rng.random() < 0.6 else wall * 0.7)
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
            cv2.rectangle(rgb, (x0 + 1, y0 + 1), (x1 - 2, y1 - 2), cv_colour(tint), -1)
            cv2.line(rgb, ((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1), frame, 1)
        floor += 1
        y -= storey
    shop = rng.random() < 0.6
    y0 = int((height - ground + 0.4) * ppm)
    if shop:
        cv2.rectangle(rgb, (int(0.4 * ppm), y0), (w - int(0.4 * ppm), h - int(0.3 * ppm)), cv_colour(glass * 0.8), -1)
        for x in np.arange(0.4, width, rng.uniform(2.0, 4.0)):
            cv2.rectangle(rgb, (int(x * ppm), y0), (int(x * ppm) + 3, h), cv_colour(wall * 0.6), -1)
        cv2.rectangle(rgb, (0, y0 - int(0.6 * ppm)), (w, y0), cv_colour(pick(rng, CLOTHES, 30)), -1)
    door = rng.uniform(0.2, max(0.3, width - 1.4))
    cv2.rectangle(rgb, (int(door * ppm), h - int(2.4 * ppm)), (int((door + 1.2) * ppm), h), cv_colour(wall * 0.45), -1)
    cv2.rectangle(rgb, (0, 0), (w, int(0.5 * ppm)), cv_colour(wall * 0.8), -1)        # cornice
    shade = np.linspace(1.0, 0.85, h, dtype=np.float32)[:, None, None]
    rgb = (rgb * shade).astype(np.uint8)
    return Sprite(rgb, np.full((h, w), BUILDING, np.uint8), ppm), wall
