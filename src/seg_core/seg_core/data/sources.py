"""Frame sources for the camera node: generated driving scene, video file, image folder, V4L2 device."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOURCE_KINDS = ("generated", "video", "folder", "v4l2")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass
class Frame:
    rgb: np.ndarray
    labels: np.ndarray | None = None  # ground truth, when the source has it


@dataclass
class SourceConfig:
    kind: str = "generated"
    uri: str = ""          # video path, folder path or V4L2 device ("/dev/video0" or "0")
    width: int = 640
    height: int = 480
    rate: float = 30.0
    loop: bool = True
    seed: int = 0          # generated scene

    def validate(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"source '{self.kind}' is not one of {', '.join(SOURCE_KINDS)}")
        if not (16 <= self.width <= 8192 and 16 <= self.height <= 8192):
            raise ValueError(f"image size {self.width}x{self.height} must be within 16..8192 per side")
        if self.width % 2 or self.height % 2:
            raise ValueError(f"image size {self.width}x{self.height} must be even (H.264 4:2:0)")
        if not 0.1 <= self.rate <= 240.0:
            raise ValueError(f"rate {self.rate} Hz must be within 0.1..240")
        if self.kind != "generated" and not self.uri:
            raise ValueError(f"source '{self.kind}' needs a uri (path or device)")


class GeneratedSource:
    """The generated driving sequence, with per-frame ground truth."""

    def __init__(self, cfg: SourceConfig):
        from seg_core.data.scene.sequences import DrivingSequence
        self._seq = DrivingSequence(cfg.seed, cfg.width, cfg.height)
        self._loop = cfg.loop
        self._index = 0

    def read(self) -> Frame | None:
        if self._index >= len(self._seq):
            if not self._loop:
                return None
            self._index = 0
        rgb, labels = self._seq.frame(self._index)
        self._index += 1
        return Frame(rgb, labels)


class FolderSource:
    """Images of a folder in name order, resized to the configured size."""

    def __init__(self, cfg: SourceConfig):
        folder = Path(cfg.uri)
        if not folder.is_dir():
            raise FileNotFoundError(f"image folder '{folder}' does not exist")
        self._paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._paths:
            raise FileNotFoundError(f"image folder '{folder}' has no {'/'.join(IMAGE_SUFFIXES)} files")
        self._cfg = cfg
        self._index = 0

    def read(self) -> Frame | None:
        import cv2
        if self._index >= len(self._paths):
            if not self._cfg.loop:
                return None
            self._index = 0
        path = self._paths[self._index]
        self._index += 1
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"cannot read image '{path}'")
        return Frame(_resize_bgr_to_rgb(bgr, self._cfg))


class CaptureSource:
    """A video file or a V4L2 camera through OpenCV's VideoCapture."""

    def __init__(self, cfg: SourceConfig):
        import cv2
        if cfg.kind == "video":
            if not Path(cfg.uri).is_file():
                raise FileNotFoundError(f"video file '{cfg.uri}' does not exist")
            self._cap = cv2.VideoCapture(cfg.uri)
        else:
            device = int(cfg.uri) if cfg.uri.isdigit() else cfg.uri
            self._cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
        if not self._cap.isOpened():
            raise FileNotFoundError(f"cannot open {cfg.kind} source '{cfg.uri}'")
        self._cfg = cfg

    def read(self) -> Frame | None:
        import cv2
        ok, bgr = self._cap.read()
        if not ok and self._cfg.kind == "video" and self._cfg.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = self._cap.read()
        return Frame(_resize_bgr_to_rgb(bgr, self._cfg)) if ok else None


def _resize_bgr_to_rgb(bgr: np.ndarray, cfg: SourceConfig) -> np.ndarray:
    import cv2
    if bgr.shape[:2] != (cfg.height, cfg.width):
        bgr = cv2.resize(bgr, (cfg.width, cfg.height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def open_source(cfg: SourceConfig):
    """Validate the configuration and open the source; its read() returns a Frame or None at the end."""
    cfg.validate()
    if cfg.kind == "generated":
        return GeneratedSource(cfg)
    if cfg.kind == "folder":
        return FolderSource(cfg)
    return CaptureSource(cfg)
