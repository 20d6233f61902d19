"""Images to network inputs, and label-preserving augmentations.

Transforms are callables on numpy pairs, `transform(rgb, labels, rng=None) -> (rgb, labels)`,
rgb uint8 HxWx3 and labels uint8 HxW train ids.  Without an explicit numpy Generator they draw
their randomness from torch's generator, which the DataLoader seeds per worker and epoch.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from seg_core.data.classes import IGNORE_ID

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_MEAN = np.array(IMAGENET_MEAN, np.float32) * 255.0
_INV_STD = 1.0 / (np.array(IMAGENET_STD, np.float32) * 255.0)


def normalize(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 rgb -> float32 normalised with the ImageNet mean and std (the segmentation
    models' input, channels last)."""
    return (rgb.astype(np.float32) - _MEAN) * _INV_STD


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 rgb -> 3xHxW float32 tensor normalised with the ImageNet mean and std."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 image, got {rgb.dtype} {rgb.shape}")
    return torch.from_numpy(np.ascontiguousarray(normalize(rgb).transpose(2, 0, 1)))


def labels_tensor(labels: np.ndarray) -> torch.Tensor:
    """HxW uint8 train ids -> HxW int64 tensor."""
    return torch.from_numpy(labels.astype(np.int64))


def to_unit_tensor(rgb: np.ndarray) -> torch.Tensor:
    """H x W x 3 uint8 -> 3 x H x W float in [0, 1] (what the SR models take and give)."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W in [0, 1] -> the segmentation models' input (differentiable)."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def to_rgb8(x: torch.Tensor) -> np.ndarray:
    """3 x H x W float in [0, 1] (clipped) -> H x W x 3 uint8."""
    return x.clamp(0.0, 1.0).mul(255.0).round_().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def random_generator(rng: np.random.Generator | None) -> np.random.Generator:
    """The given generator, or a fresh one seeded from torch's generator."""
    if rng is not None:
        return rng
    return np.random.default_rng(int(torch.randint(0, 2 ** 62, ()).item()))


