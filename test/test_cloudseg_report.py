"""The CloudSeg report (docs/cloudseg.json, .md, .png): its JSON schema, on tiny frames with
untrained models, and the committed report against the same schema."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seg_core.training import cloudseg
from seg_core.data.classes import NUM_CLASSES
from seg_core.models.inference import Segmenter
from seg_core.models import build_model, build_sr_model, save_checkpoint

DOCS = Path(__file__).resolve().parent.parent / "docs"
TABLE1_KEYS = {"method", "miou", "psnr", "ssim"}
CURVE_KEYS = {"method", "scale", "kbit_s", "miou"}


def check_schema(report: dict) -> None:
    for key in ("table1", "table1_deeplabv3", "drive"):
        rows = report[key]["table1"] if key == "drive" else report[key]
        assert [r["method"] for r in rows] == ["hr", "bilinear", "bicubic", "sr", "sr_analytics"], key
        assert all(set(r) == TABLE1_KEYS for r in rows), key
    for curve in (report["bandwidth_curve"], report["drive"]["bandwidth_curve"]):
        assert all(set(p) == CURVE_KEYS for p in curve)
        assert {(p["method"], p["scale"]) for p in curve} == {("h264", 1)} | {
            (m, s) for m in ("bilinear", "sr", "sr_analytics") for s in (2, 4)}
        assert all(p["kbit_s"] > 0 and 0.0 <= p["miou"] <= 1.0 for p in curve)
    latency = report["latency"]
    assert {"device", "runs", "input", "output", "rows"} <= set(latency)
    assert all({"pipeline", "sr_ms", "segmentation_ms", "total_ms", "fps"} <= set(r) for r in latency["rows"])
    assert [r["lr_reuse"] for r in report["lr_reuse"]] == [False, True]
    assert len(report["goals"]) == 3 and all(isinstance(g["met"], bool) for g in report["goals"])


def video(n: int, h: int = 48, w: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A square moving over two halves, with labels: road (0) below, sky (10) above, car (13)."""
    rgb = np.zeros((n, h, w, 3), np.uint8)
    labels = np.zeros((n, h, w), np.uint8)
    rgb[:, : h // 2] = (70, 130, 180)
    labels[:, : h // 2] = 10
    rgb[:, h // 2:] = (128, 64, 128)
    for i in range(n):
        rgb[i, 20:32, 4 + 3 * i:20 + 3 * i] = (0, 0, 142)
        labels[i, 20:32, 4 + 3 * i:20 + 3 * i] = 13
    return rgb, labels


def test_report_schema_on_tiny_frames(tmp_path):
    torch.manual_seed(0)
    weights = {}
    for name, model, num in (("icnet", build_model("icnet"), NUM_CLASSES), ("enet", build_model("enet"), NUM_CLASSES)):
        weights[name] = tmp_path / f"{name}.pt"
        save_checkpoint(model, weights[name], name, num, input_size=[64, 32])
    sr = {}
    for scale, name in cloudseg.SR_MODELS.items():
        for method in ("sr", "sr_analytics"):
            sr.setdefault(scale, {})[method] = tmp_path / f"{name}.{method}.pt"
            save_checkpoint(build_sr_model(name, 4), sr[scale][method], name, None, channels=4)
    segmenters = {"icnet": Segmenter("icnet", weights["icnet"], threads=1),
                  "deeplabv3": Segmenter("enet", weights["enet"], threads=1)}
    report = cloudseg.build_report(video(3), video(4), segmenters, sr, sr[4]["sr"], drive_every=2, runs=1,
                                   command="python -m seg_core.train cloudseg")
    check_schema(report)
    assert [r["trained_on"] for r in report["sr_training_data"]] == ["h264", "clean"]
    paths = [tmp_path / "cloudseg.json", tmp_path / "cloudseg.md", tmp_path / "cloudseg.png"]
    cloudseg.write_report(report, *paths)
    assert json.loads(paths[0].read_text()) == report
    assert "## Table 1" in paths[1].read_text() and "cloudseg.png" in paths[1].read_text()
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not (DOCS / "cloudseg.json").is_file(), reason="no report committed")
def test_committed_report_follows_the_schema():
    check_schema(json.loads((DOCS / "cloudseg.json").read_text()))
    assert (DOCS / "cloudseg_bandwidth_miou.png").is_file() and (DOCS / "cloudseg.md").is_file()
