"""`ladder`: the (scale, bitrate, fps) rungs the edge adapts among, measured as AWStream profiles
them offline. Writes src/seg_core/seg_core/edge/ladder.yaml and docs/ladder.json:

    python -m seg_core.train --threads 1 ladder

Every candidate sends the generated drive through the edge encoder's H.264 at its scale, bitrate
and frame rate (every 2nd camera frame at 15 fps), upscales the decoded frames to the camera's
size (bilinear) and segments them with the cloud's model; a camera frame that was not sent gets the
labels of the last one that was. mIoU is over the scored camera frames, kbit/s the packet bytes over
the drive's duration; the frames as rendered, segmented without the codec, are the reference.
The ladder is the Pareto-optimal candidates, thinned to a few rungs evenly spaced in kbit/s.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from seg_core.data.drives import drive_frames
from seg_core.edge.adaptation import Rung, pareto
from seg_core.models.inference import Segmenter
from seg_core.models.super_resolution import interpolation_upscaler
from seg_core.training import cloudseg
from seg_core.training.arguments import drive_args, image_size_arg
from seg_core.training.loop import command_line

CLOUD_MODEL = "deeplabv3_mobilenet_v3_large"
# Bitrates (bit/s) tried at each scale: those a frame of that size can use.
CANDIDATES = {1.0: (1_500_000, 800_000, 400_000, 200_000), 0.5: (800_000, 400_000, 200_000, 100_000),
              0.25: (400_000, 200_000, 100_000, 50_000)}
FRAME_RATES = (30.0, 15.0)
SAME_RATE = 1.05  # candidates within 5 % of a rate fit it: the encoder lands a few % off its bitrate


def measure(original: np.ndarray, truth: np.ndarray, scale: float, bitrate: int, fps: float,
            segmenter: Segmenter, every: int) -> dict:
    """One candidate on ``original`` (30 fps camera frames): kbit/s sent, and mIoU, PSNR and SSIM
    of what the cloud makes of it on every ``every``-th camera frame."""
    step, factor = round(cloudseg.FPS / fps), round(1.0 / scale)
    received, kbps = cloudseg.stream(original[::step], factor, bitrate, fps)
    held = received[np.arange(len(original)) // step]  # the last frame sent before each camera frame
    name = f"x{factor}_{bitrate // 1000}k_{fps:g}fps"
    result = cloudseg.score(original, truth, held, factor, {"bilinear": interpolation_upscaler("bilinear")},
                            {"seg": segmenter}, every=every, desc=name)["bilinear"]
    return {"name": name, "scale": scale, "bitrate": bitrate, "fps": fps, "kbps": round(kbps, 1),
            "miou": result["miou"]["seg"], "psnr": result["psnr"], "ssim": result["ssim"]}


def choose(front: list[Rung], count: int, min_kbps: float) -> list[Rung]:
    """Up to ``count`` rungs of the Pareto front ``front`` (best first): for ``count`` rates spaced
    evenly in log kbit/s from the best rung down to the cheapest sending at least ``min_kbps``, the
    best rung that fits in each."""
    usable = [r for r in front if r.kbps >= min_kbps] or front[-1:]
    top, bottom = usable[0].kbps, usable[-1].kbps
    targets = [top * (bottom / top) ** (k / max(count - 1, 1)) for k in range(count)]
    return pareto({next((r for r in usable if r.kbps <= x * SAME_RATE), usable[-1]) for x in targets})


def write_ladder(rungs: list[Rung], path: Path, command: str) -> None:
    header = (f"# The rungs the edge adapts among, best first (seg_core.edge.adaptation.load_ladder).\n"
              f"# Measured on {time.strftime('%Y-%m-%d')} with: {command}\n"
              "# kbps: H.264 packets on the link; miou: the cloud model's on every camera frame (docs/ladder.json).\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump({"rungs": [asdict(r) for r in rungs]}, sort_keys=False))


def cmd_ladder(args) -> None:
    torch.set_num_threads(args.threads)
    segmenter = Segmenter(CLOUD_MODEL, threads=args.threads)
    if segmenter.untrained:
        raise SystemExit(f"no shipped weights for {CLOUD_MODEL}: train and ship them first")
    original, truth = drive_frames(args.drive_seed, args.drive_frames, tuple(args.image_size), args.sr_cache)
    settings = [(s, b, f) for s, bitrates in CANDIDATES.items() for b in bitrates for f in FRAME_RATES]
    measured = [measure(original, truth, s, b, f, segmenter, args.every)
                for s, b, f in tqdm(settings, desc="ladder candidates", dynamic_ncols=True)]
    no_codec = cloudseg.score(original, truth, original, 1, {"frames": cloudseg.identity}, {"seg": segmenter},
                              every=args.every, desc="without the codec")["frames"]["miou"]["seg"]
    keys = [f.name for f in fields(Rung)]
    front = pareto(Rung(**{k: m[k] for k in keys}) for m in measured)
    rungs = choose(front, args.rungs, args.min_kbps)
    command = command_line()
    write_ladder(rungs, Path(args.out), command)
    report = {
        "setup": {"command": command, "date": time.strftime("%Y-%m-%d"), "drive_seed": args.drive_seed,
                  "frames": len(original), "scored_every": args.every, "camera_size": list(args.image_size),
                  "camera_fps": cloudseg.FPS, "gop": cloudseg.GOP, "segmenter": CLOUD_MODEL,
                  "input_size": list(segmenter.input_size), "upscaling": "bilinear",
                  "encoder": "libx264 ultrafast zerolatency"},
        "no_codec_miou": no_codec,
        "candidates": measured,
        "pareto": [r.name for r in front],
        "ladder": [asdict(r) for r in rungs],
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    for r in rungs:
        print(f"{r.name}: {r.kbps:.0f} kbit/s, mIoU {r.miou:.4f}")
    print(f"the frames as rendered, without the codec: mIoU {no_codec:.4f}\nwrote {args.out} and {args.json}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommand to the CLI."""
    p = sub.add_parser("ladder", help="measure kbit/s and mIoU of (scale, bitrate, fps) candidates and write "
                                      "the Pareto-optimal ladder the edge adapts among")
    image_size_arg(p)
    drive_args(p)
    p.add_argument("--every", type=int, default=3,
                   help="score every K-th camera frame (odd, so 15 fps scores sent and held frames alike)")
    p.add_argument("--rungs", type=int, default=5, help="rungs kept from the Pareto-optimal candidates")
    p.add_argument("--min-kbps", type=float, default=50.0, help="the lowest rung sends at least this")
    p.add_argument("--out", default="src/seg_core/seg_core/edge/ladder.yaml")
    p.add_argument("--json", default="docs/ladder.json")
    p.set_defaults(func=cmd_ladder)
