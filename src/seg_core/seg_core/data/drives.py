"""Generated drives for the super-resolution models: consecutive frames rendered once into a cache,
their low-resolution copies as the cloud receives them, and aligned training crops of both."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from seg_core.codec import EncoderConfig, resize_rgb, round_trip, scaled_size
from seg_core.data.scene.sequences import GENERATOR_VERSION, DrivingSequence
from seg_core.data.transforms import labels_tensor, to_unit_tensor

DEFAULT_SR_CACHE = Path("out/sr_cache")
# Generated drives: SR training uses seeds TRAIN_DRIVE_SEED and up, validation VAL_DRIVE_SEED;
# the live camera's default drive (seed 7) is kept for testing.
TRAIN_DRIVE_SEED = 1000
VAL_DRIVE_SEED = 2000


def drive_frames(seed: int, count: int, size: tuple[int, int],
                 cache_dir: Path = DEFAULT_SR_CACHE) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` frames of generated drive ``seed`` at ``size`` (w, h): (rgb N x H x W x 3,
    labels N x H x W), rendered once into ``cache_dir`` (the generator version is in the name)."""
    w, h = size
    path = Path(cache_dir) / f"drive{seed}-{w}x{h}-v{GENERATOR_VERSION}-{count}.npz"
    if not path.is_file():
        seq = DrivingSequence(seed, w, h)
        frames = [seq.frame(i) for i in tqdm(range(count), desc=f"render drive {seed}", leave=False,
                                            dynamic_ncols=True)]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, rgb=np.stack([f[0] for f in frames]), labels=np.stack([f[1] for f in frames]))
        tmp.replace(path)
    data = np.load(path)
    return data["rgb"], data["labels"]


def low_res_frames(hr: np.ndarray, scale: int, bitrate: int | None, fps: float = 30.0,
                   gop: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """What the cloud receives when ``hr`` (consecutive frames, N x H x W x 3) is sent at 1/scale:
    (low-resolution frames, packet bytes per frame). ``bitrate`` (bits/s) sends them through the
    edge encoder's H.264 settings at that rate; None downscales them without the codec (packet
    bytes 0)."""
    h, w = hr.shape[1:3]
    if bitrate is None:
        size = scaled_size(w, h, 1.0 / scale)
        return np.stack([resize_rgb(f, *size) for f in hr]), np.zeros(len(hr), np.int64)
    config = EncoderConfig(bitrate=int(bitrate), gop=gop, fps=fps)
    frames, sizes = zip(*round_trip(hr, config, 1.0 / scale))
    return np.stack(frames), np.asarray(sizes, np.int64)


class SRPairs(Dataset):
    """Aligned random crops of (low-resolution, high-resolution[, labels]) frames.

    ``patch`` (w, h) is in low-resolution pixels; None gives whole frames. Items are
    (lr 3 x h x w, hr 3 x h*s x w*s) floats in [0, 1], plus int64 labels at the high resolution
    when ``labels`` is given; crops are flipped horizontally at random.
    """

    def __init__(self, lr: np.ndarray, hr: np.ndarray, scale: int, patch: tuple[int, int] | None,
                 labels: np.ndarray | None = None, flip: bool = True):
        if len(lr) != len(hr) or (labels is not None and len(labels) != len(hr)):
            raise ValueError(f"{len(lr)} low-resolution, {len(hr)} high-resolution frames"
                             + (f" and {len(labels)} label maps" if labels is not None else ""))
        if hr.shape[1:3] != (lr.shape[1] * scale, lr.shape[2] * scale):
            raise ValueError(f"high-resolution frames {hr.shape[2]}x{hr.shape[1]} are not x{scale} the "
                             f"low-resolution {lr.shape[2]}x{lr.shape[1]}")
        if patch is not None and (patch[0] > lr.shape[2] or patch[1] > lr.shape[1]):
            raise ValueError(f"patch {patch[0]}x{patch[1]} is larger than the frames ({lr.shape[2]}x{lr.shape[1]})")
        self.lr, self.hr, self.labels, self.scale, self.patch, self.flip = lr, hr, labels, scale, patch, flip

    def __len__(self) -> int:
        return len(self.lr)

    def __getitem__(self, index: int):
        lr, hr, s = self.lr[index], self.hr[index], self.scale
        labels = self.labels[index] if self.labels is not None else None
        if self.patch is not None:
            pw, ph = self.patch
            x = int(torch.randint(0, lr.shape[1] - pw + 1, ()))
            y = int(torch.randint(0, lr.shape[0] - ph + 1, ()))
            lr, hr = lr[y:y + ph, x:x + pw], hr[y * s:(y + ph) * s, x * s:(x + pw) * s]
            labels = labels[y * s:(y + ph) * s, x * s:(x + pw) * s] if labels is not None else None
        if self.flip and torch.rand(()) < 0.5:
            lr, hr = lr[:, ::-1], hr[:, ::-1]
            labels = labels[:, ::-1] if labels is not None else None
        item = (to_unit_tensor(lr), to_unit_tensor(hr))
        return item if labels is None else (*item, labels_tensor(labels))
