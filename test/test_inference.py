"""Segmenter: input validation, sizes, untrained fallback and the ONNX Runtime backend."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from seg_core.models import inference, registry
from seg_core.data.classes import NUM_CLASSES
from seg_core.models.inference import Segmenter
from seg_core.models import WeightsError, build_model, save_checkpoint
from seg_core.models.onnx_export import export_onnx


@pytest.fixture()
def weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "enet.pt"
    save_checkpoint(build_model("enet"), path, "enet", NUM_CLASSES, fp16=True, input_size=[64, 32])
    return path


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path, monkeypatch):
    cache = tmp_path / "onnx-cache"
    monkeypatch.setattr(inference, "ONNX_CACHE_DIR", cache)
    return cache


def image(h=70, w=100):
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_predicts_labels_at_the_input_size(weights):
    seg = Segmenter("enet", weights=str(weights), threads=1)
    assert seg.model_name == "enet" and not seg.untrained
    assert seg.input_size == (64, 32) and seg.device.type == "cpu"
    labels = seg.predict(image())
    assert labels.shape == (70, 100) and labels.dtype == np.uint8
    assert labels.max() < NUM_CLASSES


def test_input_size_overrides_the_checkpoint(weights):
    assert Segmenter("enet", weights=weights, input_size=(128, 64)).input_size == (128, 64)


def test_without_weights_runs_untrained_and_says_so(caplog, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)  # an install with no weights shipped
    with caplog.at_level(logging.WARNING):
        seg = Segmenter("icnet")
    assert seg.untrained and "RANDOMLY INITIALISED" in caplog.text
    assert seg.predict(image(128, 256)).shape == (128, 256)


@pytest.mark.parametrize("bad", [
    image().astype(np.float32), image()[..., 0], image()[..., :2], image()[:0], [[1, 2, 3]],
])
def test_bad_images_are_rejected(weights, bad):
    with pytest.raises(ValueError):
        Segmenter("enet", weights=weights).predict(bad)


def test_bad_arguments_are_clear_errors(weights, tmp_path):
    with pytest.raises(ValueError, match="unknown model"):
        Segmenter("unet")
    with pytest.raises(ValueError, match="unknown backend"):
        Segmenter("enet", weights=weights, backend="tensorrt")
    with pytest.raises(WeightsError, match="not found"):
        Segmenter("enet", weights=tmp_path / "missing.pt")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            Segmenter("enet", weights=weights, device="cuda")


def test_onnx_backend_agrees_with_torch(weights, onnx_cache):
    rgb = image(64, 128)
    expected = Segmenter("enet", weights=weights).predict(rgb)
    got = Segmenter("enet", weights=weights, backend="onnx").predict(rgb)
    assert (got == expected).mean() > 0.99  # fp32 vs fp32, argmax ties aside
    assert len(list(onnx_cache.glob("enet-*-64x32.onnx"))) == 1


def test_onnx_backend_uses_the_exported_file_beside_the_weights(weights, onnx_cache):
    seg = Segmenter("enet", weights=weights)
    export_onnx(seg.net, weights.with_suffix(".onnx"), (64, 32))
    Segmenter("enet", weights=weights, backend="onnx").predict(image())
    assert not onnx_cache.exists()
