"""Segmenter: rgb8 image in, uint8 train-id label image out, with a torch or ONNX Runtime backend."""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import torch

from seg_core.data.classes import NUM_CLASSES
from seg_core.data.transforms import normalize
from seg_core.models import (
    DEFAULT_INPUT_SIZE, MODEL_NAMES, apply_state_dict, build_model, default_weights, read_checkpoint,
)
from seg_core.models.onnx_export import INPUT_NAME, export_onnx, onnx_input_size, ort_session

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx")
ONNX_CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "seg_core" / "onnx"


class Segmenter:
    """Run a registry model on rgb8 images.

    ``weights=None`` uses the shipped weights of ``model``; when none are shipped the model is
    randomly initialised (``untrained`` is True) and a warning is logged. ``input_size`` is the
    (w, h) the network runs at; it defaults to the checkpoint's ``input_size``. The ``onnx``
    backend uses ``<weights>.onnx`` when it exists for that size, and otherwise exports one to
    a cache directory.
    """

    def __init__(
        self,
        model: str,
        weights: str | Path | None = None,
        device: str = "cpu",
        input_size: tuple[int, int] | None = None,
        backend: str = "torch",
        threads: int | None = None,
    ):
        if model not in MODEL_NAMES:
            raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"device {device!r} requested but CUDA is not available here")
        if backend == "onnx" and device != "cpu":
            raise ValueError("the onnx backend runs on the CPU only; use device='cpu'")
        self.model_name = model
        self.device = torch.device(device)
        self.backend = backend
        if threads:
            torch.set_num_threads(threads)

        weights = Path(weights) if weights is not None else default_weights(model)
        self.weights = weights
        self.untrained = weights is None
        # the checkpoint is read (and a missing or unsafe file refused) before the slower model build
        state_dict, meta = (None, {}) if self.untrained else read_checkpoint(weights)
        with torch.random.fork_rng():
            torch.manual_seed(0)  # an untrained network is the same in every process
            self.net = build_model(model, NUM_CLASSES).eval()
        if self.untrained:
            log.warning(
                "no weights shipped for model %r: running a RANDOMLY INITIALISED network, its "
                "output is meaningless; pass weights=... to use a trained checkpoint", model,
            )
        else:
            apply_state_dict(self.net, state_dict, source=str(weights))
        self.input_size = tuple(input_size or meta.get("input_size") or DEFAULT_INPUT_SIZE)
        if len(self.input_size) != 2 or min(self.input_size) <= 0:
            raise ValueError(f"input_size must be (width, height) > 0, got {self.input_size}")

        if backend == "onnx":
            self.session = self._onnx_session(threads)
        else:
            self.net = self.net.to(self.device, memory_format=torch.channels_last)

    def _onnx_session(self, threads: int | None):
        if self.weights is not None:
            beside = self.weights.with_suffix(".onnx")
            if beside.is_file():
                session = ort_session(beside, threads)
                if onnx_input_size(session) == self.input_size:
                    return session
            tag = hashlib.sha256(self.weights.read_bytes()).hexdigest()[:16]
        else:
            tag = "untrained"
        w, h = self.input_size
        cached = ONNX_CACHE_DIR / f"{self.model_name}-{tag}-{w}x{h}.onnx"
        if not cached.is_file():
            log.info("exporting %s to %s", self.model_name, cached)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            export_onnx(self.net, tmp, self.input_size)
            tmp.replace(cached)
        return ort_session(cached, threads)

    @property
    def reuses_low_res(self) -> bool:
        """Whether predict() takes the low-resolution frame an image was super-resolved from."""
        return self.backend == "torch" and self.model_name == "icnet"

    def predict(self, rgb: np.ndarray, low_res: np.ndarray | None = None,
                output_size: tuple[int, int] | None = None) -> np.ndarray:
        """Labels (uint8 H x W train ids) for an rgb8 H x W x 3 image, at the image's size or at
        ``output_size`` (w, h). ``low_res``: the frame ``rgb`` was super-resolved from, fed to
        the model's low-resolution branch instead of a downsized ``rgb`` (see reuses_low_res)."""
        _check_image(rgb)
        height, width = rgb.shape[:2]
        x = self._network_input(rgb, self.input_size)
        low = None
        if low_res is not None:
            if not self.reuses_low_res:
                raise ValueError(f"{self.model_name} ({self.backend}) cannot take a low-resolution frame")
            _check_image(low_res)
            low = self._network_input(low_res, (self.input_size[0] // 2, self.input_size[1] // 2))
        labels = self._argmax(x, low)
        return cv2.resize(labels, output_size or (width, height), interpolation=cv2.INTER_NEAREST)

    def _network_input(self, rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        resized = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
        x = normalize(resized).transpose(2, 0, 1)[None]
        return np.ascontiguousarray(x)

    def _argmax(self, x: np.ndarray, low: np.ndarray | None) -> np.ndarray:
        if self.backend == "onnx":
            logits = self.session.run(None, {INPUT_NAME: x})[0]
            return logits[0].argmax(axis=0).astype(np.uint8)
        with torch.inference_mode():
            t = torch.from_numpy(x).to(self.device).contiguous(memory_format=torch.channels_last)
            args = (t,) if low is None else (t, torch.from_numpy(low).to(self.device))
            return self.net(*args)[0].argmax(dim=0).to(torch.uint8).cpu().numpy()


def _check_image(rgb) -> None:
    if not isinstance(rgb, np.ndarray):
        raise ValueError(f"expected a numpy array, got {type(rgb).__name__}")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 uint8 rgb image, got {rgb.dtype} {rgb.shape}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"empty image {rgb.shape}")
