"""Training data: generated street scenes, Cityscapes, and label-preserving augmentations.

Transforms are callables on numpy pairs, `transform(rgb, labels, rng=None) -> (rgb, labels)`,
rgb uint8 HxWx3 and labels uint8 HxW train ids.  Without an explicit numpy Generator they draw
their randomness from torch's generator, which the DataLoader seeds per worker and epoch.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from seg_core.data.classes import IGNORE_ID
from seg_core.data.scene.sequences import SPLIT_SEED_BASE, SPLIT_SIZE, check_size, render_scene, split_seed

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_MEAN = np.array(IMAGENET_MEAN, np.float32) * 255.0
_INV_STD = 1.0 / (np.array(IMAGENET_STD, np.float32) * 255.0)


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 rgb -> 3xHxW float32 tensor normalised with the ImageNet mean and std."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 image, got {rgb.dtype} {rgb.shape}")
    x = (rgb.astype(np.float32) - _MEAN) * _INV_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def _labels_tensor(labels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(labels.astype(np.int64))


# ----------------------------------------------------------------------------- transforms

def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    """The given generator, or a fresh one seeded from torch's generator."""
    if rng is not None:
        return rng
    return np.random.default_rng(int(torch.randint(0, 2 ** 62, ()).item()))


class Compose:
    """Apply transforms in turn, sharing one random generator per sample."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, rgb, labels, rng=None):
        rng = _rng(rng)
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
        rng = _rng(rng)
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
        if _rng(rng).random() < self.p:
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
        rng = _rng(rng)
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
        mx, my = self.maps(*labels.shape, _rng(rng))
        rgb = cv2.remap(rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        labels = cv2.remap(labels, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=self.ignore_index)
        return rgb, labels


def train_transform(width: int, height: int) -> Compose:
    """The usual training augmentation: scale + crop, flip, colour jitter, grid affine."""
    return Compose([RandomScaleCrop(width, height), HorizontalFlip(), ColorJitter(), GridAffine()])


# ----------------------------------------------------------------------------- datasets

class GeneratedStreetDataset(Dataset):
    """`length` generated scenes of a split, rendered on the fly: (image 3xHxW float normalised,
    labels HxW int64 train ids).  Item i is always scene split_seed(split, i)."""

    def __init__(self, split: str, length: int, width: int, height: int, transform=None):
        if split not in SPLIT_SEED_BASE:
            raise ValueError(f"unknown split '{split}', expected one of {', '.join(SPLIT_SEED_BASE)}")
        if not 1 <= length <= SPLIT_SIZE:
            raise ValueError(f"length {length} must be within 1..{SPLIT_SIZE}")
        check_size(width, height)
        self.split, self.length, self.width, self.height, self.transform = split, length, width, height, transform

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} scenes")
        rgb, labels = render_scene(split_seed(self.split, index), self.width, self.height)
        if self.transform is not None:
            rgb, labels = self.transform(rgb, labels)
        return to_tensor(rgb), _labels_tensor(labels)


# Cityscapes labelIds -> train ids (cityscapesScripts labels.py); everything else is ignored.
CITYSCAPES_ID_TO_TRAIN_ID = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
    24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}
_ID_LUT = np.full(256, IGNORE_ID, np.uint8)
for _id, _train in CITYSCAPES_ID_TO_TRAIN_ID.items():
    _ID_LUT[_id] = _train


def cityscapes_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a Cityscapes labelIds image to train ids (255 for ids outside the 19 classes)."""
    if label_ids.dtype != np.uint8:
        raise ValueError(f"labelIds must be uint8, got {label_ids.dtype}")
    return _ID_LUT[label_ids]


class CityscapesDataset(Dataset):
    """Cityscapes fine annotations:
    root/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png with
    root/gtFine/<split>/<city>/<name>_gtFine_labelIds.png; items as GeneratedStreetDataset."""

    def __init__(self, root: str, split: str, transform=None):
        root = Path(root)
        image_dir, label_dir = root / "leftImg8bit" / split, root / "gtFine" / split
        for d in (image_dir, label_dir):
            if not d.is_dir():
                raise FileNotFoundError(f"Cityscapes folder '{d}' is missing (expected "
                                        f"<root>/leftImg8bit/<split>/<city>/ and <root>/gtFine/<split>/<city>/)")
        self.images = sorted(image_dir.glob("*/*_leftImg8bit.png"))
        if not self.images:
            raise FileNotFoundError(f"no <city>/*_leftImg8bit.png images under '{image_dir}'")
        self.labels = [label_dir / p.parent.name / p.name.replace("_leftImg8bit.png", "_gtFine_labelIds.png")
                       for p in self.images]
        missing = [str(p) for p in self.labels if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} of {len(self.labels)} images have no labels, e.g. "
                                    + ", ".join(missing[:3]))
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        if not 0 <= index < len(self.images):
            raise IndexError(f"index {index} out of range for {len(self.images)} images")
        bgr = cv2.imread(str(self.images[index]), cv2.IMREAD_COLOR)
        ids = cv2.imread(str(self.labels[index]), cv2.IMREAD_UNCHANGED)
        if bgr is None or ids is None:
            raise ValueError(f"cannot read '{self.images[index]}' or its labels")
        if ids.ndim != 2 or ids.shape != bgr.shape[:2]:
            raise ValueError(f"labels {ids.shape} do not match image {bgr.shape[:2]} for '{self.images[index]}'")
        rgb, labels = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), cityscapes_train_ids(ids)
        if self.transform is not None:
            rgb, labels = self.transform(rgb, labels)
        return to_tensor(rgb), _labels_tensor(labels)
