"""What streaming at low resolution costs and what super-resolution wins back (CloudSeg, Wang et
al. 2019): Table 1, Figure 5 and Table 2 of the paper, measured on generated frames sent through
the real H.264 codec. Writes docs/cloudseg.md, docs/cloudseg.json, docs/cloudseg_bandwidth_miou.png:

    python -m seg_core.train cloudseg

Every setting encodes the frames as one 30 fps stream with the edge encoder's settings
(downscaled first for x2 / x4), decodes them, upscales the decoded frames back to the camera's
size (bilinear, bicubic, or a CARN model) and segments them at the camera's size, as the cloud
node does. Bandwidth is the real packet bytes at 30 fps. PSNR and SSIM compare with the frames
as rendered, before any codec.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from seg_core.data.classes import IGNORE_ID, NUM_CLASSES
from seg_core.data.drives import low_res_frames
from seg_core.data.transforms import to_unit_tensor
from seg_core.models import default_weights, sr_scale
from seg_core.models.inference import Segmenter
from seg_core.models.super_resolution import SuperResolver, Upscaler, check_target, interpolation_upscaler
from seg_core.training.cost import latency_and_load
from seg_core.training.losses import ssim
from seg_core.training.metrics import ConfusionMatrix, psnr

FPS = 30.0
GOP = 30
# The two profiles (src/seg_bringup/config): the default streams the camera at 1.5 Mbit/s, the
# cloudseg profile at a quarter of its width and height at 120 kbit/s.
DEFAULT_BITRATE = 1_500_000
CLOUDSEG_SCALE, CLOUDSEG_BITRATE = 4, 120_000
FULL_BITRATES = (250_000, 500_000, 1_000_000, DEFAULT_BITRATE, 3_000_000)
LOW_BITRATES = {2: (150_000, 300_000, 600_000), 4: (60_000, CLOUDSEG_BITRATE, 240_000)}
SR_MODELS = {2: "carn_m_x2", 4: "carn_m_x4"}
TABLE1_METHODS = ("hr", "bilinear", "bicubic", "sr", "sr_analytics")
CURVE_METHODS = ("bilinear", "sr", "sr_analytics")
LATENCY_THREADS = 2


def stream(frames: np.ndarray, scale: int, bitrate: int, fps: float = FPS) -> tuple[np.ndarray, float]:
    """The decoded frames of ``frames`` sent at 1/scale and ``bitrate`` as an ``fps`` stream, and
    the kbit/s their packets take."""
    decoded, sizes = low_res_frames(frames, scale, bitrate, fps, GOP)
    return decoded, float(sizes.sum()) * 8.0 * fps / len(frames) / 1000.0


def score(original: np.ndarray, truth: np.ndarray, received: np.ndarray, scale: int,
          upscalers: dict[str, Upscaler], segmenters: dict[str, Segmenter], lr_reuse: bool = False,
          every: int = 1, desc: str = "") -> dict[str, dict]:
    """{upscaler: {"psnr", "ssim", "miou": {segmenter: mIoU}}} of the ``received`` frames (sent at
    1/scale), each upscaled to the original size and segmented there, on every ``every``-th
    frame. PSNR and SSIM are means over the frames."""
    size = original.shape[2:0:-1]
    quality = {u: ([], []) for u in upscalers}
    cms = {u: {s: ConfusionMatrix(NUM_CLASSES, IGNORE_ID) for s in segmenters} for u in upscalers}
    for i in tqdm(range(0, len(original), every), desc=desc, leave=False, dynamic_ncols=True):
        check_target(received[i].shape[1::-1], size, scale)
        for u, upscale in upscalers.items():
            image = upscale(received[i], size)
            quality[u][0].append(psnr(image, original[i]))
            quality[u][1].append(ssim(to_unit_tensor(image)[None], to_unit_tensor(original[i])[None]).item())
            for s, seg in segmenters.items():
                reuse = received[i] if lr_reuse and seg.reuses_low_res else None
                cms[u][s].update(seg.predict(image, low_res=reuse), truth[i])
    return {u: {"psnr": round(float(np.mean(quality[u][0])), 2), "ssim": round(float(np.mean(quality[u][1])), 4),
                "miou": {s: round(cm.miou(), 4) for s, cm in cms[u].items()}} for u in upscalers}


def row(method: str, result: dict, segmenter: str | None) -> dict:
    """A Table 1 row: method, mIoU (with ``segmenter``), PSNR, SSIM."""
    miou = {"miou": result["miou"][segmenter]} if segmenter else {}
    return {"method": method, **miou, "psnr": result["psnr"], "ssim": result["ssim"]}


def upscalers_for(scale: int, sr_weights: dict[str, Path | None]) -> dict[str, Upscaler]:
    """Interpolation, and each SR model given (method name -> weights) at ``scale``."""
    ups: dict[str, Upscaler] = {"bilinear": interpolation_upscaler("bilinear"),
                                "bicubic": interpolation_upscaler("bicubic")}
    for method, path in sr_weights.items():
        ups[method] = SuperResolver(SR_MODELS[scale], path).upscale
    return ups


def identity(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return frame


# ----------------------------------------------------------------------------- the measurements

def table1(data, segmenters, sr_weights, every: int, desc: str) -> dict[str, list[dict]]:
    """Per segmenter: hr (full resolution at the default profile's bitrate) and the x4 stream at
    the cloudseg profile's bitrate upscaled by each method: mIoU, PSNR, SSIM."""
    original, truth = data
    full, _ = stream(original, 1, DEFAULT_BITRATE)
    results = score(original, truth, full, 1, {"hr": identity}, segmenters, every=every, desc=f"{desc} hr")
    low, _ = stream(original, CLOUDSEG_SCALE, CLOUDSEG_BITRATE)
    ups = upscalers_for(CLOUDSEG_SCALE, sr_weights[CLOUDSEG_SCALE])
    results.update(score(original, truth, low, CLOUDSEG_SCALE, ups, segmenters, every=every, desc=f"{desc} x4"))
    return {s: [row(m, results[m], s) for m in TABLE1_METHODS] for s in segmenters}


def bandwidth_curve(data, segmenter: Segmenter, sr_weights, every: int, desc: str) -> list[dict]:
    """mIoU against the bandwidth the stream takes: full resolution at FULL_BITRATES, x2 and x4
    at LOW_BITRATES upscaled by each method."""
    original, truth = data
    seg = {"seg": segmenter}
    points = []
    for bitrate in FULL_BITRATES:
        received, kbit_s = stream(original, 1, bitrate)
        result = score(original, truth, received, 1, {"h264": identity}, seg, every=every,
                       desc=f"{desc} x1 {bitrate // 1000}k")
        points.append({"method": "h264", "scale": 1, "kbit_s": round(kbit_s, 1),
                       "miou": result["h264"]["miou"]["seg"]})
    for scale, bitrates in LOW_BITRATES.items():
        ups = upscalers_for(scale, sr_weights[scale])
        ups = {m: ups[m] for m in CURVE_METHODS if m in ups}
        for bitrate in bitrates:
            received, kbit_s = stream(original, scale, bitrate)
            result = score(original, truth, received, scale, ups, seg, every=every,
                           desc=f"{desc} x{scale} {bitrate // 1000}k")
            points += [{"method": m, "scale": scale, "kbit_s": round(kbit_s, 1), "miou": result[m]["miou"]["seg"]}
                       for m in ups]
    return points


def lr_reuse_rows(data, segmenter: Segmenter, sr_weights: Path | None, runs: int) -> list[dict]:
    """The cloudseg profile's path with ICNet's low-resolution branch fed the received frame
    (lr_reuse) or a downsized copy of the SR frame: mIoU and segmentation time."""
    original, truth = data
    low, _ = stream(original, CLOUDSEG_SCALE, CLOUDSEG_BITRATE)
    up = SuperResolver(SR_MODELS[CLOUDSEG_SCALE], sr_weights).upscale
    size = original.shape[2:0:-1]
    sr = up(low[0], size)
    rows = []
    for reuse in (False, True):
        result = score(original, truth, low, CLOUDSEG_SCALE, {"sr": up}, {"seg": segmenter}, lr_reuse=reuse,
                       desc=f"lr_reuse={reuse}")
        torch.set_num_threads(LATENCY_THREADS)
        ms, load = timed(lambda: segmenter.predict(sr, low_res=low[0] if reuse else None), runs)
        rows.append({"lr_reuse": reuse, "miou": result["sr"]["miou"]["seg"], "segmentation_ms": ms,
                     "load_average": load})
    return rows


def timed(fn: Callable[[], object], runs: int, warmup: int = 3) -> tuple[float, float]:
    """Median milliseconds of ``fn()`` and the highest 1-minute load average seen meanwhile, rounded."""
    ms, load = latency_and_load(fn, runs, warmup)
    return round(ms, 1), round(load, 2)


def latency(frame: np.ndarray, segmenters: dict[str, Segmenter], sr_weights: Path | None, runs: int) -> dict:
    """Table 2: per frame of the cloudseg profile (x4 at the camera's size), SR and segmentation
    time on this machine's CPU, against the default profile's segmentation of the full frame."""
    torch.set_num_threads(LATENCY_THREADS)
    size = frame.shape[1::-1]
    low, _ = stream(np.stack([frame] * 2), CLOUDSEG_SCALE, CLOUDSEG_BITRATE)
    sr = SuperResolver(SR_MODELS[CLOUDSEG_SCALE], sr_weights)
    sr_ms, sr_load = timed(lambda: sr.upscale(low[-1], size), runs)
    upscaled = sr.upscale(low[-1], size)
    rows = []
    for name, seg in segmenters.items():
        reuse = low[-1] if seg.reuses_low_res else None
        seg_ms, seg_load = timed(lambda: seg.predict(upscaled, low_res=reuse), runs)
        rows.append({"pipeline": f"{sr.model_name} + {name}" + (" (lr reuse)" if reuse is not None else ""),
                     "sr_ms": sr_ms, "segmentation_ms": seg_ms, "total_ms": round(sr_ms + seg_ms, 1),
                     "fps": round(1000.0 / (sr_ms + seg_ms), 1), "load_average": max(sr_load, seg_load)})
    full = segmenters["deeplabv3"]
    seg_ms, load = timed(lambda: full.predict(frame), runs)
    rows.append({"pipeline": "default profile: deeplabv3 on the full-resolution frame", "sr_ms": 0.0,
                 "segmentation_ms": seg_ms, "total_ms": seg_ms, "fps": round(1000.0 / seg_ms, 1),
                 "load_average": load})
    return {"device": f"CPU ({os.cpu_count()} cores), torch on {LATENCY_THREADS} threads; no GPU on this machine",
            "runs": runs, "input": f"{low.shape[2]}x{low.shape[1]}", "output": f"{size[0]}x{size[1]}",
            "rows": rows}


def goals(report: dict) -> list[dict]:
    """The three goals, checked against the measurements."""
    t1 = {r["method"]: r for r in report["table1"]}
    gain = t1["sr_analytics"]["miou"] - t1["sr"]["miou"]
    psnr_gap = abs(t1["sr_analytics"]["psnr"] - t1["sr"]["psnr"])
    curve = report["bandwidth_curve"]
    full = [p for p in curve if p["method"] == "h264"][FULL_BITRATES.index(DEFAULT_BITRATE)]
    x4 = [p for p in curve if p["scale"] == 4 and p["method"] in ("sr", "sr_analytics")
          and full["kbit_s"] / p["kbit_s"] >= 10.0]
    best = max(x4, key=lambda p: p["miou"]) if x4 else None
    cloudseg = report["latency"]["rows"][0]
    return [
        {"goal": "analytics-aware SR beats plain SR by >= 1 mIoU point at a PSNR within 0.5 dB",
         "measured": f"{100 * gain:+.2f} mIoU points, PSNR {psnr_gap:.2f} dB apart",
         "met": bool(gain >= 0.01 and psnr_gap <= 0.5)},
        {"goal": "the x4 SR path is within 2 mIoU points of full-resolution H.264 at >= 10x less bandwidth",
         "measured": (f"x4 {best['method']} at {best['kbit_s']} kbit/s: mIoU {best['miou']:.4f} vs "
                      f"{full['miou']:.4f} at {full['kbit_s']} kbit/s ({full['kbit_s'] / best['kbit_s']:.1f}x less), "
                      f"{100 * (best['miou'] - full['miou']):+.2f} points") if best else "no x4 point at >= 10x less",
         "met": bool(best and full["miou"] - best["miou"] <= 0.02)},
        {"goal": "SR + segmentation >= 10 fps at the cloudseg profile on 2 CPU cores",
         "measured": f"{cloudseg['fps']} fps ({cloudseg['pipeline']}, {cloudseg['total_ms']} ms, "
                     f"load average {cloudseg['load_average']})",
         "met": bool(cloudseg["fps"] >= 10.0)},
    ]


def evaluate_sr(sr_name: str, weights: Path | None, data, bitrate: int | None,
                segmenter: Segmenter | None) -> list[dict]:
    """Table 1 rows (mIoU with ``segmenter`` if given) of an SR model against bilinear and bicubic
    upscaling of ``data`` sent at its scale, through H.264 at ``bitrate`` (None: no codec)."""
    original, truth = data
    scale = sr_scale(sr_name)
    received, _ = low_res_frames(original, scale, bitrate, FPS, GOP)
    ups = {**{k: interpolation_upscaler(k) for k in ("bilinear", "bicubic")},
           sr_name: SuperResolver(sr_name, weights).upscale}
    segs = {"seg": segmenter} if segmenter is not None else {}
    results = score(original, truth, received, scale, ups, segs, desc=f"eval {sr_name}")
    return [row(m, r, "seg" if segmenter is not None else None) for m, r in results.items()]


# ----------------------------------------------------------------------------- the report

def shipped_models() -> tuple[dict[str, Segmenter], dict[int, dict[str, Path]], Path | None]:
    """The shipped segmenters (icnet, deeplabv3), the SR weights per scale (sr: before,
    sr_analytics: after analytics-aware fine-tuning) and the x4 model trained without the codec
    (None when not shipped); SystemExit naming what is missing."""
    segmenters = {"icnet": Segmenter("icnet"), "deeplabv3": Segmenter("deeplabv3_mobilenet_v3_large")}
    missing = [seg.model_name for seg in segmenters.values() if seg.untrained]
    sr_weights = {scale: {"sr": default_weights(name, "base"), "sr_analytics": default_weights(name)}
                  for scale, name in SR_MODELS.items()}
    missing += [f"{SR_MODELS[s]} ({m})" for s, ws in sr_weights.items() for m, w in ws.items() if w is None]
    if missing:
        raise SystemExit(f"no shipped weights for {', '.join(missing)}: train and ship them first")
    return segmenters, sr_weights, default_weights(SR_MODELS[CLOUDSEG_SCALE], "clean")


def build_report(test_data, drive_data, segmenters: dict[str, Segmenter], sr_weights: dict[int, dict[str, Path]],
                 clean_sr: Path | None, drive_every: int, runs: int, command: str) -> dict:
    """Every measurement of docs/cloudseg.json: ``segmenters`` has icnet and deeplabv3,
    ``sr_weights`` the sr and sr_analytics weights per scale (2, 4), ``clean_sr`` the x4 model
    trained without the codec (or None)."""
    icnet = {"icnet": segmenters["icnet"]}
    original, truth = test_data
    report = {
        "setup": {
            "command": command,
            "frames": {"test_split": len(original), "drive": len(drive_data[0]), "drive_scored_every": drive_every},
            "camera_size": list(original.shape[2:0:-1]), "fps": FPS, "gop": GOP,
            "encoder": "libx264 ultrafast zerolatency",
            "profiles": {"default": {"scale": 1, "bitrate": DEFAULT_BITRATE},
                         "cloudseg": {"scale": CLOUDSEG_SCALE, "bitrate": CLOUDSEG_BITRATE,
                                      "sr_model": SR_MODELS[CLOUDSEG_SCALE], "segmenter": "icnet", "lr_reuse": True}},
            "sr_weights": {f"{SR_MODELS[s]} {m}": w.name for s, ws in sr_weights.items() for m, w in ws.items()},
        },
    }
    original_scores = score(original, truth, original, 1, {"original": identity}, segmenters, desc="original")
    report["original_miou"] = original_scores["original"]["miou"]
    t1 = table1(test_data, segmenters, sr_weights, 1, "test")
    report["table1"], report["table1_deeplabv3"] = t1["icnet"], t1["deeplabv3"]
    report["bandwidth_curve"] = bandwidth_curve(test_data, segmenters["icnet"], sr_weights, 1, "test")
    report["drive"] = {
        "table1": table1(drive_data, icnet, sr_weights, drive_every, "drive")["icnet"],
        "bandwidth_curve": bandwidth_curve(drive_data, segmenters["icnet"], sr_weights, drive_every, "drive"),
    }
    report["lr_reuse"] = lr_reuse_rows(test_data, segmenters["icnet"], sr_weights[CLOUDSEG_SCALE]["sr_analytics"], runs)
    trained = {"h264": sr_weights[CLOUDSEG_SCALE]["sr"], **({"clean": clean_sr} if clean_sr else {})}
    report["sr_training_data"] = [
        {"trained_on": kind, **evaluate_sr(SR_MODELS[CLOUDSEG_SCALE], path, test_data, CLOUDSEG_BITRATE,
                                           segmenters["icnet"])[-1]}
        for kind, path in trained.items()]
    report["latency"] = latency(original[0], segmenters, sr_weights[CLOUDSEG_SCALE]["sr_analytics"], runs)
    report["goals"] = goals(report)
    return report


def write_report(report: dict, json_path: Path, markdown_path: Path, png_path: Path) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    plot_bandwidth_curve(report["bandwidth_curve"], png_path)
    markdown_path.write_text(markdown(report, png_path.name))


CURVE_STYLE = {"h264": ("black", "o"), "bilinear": ("tab:gray", "s"), "sr": ("tab:blue", "^"),
               "sr_analytics": ("tab:red", "D")}
CURVE_LABEL = {"h264": "full-resolution H.264", "bilinear": "bilinear", "sr": "SR (CARN-M)",
               "sr_analytics": "analytics-aware SR"}


def plot_bandwidth_curve(points: list[dict], path: Path) -> None:
    """Figure 5 of the paper: mIoU against bandwidth, one line per method and scale."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    for (method, scale) in dict.fromkeys((p["method"], p["scale"]) for p in points):
        line = sorted((p for p in points if p["method"] == method and p["scale"] == scale), key=lambda p: p["kbit_s"])
        colour, marker = CURVE_STYLE[method]
        label = CURVE_LABEL[method] + ("" if scale == 1 else f" x{scale}")
        ax.plot([p["kbit_s"] for p in line], [p["miou"] for p in line], color=colour, marker=marker,
                linestyle={1: "-", 2: "--", 4: "-"}[scale], alpha={1: 1.0, 2: 0.6, 4: 1.0}[scale], label=label)
    ax.set_xscale("log")
    ax.set_xlabel("bandwidth (kbit/s, H.264 packets at 30 fps)")
    ax.set_ylabel("mIoU (ICNet, 640x480)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Bandwidth vs accuracy: full resolution vs x2 / x4 with upscaling")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> list[str]:
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(str(r[key]) for key, _ in columns) + " |")
    return lines


def _setup_lines(report: dict) -> list[str]:
    """Title, what is measured and how."""
    setup = report["setup"]
    n, d = setup["frames"]["test_split"], setup["frames"]["drive"]
    w, h = setup["camera_size"]
    return [
        "# CloudSeg: low-resolution streaming with super-resolution",
        "",
        f"The robot can send its camera at a quarter of its width and height (profile `cloudseg`); the "
        f"cloud super-resolves each decoded frame back to {w}x{h} with CARN-M, segments it with ICNet "
        "(whose low-resolution branch takes the received frame itself) and returns labels at the camera's "
        "size. These measurements reproduce Table 1, Figure 5 and Table 2 of the CloudSeg paper (Wang et "
        "al., 2019) on generated frames:",
        "",
        f"    {setup['command']}",
        "",
        f"Frames: the first {n} images of the generated test split and {d} consecutive frames of the "
        f"generated drive the camera plays by default (seed 7; every {setup['frames']['drive_scored_every']}"
        f"nd frame scored), rendered at {w}x{h}. Each setting sends them as one {setup['fps']:.0f} fps "
        f"H.264 stream ({setup['encoder']}, a keyframe every {setup['gop']} frames; x2 / x4 downscaled first "
        "as the encoder node does), decodes them, upscales them to the camera's size and segments them "
        "there (each segmenter at its own input size, as the nodes run them). Bandwidth is the packets' "
        "bytes at 30 fps; PSNR and SSIM compare with the frames as rendered. The test split's images are "
        "unrelated scenes, so every frame of that stream is a scene cut: the drive is the realistic "
        "video, the test split the harder case.",
        "",
    ]


def _cost_lines(report: dict) -> list[str]:
    """Table 2 (time per frame), low-resolution reuse, the SR training data and the goals."""
    t1_cols = [("method", "method"), ("miou", "mIoU"), ("psnr", "PSNR (dB)"), ("ssim", "SSIM")]
    lat = report["latency"]
    return [
        "## Table 2: per-frame time",
        "",
        f"{lat['device']}; median of {lat['runs']} runs on a {lat['input']} frame upscaled to {lat['output']}. "
        "The machine was shared while timing (the load average is the 1-minute one; above 2 the "
        "times are inflated).",
        "",
        *_table(lat["rows"], [("pipeline", "pipeline"), ("sr_ms", "SR (ms)"), ("segmentation_ms", "segmentation (ms)"),
                              ("total_ms", "total (ms)"), ("fps", "fps"), ("load_average", "load")]),
        "",
        "## Low-resolution reuse (ICNet)",
        "",
        "The cloudseg path with ICNet's low-resolution branch fed the received x4 frame (`lr_reuse`) "
        "or a downsized copy of the super-resolved frame:",
        "",
        *_table(report["lr_reuse"], [("lr_reuse", "lr_reuse"), ("miou", "mIoU"),
                                     ("segmentation_ms", "segmentation (ms)"),
                                     ("load_average", "load")]),
        "",
        "## What the base SR model was trained on",
        "",
        "CARN-M x4 trained the same way on low-resolution frames that went through H.264 at 120 kbit/s, or "
        "that were only downscaled; both tested on the x4 stream at 120 kbit/s:",
        "",
        *_table(report["sr_training_data"], [("trained_on", "trained on"), *t1_cols[1:]]),
        "",
        "## Goals",
        "",
        *_table([{**g, "met": "yes" if g["met"] else "**no**"} for g in report["goals"]],
                [("goal", "goal"), ("measured", "measured"), ("met", "met")]),
        "",
    ]


def markdown(report: dict, png_name: str) -> str:
    setup = report["setup"]
    n, d = setup["frames"]["test_split"], setup["frames"]["drive"]
    t1_cols = [("method", "method"), ("miou", "mIoU"), ("psnr", "PSNR (dB)"), ("ssim", "SSIM")]
    curve_cols = [("method", "method"), ("scale", "scale"), ("kbit_s", "kbit/s"), ("miou", "mIoU")]
    lines = [
        *_setup_lines(report),
        "## Table 1: upscaling methods (x4, 120 kbit/s: the cloudseg profile)",
        "",
        f"ICNet on {n} test images; `hr` is the full-resolution stream at the default profile's 1.5 Mbit/s. "
        f"Without any codec ICNet scores {report['original_miou']['icnet']:.4f} "
        f"(DeepLabV3-MobileNetV3 {report['original_miou']['deeplabv3']:.4f}).",
        "",
        *_table(report["table1"], t1_cols),
        "",
        "The same with DeepLabV3-MobileNetV3 as the segmenter (the SR + DeepLabV3 path):",
        "",
        *_table(report["table1_deeplabv3"], t1_cols),
        "",
        f"On the drive ({d} frames):",
        "",
        *_table(report["drive"]["table1"], t1_cols),
        "",
        "## Figure 5: bandwidth vs mIoU",
        "",
        f"![bandwidth vs mIoU]({png_name})",
        "",
        f"ICNet on the {n} test images (`bandwidth_curve` in cloudseg.json; the drive's curve is "
        "`drive.bandwidth_curve`):",
        "",
        *_table(report["bandwidth_curve"], curve_cols),
        "",
        *_cost_lines(report),
    ]
    return "\n".join(lines)
