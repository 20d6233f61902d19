"""The street's layout: lanes, markings, curbs, building lines, gaps between buildings and
street furniture."""
from __future__ import annotations

import numpy as np

from seg_core.data.classes import BUILDING, SIDEWALK
from seg_core.data.scene.texture import cv_colour, jitter
from seg_core.data.scene.sprites import facade, fence, hedge, tree_size, two_wheeler, two_wheeler_length, wall
from seg_core.data.scene.meshes import Mesh, sign, street_lamp, traffic_light
from seg_core.data.scene.canvas import BACK
from seg_core.data.scene.ground import GROUND_PPM, GroundMap, MAT_ID
from seg_core.data.scene.things import along_street, billboard, tree_paint


class StreetLayout:
    """Lays the street out: `_layout()` fills the ground map and adds the things along it."""

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
        self.ground = g = GroundMap(x_min, x_max, self.z_lo, L, L if self.period else None)
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
        sc, sr = (max(2, int(rng.uniform(0.3, 0.8) * GROUND_PPM)) for _ in range(2))
        joints = (np.arange(g.cols) % sc == 0)[None, :] | (np.arange(g.rows) % sr == 0)[:, None]
        g.mat[(g.mat == MAT_ID["walk"]) & joints] = MAT_ID["joint"]

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
        colour = cv_colour(jitter(self.rng, (150, 148, 140), 20) * self.light)
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
            spr, wall = facade(rng, z1 - z0, height, light)
            side_colour = cv_colour(wall * 0.7)

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
            crown, height = tree_size(rng)
            r = crown / 2
            if 2 * r < z1 - z0:
                zt = rng.uniform(z0 + r, z1 - r)
                xt = face + s * rng.uniform(r + 0.5, r + 8)
                self._add(xt, zt, r, r, 1, lambda g_, c=crown, h=height, x=xt: tree_paint(g_, c, h, x), 0.0)
        edge, height = rng.random(), rng.uniform(0.8, 2.3)
        x = face - s * 0.2
        if edge < 0.3:
            build = lambda g_, n=z1 - z0, h=height, x=x: along_street(wall(g_, n, h), x, opaque=True)
        elif edge < 0.65:
            build = lambda g_, n=z1 - z0, h=height, x=x: along_street(fence(g_, n, h), x)
        elif edge < 0.9:
            build = lambda g_, n=z1 - z0, h=height, x=x: along_street(hedge(g_, n, h), x)
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
                self._add(x, z, 0.3, 3.0, 2, lambda g_, x=x: self._mesh_paint(street_lamp(g_, s), x))
        if side["strip"] or rng.random() < 0.45:
            xt = edge + s * (0.25 + side["strip"] / 2 if side["strip"] else 1.0)
            for z in self._every(rng.uniform(6, 16)):
                if self._in_crossing(z, z, 3.0) or rng.random() < 0.2:
                    continue
                crown, height = tree_size(rng)
                self._add(xt, z, 0.3, crown / 2, 2, lambda g_, c=crown, h=height, x=xt: tree_paint(g_, c, h, x))
                if not self.overcast:
                    g.blob(xt - self.sun_side * height * self.shadow_len * 0.4, z, crown / 2, crown / 2, None, 0.6)
        elif rng.random() < 0.5:
            xb = side["face"] - s * 0.6
            for z in self._every(rng.uniform(10, 30)):
                if not self._in_crossing(z, z, 2.0):
                    length, height = rng.uniform(1.0, 3.0), rng.uniform(0.6, 1.3)
                    self._add(xb, z, length / 2, 0.5, 2,
                              lambda g_, n=length, h=height, x=xb: along_street(hedge(g_, n, h), x))
        xs = edge + s * 0.4
        two_way = any(d < 0 for _, d in self.lanes)
        for z in self._every(rng.uniform(10, 30)):
            if not self._in_crossing(z, z, 1.0):
                turned = s < 0 and two_way and rng.random() < 0.5     # facing the oncoming traffic
                self._add(xs, z, 0.3, 0.5, 2, lambda g_, x=xs, f=turned: self._mesh_paint(sign(g_), x, f))
        xl = edge + s * 0.5
        for c0, c1 in self.crossings:
            for z, flip in ((c0 - rng.uniform(0.5, 2.5), False), (c1 + rng.uniform(0.5, 2.5), True)):
                overhead = s == (-1 if flip else 1) and rng.random() < 0.6
                self._add(xl, z, 0.3, 4.0, 2, lambda g_, f=flip, o=overhead, x=xl: self._mesh_paint(
                    traffic_light(g_, -s if f else s, o), x, f))
        walk_x = (edge + s * (0.25 + side["strip"]), edge + s * (0.25 + side["strip"] + side["walk"]))
        for z in self._every(rng.uniform(8, 30)):            # parked two-wheelers
            if self._in_crossing(z, z, 2.0):
                continue
            x = side["face"] - s * 0.8 if rng.random() < 0.6 else walk_x[0] + s * 0.6
            for i in range(int(rng.integers(1, 4))):
                motor = rng.random() < 0.3
                length = two_wheeler_length(rng, motor)
                if rng.random() < 0.5:
                    self._add(x, z + i * 0.8, length / 2, 0.2, 2,
                              lambda g_, m=motor, n=length, x=x: along_street(two_wheeler(g_, m, n), x))
                else:
                    xb = x - s * length / 2
                    self._add(xb, z + i * 0.7, 0.2, length / 2, 2,
                              lambda g_, m=motor, n=length, x=xb: billboard(two_wheeler(g_, m, n), x))
        self._pedestrians(walk_x)

    def _mesh_paint(self, mesh: Mesh, x: float, turned: bool = False, shadow: bool = False):
        """Painter of a mesh standing at lateral position x, optionally casting a shadow."""
        if shadow:
            dark = self.ground.colours[MAT_ID["asphalt"]] * (0.55 if self.overcast else 0.4)
            shadow = (dark, -self.sun_side * 0.4 * self.shadow_len * (not self.overcast))
        mesh.finish(turned, shadow or None)

        def paint(cv, d, t):
            cv.mesh(mesh, (x, 0, d))
        return paint