class Compose:
    """Apply transforms in turn, sharing one random generator per sample."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, rgb, labels, rng=None):
        rng = random_generator(rng)
        for t in self.transforms:
            rgb, labels = t(rgb, labels, rng)
        return rgb, labels


class Resize:
    """Resize to a fixed size (area/linear for the image, nearest for the labels)."""

    def __init__(self, width: int, height: int):
        if width < 1 or height < 1:
            raise ValueError(f"size must be positive, got {width}x{height}")
        self.size = (width, height)

    def __call__(self, rgb, labels, rng=None):
        if rgb.shape[1::-1] == self.size:
            return rgb, labels
        shrink = rgb.shape[1] > self.size[0]
        rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return rgb, cv2.resize(labels, self.size, interpolation=cv2.INTER_NEAREST_EXACT)


class RandomScaleCrop:
    """Scale by a random factor, then cut a random `width` x `height` window; where the scaled
    image is smaller the window is padded with black and ignored labels.

    With probability `focus_p` the window is placed over a random pixel of one of the
    `focus_classes` the image shows (each present class equally likely), so that small and
    rare classes are seen more often than their share of the pixels would have them."""

    def __init__(self, width: int, height: int, scale=(0.5, 2.0), ignore_index: int = IGNORE_ID,
                 focus_classes=(), focus_p: float = 0.0):
        if width < 1 or height < 1:
            raise ValueError(f"crop size must be positive, got {width}x{height}")
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale range must satisfy 0 < low <= high, got {scale}")
        if not 0.0 <= focus_p <= 1.0:
            raise ValueError(f"focus_p must be within [0, 1], got {focus_p}")
        self.width, self.height, self.scale, self.ignore_index = width, height, scale, ignore_index
        self.focus_classes, self.focus_p = np.asarray(focus_classes, np.uint8), focus_p

    def _origin(self, labels: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
        """Top-left corner of the window in the (scaled, padded) labels."""
        free_y, free_x = labels.shape[0] - self.height, labels.shape[1] - self.width
        if self.focus_p and len(self.focus_classes) and rng.random() < self.focus_p:
            present = self.focus_classes[np.bincount(labels.ravel(), minlength=256)[self.focus_classes] > 0]
            if len(present):
                ys, xs = np.nonzero(labels == rng.choice(present))
                k = int(rng.integers(len(ys)))
                y = int(rng.integers(max(0, ys[k] - self.height + 1), min(ys[k], free_y) + 1))
                x = int(rng.integers(max(0, xs[k] - self.width + 1), min(xs[k], free_x) + 1))
                return y, x
        return int(rng.integers(0, free_y + 1)), int(rng.integers(0, free_x + 1))

    def __call__(self, rgb, labels, rng=None):
        rng = random_generator(rng)
        s = rng.uniform(*self.scale)
        h, w = labels.shape
        sw, sh = max(1, round(w * s)), max(1, round(h * s))
        rgb = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        labels = cv2.resize(labels, (sw, sh), interpolation=cv2.INTER_NEAREST_EXACT)
        pad_h, pad_w = max(self.height - sh, 0), max(self.width - sw, 0)
        if pad_h or pad_w:
            rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)))
            labels = np.pad(labels, ((0, pad_h), (0, pad_w)), constant_values=self.ignore_index)
        y, x = self._origin(labels, rng)
        return (np.ascontiguousarray(rgb[y:y + self.height, x:x + self.width]),
                np.ascontiguousarray(labels[y:y + self.height, x:x + self.width]))


class HorizontalFlip:
    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be within [0, 1], got {p}")
        self.p = p

    def __call__(self, rgb, labels, rng=None):
        if random_generator(rng).random() < self.p:
            return np.ascontiguousarray(rgb[:, ::-1]), np.ascontiguousarray(labels[:, ::-1])
        return rgb, labels


class ColorJitter:
    """Random brightness, contrast, saturation (factors in 1 +- amount) and hue shift (fraction
    of the colour circle); the labels are untouched."""

    def __init__(self, brightness: float = 0.3, contrast: float = 0.3, saturation: float = 0.3,
                 hue: float = 0.03):
        for name, v, top in (("brightness", brightness, 1.0), ("contrast", contrast, 1.0),
                             ("saturation", saturation, 1.0), ("hue", hue, 0.5)):
            if not 0.0 <= v <= top:
                raise ValueError(f"{name} must be within [0, {top}], got {v}")
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue

    def __call__(self, rgb, labels, rng=None):
        rng = random_generator(rng)
        b, c, s = (1 + rng.uniform(-a, a) for a in (self.brightness, self.contrast, self.saturation))
        x = rgb.astype(np.float32)
        grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
        x = grey[..., None] + s * (x - grey[..., None])
        x = (x - grey.mean()) * c + grey.mean()
        x = np.clip(x * b, 0, 255).astype(np.uint8)
        if self.hue:
            hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV_FULL)
            hsv[..., 0] += np.uint8(round(rng.uniform(-self.hue, self.hue) * 256) % 256)
            x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)
        return x, labels


class GridAffine:
    """Piecewise-affine warp on a `grid` x `grid` lattice: every lattice point moves randomly by
    up to `magnitude` of a cell, and each cell's two triangles follow their corners.  The image
    is sampled bilinearly (its edge continued outward), the labels by nearest neighbour; pixels
    that come from outside the image get ignored labels."""

    def __init__(self, grid: int = 3, magnitude: float = 0.15, ignore_index: int = IGNORE_ID):
        if grid < 1:
            raise ValueError(f"grid must be at least 1, got {grid}")
        if not 0.0 <= magnitude < 0.5:
            raise ValueError(f"magnitude must be within [0, 0.5), got {magnitude}")
        self.grid, self.magnitude, self.ignore_index = grid, magnitude, ignore_index

    def maps(self, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Source x and y for every output pixel."""
        g = self.grid
        cell = np.array([width / g, height / g], np.float32)
        lattice = np.stack(np.meshgrid(np.arange(g + 1), np.arange(g + 1)), -1).astype(np.float32) * cell
        src = lattice + rng.uniform(-self.magnitude, self.magnitude, lattice.shape).astype(np.float32) * cell
        x = (np.arange(width, dtype=np.float32) + 0.5) / cell[0]
        y = (np.arange(height, dtype=np.float32) + 0.5) / cell[1]
        i = np.minimum(y.astype(np.int64), g - 1)[:, None]      # cell row, column
        j = np.minimum(x.astype(np.int64), g - 1)[None, :]
        a, b = (x[None, :] - j)[..., None], (y[:, None] - i)[..., None]   # position inside the cell
        p00, p10, p01, p11 = src[i, j], src[i, j + 1], src[i + 1, j], src[i + 1, j + 1]
        upper = a >= b    # triangle (p00, p10, p11), else (p00, p01, p11)
        pos = np.where(upper, p00 + a * (p10 - p00) + b * (p11 - p10), p00 + b * (p01 - p00) + a * (p11 - p01))
        pos = pos.astype(np.float32) - 0.5
        return np.ascontiguousarray(pos[..., 0]), np.ascontiguousarray(pos[..., 1])

    def __call__(self, rgb, labels, rng=None):
        mx, my = self.maps(*labels.shape, random_generator(rng))
        rgb = cv2.remap(rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        labels = cv2.remap(labels, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=self.ignore_index)
        return rgb, labels


class GaussianBlur:
    """Blur with a random sigma in ``sigma`` with probability ``p`` (defocus, motion, scaling)."""

    def __init__(self, p: float = 0.2, sigma=(0.5, 1.5)):
        self.p, self.sigma = p, sigma

    def __call__(self, rgb, labels, rng=None):
        rng = random_generator(rng)
        if rng.random() < self.p:
            rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(*self.sigma))
        return rgb, labels


class CompressionArtifacts:
    """JPEG re-encoding at a random quality with probability ``p``: blocking and ringing like
    the compressed video link the cloud model sees."""

    def __init__(self, p: float = 0.3, quality=(30, 90)):
        self.p, self.quality = p, quality

    def __call__(self, rgb, labels, rng=None):
        rng = random_generator(rng)
        if rng.random() < self.p:
            quality = int(rng.integers(self.quality[0], self.quality[1] + 1))
            _, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, quality])
            rgb = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        return rgb, labels


AUGMENTATIONS = ("flip", "color", "grid", "blur", "jpeg")


def training_transform(crop: tuple[int, int], augmentations=AUGMENTATIONS,
                       scale=(0.5, 2.0), focus_classes=(), focus_p: float = 0.0) -> Compose:
    """Random scale + crop to ``crop`` (w, h), with probability ``focus_p`` over a pixel of
    one of ``focus_classes``, followed by the named augmentations."""
    unknown = set(augmentations) - set(AUGMENTATIONS)
    if unknown:
        raise ValueError(f"unknown augmentations {sorted(unknown)}; choose from {AUGMENTATIONS}")
    steps = {"flip": HorizontalFlip(), "color": ColorJitter(), "grid": GridAffine(),
             "blur": GaussianBlur(), "jpeg": CompressionArtifacts()}
    return Compose([RandomScaleCrop(*crop, scale=scale, focus_classes=focus_classes, focus_p=focus_p)]
                   + [steps[name] for name in AUGMENTATIONS if name in augmentations])

