"""Shipped weights: listed in the manifest with the right checksum, loadable, and accurate.

The mIoU floors sit a little below what each segmentation checkpoint measured on the same first
CHECK_IMAGES images of the generated test split (rendered at the camera's size, each model run at
its own, as in the manifest), and the PSNR floors a little below what each
super-resolution checkpoint measured upscaling the first SR_IMAGES of them (downscaled, no codec),
so a damaged or wrong checkpoint fails here.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from seg_core.data.classes import NUM_CLASSES
from seg_core.data.drives import low_res_frames
from seg_core.data.scene.sequences import render_scene, split_seed
from seg_core.models import MANIFEST_PATH, SR_MODEL_NAMES, WEIGHTS_DIR, build_model, load_weights
from seg_core.models.super_resolution import SuperResolver
from seg_core.training.metrics import psnr
from seg_core.models.onnx_export import max_abs_difference
from seg_core.data.datasets import GeneratedStreetDataset
from seg_core.training.evaluation import CAMERA_SIZE, evaluate_at_input_size

CHECK_IMAGES = 8
MIOU_FLOOR = {  # measured on these 8 images: 0.4927, 0.4518, 0.4103
    "deeplabv3_mobilenet_v3_large.pt": 0.47,
    "enet.pt": 0.43,
    "icnet.pt": 0.39,
}
SR_IMAGES, SR_SIZE = 4, (640, 480)
PSNR_FLOOR = {  # dB measured: x4 28.81 (base) 27.60 30.45 (clean); x2 32.81 (base) 31.61
    "carn_m_x4.base.pt": 28.3,
    "carn_m_x4.clean.pt": 29.9,
    "carn_m_x4.pt": 27.1,
    "carn_m_x2.base.pt": 32.3,
    "carn_m_x2.pt": 31.1,
}
MAX_TOTAL_BYTES = 60_000_000

MANIFEST = json.loads(MANIFEST_PATH.read_text()) if MANIFEST_PATH.is_file() else {}
CHECKPOINTS = sorted(f for f in MANIFEST if f.endswith(".pt") and MANIFEST[f]["model"] not in SR_MODEL_NAMES)
SR_CHECKPOINTS = sorted(f for f in MANIFEST if f.endswith(".pt") and MANIFEST[f]["model"] in SR_MODEL_NAMES)
ONNX_EXPORTS = sorted(f for f in MANIFEST if f.endswith(".onnx"))


def test_every_shipped_file_is_in_the_manifest():
    shipped = {p.name for p in WEIGHTS_DIR.iterdir() if p.suffix in (".pt", ".onnx")}
    assert shipped == set(MANIFEST), "weights/ and weights/manifest.json disagree"
    assert set(CHECKPOINTS) == set(MIOU_FLOOR), "every shipped segmentation checkpoint needs an mIoU floor here"
    assert set(SR_CHECKPOINTS) == set(PSNR_FLOOR), "every shipped super-resolution checkpoint needs a PSNR floor here"
    assert sum(p.stat().st_size for p in WEIGHTS_DIR.iterdir()) <= MAX_TOTAL_BYTES


@pytest.mark.parametrize("filename", sorted(MANIFEST))
def test_checksum_and_size_match_the_manifest(filename):
    entry, path = MANIFEST[filename], WEIGHTS_DIR / filename
    assert path.stat().st_size == entry["size_bytes"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]


@pytest.mark.parametrize("filename", CHECKPOINTS)
def test_checkpoint_loads_and_reaches_its_miou_floor(filename):
    entry = MANIFEST[filename]
    model = build_model(entry["model"], NUM_CLASSES)
    meta = load_weights(model, WEIGHTS_DIR / filename)
    assert meta["input_size"] == entry["input_size"]
    test = GeneratedStreetDataset("test", CHECK_IMAGES, *CAMERA_SIZE)
    cm = evaluate_at_input_size(model, entry["input_size"], test)
    assert cm.miou() >= MIOU_FLOOR[filename], cm.table()


@pytest.mark.parametrize("filename", SR_CHECKPOINTS)
def test_sr_checkpoint_loads_and_reaches_its_psnr_floor(filename):
    resolver = SuperResolver(MANIFEST[filename]["model"], WEIGHTS_DIR / filename)
    hr = np.stack([render_scene(split_seed("test", i), *SR_SIZE)[0] for i in range(SR_IMAGES)])
    lr, _ = low_res_frames(hr, resolver.scale, None)
    measured = float(np.mean([psnr(resolver.upscale(frame, SR_SIZE), truth) for frame, truth in zip(lr, hr)]))
    assert measured >= PSNR_FLOOR[filename], f"{filename}: PSNR {measured:.2f} dB"


@pytest.mark.parametrize("filename", ONNX_EXPORTS)
def test_onnx_export_matches_its_checkpoint(filename):
    entry = MANIFEST[filename]
    model = build_model(entry["model"], NUM_CLASSES)
    load_weights(model, WEIGHTS_DIR / entry["exported_from"])
    size = tuple(entry["input_size"])
    assert max_abs_difference(model, WEIGHTS_DIR / filename, size) < 1e-3
