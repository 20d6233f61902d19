"""The pinhole camera and the canvas everything is painted on, far to near; each pixel keeps the
train id of what painted it last."""
from __future__ import annotations

import math

import cv2
import numpy as np

from seg_core.data.scene.texture import cv_colour
from seg_core.data.scene.sprites import Sprite
from seg_core.data.scene.meshes import Mesh

NEAR = 0.3          # near clipping plane (m)
FAR = 120.0         # street objects further than this are not drawn (m)
BACK = 6.0          # how far behind the camera the world is kept (m)
DETAIL_PX = 12.0    # meshes drawn smaller than this (pixels tall) leave out their details


class Camera:
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


class Canvas:
    """An rgb image and its labels, painted through a camera."""

    def __init__(self, cam: Camera, rgb: np.ndarray, lab: np.ndarray):
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
        self._fill((np.asarray(pts, np.float64) - self.C) @ self.RT, cv_colour(colour), int(label))

    def mesh(self, m: Mesh, pos):
        pos = np.asarray(pos, np.float64)
        pc = (m.verts + (pos - self.C)) @ self.RT
        depth = pc[:, 2]
        if depth.max() < NEAR:
            return
        uv = self._uv16(pc)
        facing = m.always | (m.normals @ (self.C - pos) > m.offsets)
        if self.cam.f * m.height < DETAIL_PX * depth.min():
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

    def sprite(self, spr: Sprite, origin, u, v, opaque: bool = False):
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
        _warp(spr, lo, hi, mat, size, self.rgb[y0:y1, x0:x1], self.lab[y0:y1, x0:x1], opaque)


def _warp(spr: Sprite, lo: int, hi: int, mat: np.ndarray, size: tuple[int, int], roi_rgb: np.ndarray,
          roi_lab: np.ndarray, opaque: bool) -> None:
    """Paint columns lo..hi of ``spr`` through the perspective ``mat`` into the regions of interest."""
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
