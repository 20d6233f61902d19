"""Predictors (torch or ONNX Runtime) and their evaluation on generated test images at the camera's size."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from seg_core.data.classes import IGNORE_ID, NUM_CLASSES
from seg_core.data.datasets import SceneArrays
from seg_core.data.scene_cache import DEFAULT_CACHE_DIR, cached_scenes
from seg_core.data.sources import SourceConfig
from seg_core.models import DEFAULT_INPUT_SIZE, WeightsError, build_model, default_weights, load_weights
from seg_core.models.onnx_export import INPUT_NAME
from seg_core.training.metrics import ConfusionMatrix

# Test images are rendered and scored at the camera's size, whatever size a model runs at:
# each model sees them resized to its input, as the segmentation nodes do.
CAMERA_SIZE = (SourceConfig.width, SourceConfig.height)
Predictor = Callable[[torch.Tensor], torch.Tensor]


def torch_predictor(model: nn.Module, bf16: bool = False) -> Predictor:
    """Batched argmax labels of a torch model (channels_last, optionally bf16 autocast)."""
    model = model.eval().to(memory_format=torch.channels_last)

    def predict(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            return model(x.contiguous(memory_format=torch.channels_last)).argmax(1)

    return predict


def at_input_size(predict: Predictor, input_size: tuple[int, int]) -> Predictor:
    """``predict`` run on images resized to ``input_size`` (w, h, bilinear), its labels resized
    back to the images' size (nearest), as the Segmenter does for camera frames."""
    w, h = input_size

    def resized(x: torch.Tensor) -> torch.Tensor:
        size = tuple(x.shape[-2:])
        if size == (h, w):
            return predict(x)
        labels = predict(F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False))
        return F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()

    return resized


def onnx_predictor(session) -> Predictor:
    def predict(x: torch.Tensor) -> torch.Tensor:
        outs = [session.run(None, {INPUT_NAME: x[i:i + 1].numpy()})[0] for i in range(len(x))]
        return torch.from_numpy(np.concatenate(outs).argmax(1))

    return predict


def evaluate(predict: Predictor, dataset: Dataset, count: int, batch: int = 8,
             desc: str = "eval") -> ConfusionMatrix:
    cm = ConfusionMatrix(NUM_CLASSES, IGNORE_ID)
    loader = DataLoader(Subset(dataset, range(min(count, len(dataset)))), batch_size=batch)
    for x, y in tqdm(loader, desc=desc, leave=False, dynamic_ncols=True):
        cm.update(predict(x).numpy(), y.numpy())
    return cm


def generated_scenes(size: tuple[int, int], count: int, split: str = "test",
                     cache_dir: Path = DEFAULT_CACHE_DIR) -> Dataset:
    """The first ``count`` scenes of a generated split at ``size``, rendered once into the cache."""
    w, h = size
    rgb, labels = cached_scenes(split, count, w, h, cache_dir)
    return SceneArrays(rgb[:count], labels[:count])


def test_images(args, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """The first ``args.count`` generated images of ``split`` at ``args.image_size``: (rgb, labels) uint8."""
    rgb, labels = cached_scenes(split, args.count, *args.image_size, args.cache_dir)
    return rgb[:args.count], labels[:args.count]


def calibration_batches(size: tuple[int, int], count: int, cache_dir: Path) -> Iterator[np.ndarray]:
    val = generated_scenes(size, count, "val", cache_dir)
    for i in tqdm(range(count), desc="calibrate", leave=False, dynamic_ncols=True):
        yield val[i][0][None].numpy()


def load_model(name: str, weights: str | None) -> tuple[nn.Module, dict]:
    model = build_model(name, NUM_CLASSES)
    path = weights or default_weights(name)
    if path is None:
        raise WeightsError(f"no weights given and none shipped for {name!r}")
    return model.eval(), load_weights(model, path)


def model_size(args, meta: dict) -> tuple[int, int]:
    return tuple(args.size or meta.get("input_size") or DEFAULT_INPUT_SIZE)


def metrics_summary(cm: ConfusionMatrix) -> dict:
    return {"miou": round(cm.miou(), 4), "pixel_accuracy": round(cm.pixel_accuracy(), 4)}


def evaluate_at_input_size(model: nn.Module, input_size: tuple[int, int], data: Dataset,
                           desc: str = "eval") -> ConfusionMatrix:
    """The model run at ``input_size`` on every image of ``data``, scored at the images' own size
    (the camera's, for the generated test images), as the segmentation nodes run it."""
    return evaluate(at_input_size(torch_predictor(model), input_size), data, len(data), desc=desc)


def confusion_lines(cm: ConfusionMatrix) -> list[str]:
    return [f"{name}: " + ", ".join(f"{other} {100 * share:.1f} %" for other, share in goes)
            for name, goes in cm.confusions().items() if goes]
