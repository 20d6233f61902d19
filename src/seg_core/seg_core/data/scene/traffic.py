"""What moves: pedestrians, riders and vehicles, parked or driving."""
from __future__ import annotations

import math

import numpy as np

from seg_core.data.classes import BUS, MOTORCYCLE, PERSON, RIDER, TRAIN
from seg_core.data.scene.texture import jitter
from seg_core.data.scene.sprites import person_frames, two_wheeler, two_wheeler_length
from seg_core.data.scene.meshes import Mesh, VEHICLE_LENGTH, bus, car, truck
from seg_core.data.scene.canvas import BACK, FAR
from seg_core.data.scene.things import along_street, animate


class Traffic:
    """Adds the people and vehicles on and beside the street, parked, standing or moving."""

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
            self._add(x, z, 0.3, 0.5, 2, lambda g_, p=phases, sp=speed, x=x: animate(
                person_frames(g_, p, sp >= 0, False, PERSON), x, abs(sp) * 1.2, g_.uniform(0, 1)), motion=motion)

    def _rider(self, rng, x: float, motor: bool, oncoming: bool, length: float):
        """Painter of a cyclist or motorcyclist riding along the road."""
        bike = two_wheeler(rng, motor, length)
        ride = animate(person_frames(rng, self.phases, not oncoming, True, RIDER), x, 2.0, rng.uniform(0, 1))
        along = along_street(bike, x, reverse=oncoming)
        body = None
        if motor:
            body = Mesh()
            body.box(-0.25, 0.25, 0.35, 0.85, -0.6, 0.6, jitter(rng, (40, 40, 45), 20), MOTORCYCLE)
            body.finish(oncoming)

        def paint(cv, d, t):
            along(cv, d, t)
            if body is not None:
                cv.mesh(body, (x, 0, d))
            ride(cv, d + (0.1 if oncoming else -0.1), t)
        return paint

    def _vehicle(self, rng, kind: str, length: float, x: float, flip: bool):
        if kind == "car":
            mesh = car(rng, length)
        elif kind == "truck":
            mesh = truck(rng, length)
        else:
            mesh = bus(rng, BUS if kind == "bus" else TRAIN, length)
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
                    length = two_wheeler_length(rng, True)
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
                length = two_wheeler_length(rng, False)
                self._add(x, z, length / 2, 0.5, 2,
                          lambda g_, n=length, x=x, o=oncoming: self._rider(g_, x, False, o, n), motion=motion)
