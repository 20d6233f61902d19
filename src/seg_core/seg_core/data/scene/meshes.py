"""Small polygon meshes and the things drawn as meshes: vehicles, poles, street lamps, signs and
traffic lights."""
from __future__ import annotations

import math

import numpy as np

from seg_core.data.classes import CAR, POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN, TRAIN, TRUCK
from seg_core.data.scene.texture import cv_colour, jitter, pick
from seg_core.data.scene.sprites import CLOTHES


def _lit(colour, normal) -> tuple[int, int, int]:
    k = 0.8 + 0.2 * normal[1] - 0.04 * abs(normal[2])
    return cv_colour([c * k for c in colour])


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


class Mesh:
    """Flat polygons in object coordinates (x right, y up, z forward), drawn in the order added
    once `finish` has frozen them.

    A face with a normal is drawn only when it faces the camera."""

    def __init__(self):
        self._polys, self.colours, self.labels, self._normals, self._detail = [], [], [], [], []

    def face(self, pts, colour, label, normal=(0.0, 0.0, 0.0), detail: bool = False):
        self._polys.append(np.asarray(pts, np.float64))
        self.colours.append(colour if type(colour) is tuple else cv_colour(colour))
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

    def finish(self, turned: bool = False, shadow=None) -> "Mesh":
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
            self.colours.insert(0, cv_colour(colour))
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


def _tyres(m: Mesh, half_w: float, zs, r: float, label: int):
    """Tyres on axles `zs` (one dark box per axle): the body hides them except below it."""
    for z in zs:
        m.box(-half_w - 0.01, half_w + 0.01, 0, 2 * r * 0.9, z - r * 0.85, z + r * 0.85, (22, 22, 24), label)


def _wheel_sides(m: Mesh, half_w: float, zs, r: float, label: int):
    """Tyre sidewalls and rims, seen from the side."""
    for z in zs:
        for sx in (-1, 1):
            c = (sx * (half_w + 0.02), r, z)
            m.decal(_disc(c, r, 0), (20, 20, 22), label, (sx, 0, 0))
            m.decal(_disc((c[0] + sx * 0.005, r, z), r * 0.55, 0), (150, 150, 155), label, (sx, 0, 0))


def _lights(m: Mesh, half_w: float, y0: float, y1: float, z: float, rear: bool, label: int):
    colour = (200, 20, 20) if rear else (235, 235, 220)
    normal = (0, 0, -1) if rear else (0, 0, 1)
    for sx in (-1, 1):
        xs = sorted((sx * (half_w - 0.05), sx * (half_w - 0.35)))
        m.decal([(xs[0], y0, z), (xs[1], y0, z), (xs[1], y1, z), (xs[0], y1, z)], colour, label, normal)
    m.decal([(-0.25, y0 - 0.25, z), (0.25, y0 - 0.25, z), (0.25, y0 - 0.12, z), (-0.25, y0 - 0.12, z)],
           (225, 225, 225), label, normal)


VEHICLE_LENGTH = {"car": (3.8, 4.9), "truck": (6.5, 10.5), "bus": (10.5, 13.0), "train": (22.0, 32.0)}


def car(rng, length: float) -> Mesh:
    m = Mesh()
    width = rng.uniform(1.65, 1.9)
    tall = rng.random() < 0.25
    hw = width / 2
    body0, body1 = 0.2, rng.uniform(0.75, 0.92) + 0.18 * tall
    roof = body1 + rng.uniform(0.48, 0.6)
    colour, glass = pick(rng, CAR_COLOURS, 15), pick(rng, GLASS, 10)
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


