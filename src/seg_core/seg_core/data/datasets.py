"""Training and evaluation samples: generated street scenes, scenes held in memory, and Cityscapes.

Every dataset gives (image 3 x H x W float normalised, labels H x W int64 train ids) after an
optional ``transform(rgb, labels) -> (rgb, labels)`` on the uint8 arrays (see transforms).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from seg_core.data.classes import cityscapes_train_ids
from seg_core.data.scene.sequences import SPLIT_SEED_BASE, SPLIT_SIZE, check_size, render_scene, split_seed
from seg_core.data.transforms import labels_tensor, to_tensor


def sample(rgb: np.ndarray, labels: np.ndarray, transform=None) -> tuple[torch.Tensor, torch.Tensor]:
    """One (image, labels) sample of uint8 arrays, through ``transform`` when given."""
    if transform is not None:
        rgb, labels = transform(rgb, labels)
    return to_tensor(np.ascontiguousarray(rgb)), labels_tensor(labels)


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
        return sample(*render_scene(split_seed(self.split, index), self.width, self.height), self.transform)


class SceneArrays(Dataset):
    """In-memory (rgb, labels) uint8 arrays as (normalised 3 x H x W float, H x W int64) samples,
    optionally through a ``transform(rgb, labels) -> (rgb, labels)``."""

    def __init__(self, rgb: np.ndarray, labels: np.ndarray, transform=None):
        if len(rgb) != len(labels):
            raise ValueError(f"{len(rgb)} images but {len(labels)} label maps")
        self.rgb, self.labels, self.transform = rgb, labels, transform

    def __len__(self) -> int:
        return len(self.rgb)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return sample(self.rgb[index], self.labels[index], self.transform)


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
        return sample(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), cityscapes_train_ids(ids), self.transform)