def truck(rng, length: float) -> Mesh:
    m = Mesh()
    width = rng.uniform(2.3, 2.55)
    hw = width / 2
    cab_len = rng.uniform(1.8, 2.3)
    cab_h, box_h = rng.uniform(2.5, 3.0), rng.uniform(3.0, 3.8)
    cab_c, box_c = pick(rng, CAR_COLOURS, 20), pick(rng, ((235, 235, 235), (200, 200, 200), (90, 100, 110),
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
            m.decal(_quad_at(quad, 0.08, 0.92, 0.55, 0.9), _lit(pick(rng, GLASS, 5), n), TRUCK, n)
        elif abs(n[0]) > 0.5:
            m.decal(_quad_at(quad, 0.1, 0.9, 0.55, 0.88), _lit(pick(rng, GLASS, 5), n), TRUCK, n)
    for quad, n in box:
        if n[2] < -0.5:   # rear doors
            m.decal(_quad_at(quad, 0.49, 0.51, 0.02, 0.98), _lit(box_c * 0.6, n), TRUCK, n)
    _lights(m, hw, 1.05, 1.25, -length / 2 - 0.01, True, TRUCK)
    _lights(m, hw, 0.7, 0.9, z_front + 0.01, False, TRUCK)
    return m


def bus(rng, label: int, length: float) -> Mesh:
    """A bus, or (label TRAIN) an articulated tram."""
    m = Mesh()
    tram = label == TRAIN
    width = rng.uniform(2.4, 2.6)
    hw = width / 2
    height = rng.uniform(3.2, 3.5) if tram else rng.uniform(2.9, 3.3)
    colours = ((200, 30, 30), (240, 200, 40), (235, 235, 235), (40, 120, 70), (30, 80, 160), (230, 120, 30))
    colour, glass = pick(rng, colours, 20), pick(rng, GLASS, 8)
    bottom = 0.35 if tram else 0.3
    m.box(-hw + 0.1, hw - 0.1, 0.1, bottom + 0.1, -length / 2 + 0.5, length / 2 - 0.5, (25, 25, 25), label)
    axles = (-length / 2 + 3.0, length / 2 - 3.0) if not tram else (-length / 2 + 2, 0.0, length / 2 - 2)
    _tyres(m, hw - 0.05, axles, 0.48, label)
    _wheel_sides(m, hw - 0.05, axles, 0.48, label)
    faces = m.box(-hw, hw, bottom, height, -length / 2, length / 2, colour, label)
    stripe = pick(rng, CLOTHES, 30)
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


def _pole_box(m: Mesh, x: float, z: float, r: float, y0: float, y1: float, colour, label=POLE):
    m.box(x - r, x + r, y0, y1, z - r, z + r, colour, label)


def street_lamp(rng, side: int) -> Mesh:
    """Lamp post on the curb; `side` is -1 on the left of the road (arm reaches right)."""
    m = Mesh()
    h = rng.uniform(6.0, 9.0)
    grey = jitter(rng, (110, 112, 115), 30)
    _pole_box(m, 0, 0, 0.09, 0, h, grey)
    reach = -side * rng.uniform(0.8, 2.5)
    m.box(min(0, reach), max(0, reach), h - 0.12, h, -0.06, 0.06, grey, POLE)
    m.box(reach - 0.3, reach + 0.3, h - 0.3, h - 0.1, -0.18, 0.18, grey * 0.8, POLE)
    return m


SIGN_STYLES = (((200, 30, 30), (240, 240, 240), "disc"), ((30, 70, 170), (30, 70, 170), "disc"),
               ((200, 30, 30), (240, 240, 240), "triangle"), ((30, 70, 170), (240, 240, 240), "rect"),
               ((240, 190, 20), (240, 240, 240), "diamond"), ((200, 25, 25), (200, 25, 25), "octagon"),
               ((20, 110, 60), (240, 240, 240), "rect"))


def _sign_plate(m: Mesh, rng, y: float, size: float):
    ring, inner, shape = SIGN_STYLES[rng.integers(len(SIGN_STYLES))]
    ring, inner = jitter(rng, ring, 15), jitter(rng, inner, 15)
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


def sign(rng) -> Mesh:
    m = Mesh()
    h = rng.uniform(2.2, 3.0)
    _pole_box(m, 0, 0, 0.035, 0, h + 0.4, jitter(rng, (150, 150, 150), 20))
    size = rng.uniform(0.55, 0.85)
    _sign_plate(m, rng, h, size)
    if rng.random() < 0.3:
        _sign_plate(m, rng, h - size * 1.2, size * 0.9)
    return m


def traffic_light(rng, side: int, overhead: bool) -> Mesh:
    """Signal pole on the curb; an overhead one hangs its head over the road (side: -1 left)."""
    m = Mesh()
    grey = jitter(rng, (90, 92, 95), 25)
    h = rng.uniform(5.5, 6.5) if overhead else rng.uniform(2.4, 3.2)
    _pole_box(m, 0, 0, 0.08, 0, h + (0 if overhead else 1.0), grey)
    x = 0.0
    if overhead:
        x = -side * rng.uniform(2.5, 4.5)
        m.box(min(0, x), max(0, x), h - 0.1, h + 0.05, -0.05, 0.05, grey, POLE)
        m.box(x - 0.03, x + 0.03, h - 0.5, h - 0.1, 0.14, 0.2, grey, POLE)
        h -= 1.0
    body = jitter(rng, (35, 35, 35), 10) if rng.random() < 0.7 else jitter(rng, (200, 170, 30), 20)
    m.box(x - 0.17, x + 0.17, h - 0.5, h + 0.5, 0.05, 0.3, body, TRAFFIC_LIGHT)
    lit = rng.integers(3)
    for i, colour in enumerate(((230, 30, 20), (240, 170, 20), (30, 210, 90))):
        c = colour if i == lit else np.asarray(colour) * 0.25
        m.face(_disc((x, h + 0.3 - 0.3 * i, 0.04), 0.11, 2), c, TRAFFIC_LIGHT, (0, 0, -1))
    return m
