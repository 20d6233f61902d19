"""`train-sr`, `eval-sr` and `cloudseg`: the super-resolution models and the CloudSeg report."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from seg_core.data.classes import IGNORE_ID, NUM_CLASSES
from seg_core.data.drives import (
    DEFAULT_SR_CACHE, TRAIN_DRIVE_SEED, VAL_DRIVE_SEED, SRPairs, drive_frames, low_res_frames,
)
from seg_core.data.transforms import to_rgb8, to_unit_tensor
from seg_core.models import (
    DEFAULT_INPUT_SIZE, MODEL_NAMES, SR_DEFAULT_CHANNELS, SR_MODEL_NAMES, build_sr_model, default_weights,
    load_sr_model, save_checkpoint, sr_scale,
)
from seg_core.models.inference import Segmenter
from seg_core.models.super_resolution import segmenter_logits
from seg_core.training import cloudseg
from seg_core.training.arguments import add_optimisation_args, drive_args, image_size_arg
from seg_core.training.evaluation import CAMERA_SIZE, test_images
from seg_core.training.loop import command_line, fit, load_frozen, seed_everything
from seg_core.training.losses import analytics_sr_loss, sr_loss, ssim
from seg_core.training.metrics import ConfusionMatrix, psnr

log = logging.getLogger(__name__)


def sr_drive_data(args, seeds: list[int], every: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low-resolution, high-resolution, labels) frames of generated drives at ``--size``, every
    ``every``-th frame; the low-resolution ones were sent the way ``--lr-data`` says."""
    bitrate = args.bitrate if args.lr_data == "h264" else None
    kept = len(range(0, args.drive_frames, every))
    arrays = None
    for k, seed in enumerate(tqdm(seeds, desc=f"drives ({args.lr_data})", dynamic_ncols=True)):
        hr, labels = drive_frames(seed, args.drive_frames, tuple(args.size), args.sr_cache)
        lr, _ = low_res_frames(hr, sr_scale(args.model), bitrate)
        parts = (lr[::every], hr[::every], labels[::every])
        if arrays is None:  # filled in place: the rendered drives are far larger than what is kept
            arrays = tuple(np.empty((kept * len(seeds), *a.shape[1:]), a.dtype) for a in parts)
        for out, part in zip(arrays, parts):
            out[k * kept:(k + 1) * kept] = part
    return arrays


def sr_validation(model: nn.Module, lr: np.ndarray, hr: np.ndarray, labels: np.ndarray,
                  segmenter: nn.Module | None, segmenter_size: tuple[int, int] | None,
                  batch: int = 4) -> dict[str, float]:
    """Mean PSNR and SSIM of the model's (8-bit) output, and the segmenter's mIoU on it."""
    psnrs, ssims, cm = [], [], ConfusionMatrix(NUM_CLASSES, IGNORE_ID)
    with torch.inference_mode():
        for i in range(0, len(lr), batch):
            x = torch.stack([to_unit_tensor(f) for f in lr[i:i + batch]])
            sr = [to_rgb8(f) for f in model(x.contiguous(memory_format=torch.channels_last))]
            for out, ref in zip(sr, hr[i:i + batch]):
                psnrs.append(psnr(out, ref))
                ssims.append(ssim(to_unit_tensor(out)[None], to_unit_tensor(ref)[None]).item())
            if segmenter is not None:
                x = torch.stack([to_unit_tensor(f) for f in sr])
                cm.update(segmenter_logits(segmenter, x, segmenter_size).argmax(1).numpy(), labels[i:i + batch])
    metrics = {"val_psnr": float(np.mean(psnrs)), "val_ssim": float(np.mean(ssims))}
    return {**metrics, "val_miou": cm.miou()} if segmenter is not None else metrics


def cmd_train_sr(args) -> None:
    """Base SR training (L1 + SSIM) or, with --segmenter, analytics-aware fine-tuning."""
    seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    if args.init:
        model, init_meta = load_sr_model(args.model, args.init)
        if args.channels not in (None, model.channels):
            raise SystemExit(f"--channels {args.channels} differs from {args.init} ({model.channels})")
    else:
        model = build_sr_model(args.model, args.channels or SR_DEFAULT_CHANNELS)
    segmenter, segmenter_size = None, None
    if args.segmenter:
        segmenter, meta = load_frozen(args.segmenter, args.segmenter_weights, "--segmenter")
        segmenter_size = tuple(meta.get("input_size") or DEFAULT_INPUT_SIZE)
    lr, hr, labels = sr_drive_data(args, [TRAIN_DRIVE_SEED + k for k in range(args.drives)], args.every)
    train_set = SRPairs(lr, hr, model.scale, args.patch, labels if segmenter is not None else None)
    val = sr_drive_data(args, [VAL_DRIVE_SEED], max(1, args.drive_frames // args.eval_count))
    log.info("%d training pairs %dx%d -> %dx%d (%s)", len(train_set), lr.shape[2], lr.shape[1],
             hr.shape[2], hr.shape[1], args.lr_data)

    def step_loss(batch):
        lr_x, hr_x = (t.contiguous(memory_format=torch.channels_last) for t in batch[:2])
        sr = model(lr_x)
        if segmenter is None:
            return sr_loss(sr, hr_x, args.ssim_weight)
        with torch.no_grad():
            hr_logits = segmenter_logits(segmenter, hr_x, segmenter_size)
        return analytics_sr_loss(segmenter_logits(segmenter, sr, segmenter_size), hr_logits, batch[2], sr,
                                 hr_x, args.ce_weight, args.pixel_weight)

    out = Path(args.out)
    history = fit(args, model, train_set, step_loss,
                  lambda: sr_validation(model, *val, segmenter, segmenter_size), out.with_suffix(".state.pt"),
                  args.resume)
    previous = init_meta.get("command") if args.init else None
    commands = ([previous] if isinstance(previous, str) else list(previous or [])) + [command_line()]
    save_checkpoint(
        model, out, args.model, None, fp16=args.fp16, channels=model.channels, scale=model.scale,
        hr_size=list(args.size), command=commands if len(commands) > 1 else commands[0],
        lr_data={"kind": args.lr_data, "bitrate": args.bitrate if args.lr_data == "h264" else None,
                 "fps": 30.0, "gop": 30},
        segmenter=args.segmenter, history=history,
        data={"source": "generated drives", "train_seeds": [TRAIN_DRIVE_SEED, TRAIN_DRIVE_SEED + args.drives - 1],
              "frames_per_drive": args.drive_frames, "every": args.every, "val_seed": VAL_DRIVE_SEED},
    )
    print(f"wrote {out}")


def cmd_eval_sr(args) -> None:
    torch.set_num_threads(args.threads)
    weights = args.weights or default_weights(args.model, args.variant)
    segmenter = Segmenter(args.segmenter) if args.segmenter else None
    bitrate = None if args.lr_data == "clean" else args.bitrate
    rows = cloudseg.evaluate_sr(args.model, weights, test_images(args), bitrate, segmenter)
    sent = "downscaled only" if bitrate is None else f"through H.264 at {bitrate / 1000:g} kbit/s"
    print(f"{args.count} test images at {args.image_size[0]}x{args.image_size[1]}, sent at 1/{sr_scale(args.model)} "
          f"{sent}; {weights}")
    for r in rows:
        print("  ".join(f"{k} {v}" for k, v in r.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


def cmd_cloudseg(args) -> None:
    torch.set_num_threads(args.threads)
    segmenters, sr_weights, clean_sr = cloudseg.shipped_models()
    test = test_images(args)
    drive = drive_frames(args.drive_seed, args.drive_frames, tuple(args.image_size), args.sr_cache)
    report = cloudseg.build_report(test, drive, segmenters, sr_weights, clean_sr, args.drive_every, args.runs,
                                   command_line())
    cloudseg.write_report(report, Path(args.json), Path(args.markdown), Path(args.png))
    for goal in report["goals"]:
        print(f"{'met' if goal['met'] else 'NOT MET'}: {goal['goal']}: {goal['measured']}")
    print(f"wrote {args.markdown}, {args.json} and {args.png}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the CLI."""
    p = sub.add_parser("train-sr", help="train a super-resolution model (CARN) on generated drives; "
                                        "with --segmenter, analytics-aware fine-tuning")
    p.add_argument("--model", choices=SR_MODEL_NAMES, required=True)
    p.add_argument("--channels", type=int,
                   help=f"feature width (default: --init's, else {SR_DEFAULT_CHANNELS} as in the paper)")
    p.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), default=list(CAMERA_SIZE),
                   help="high-resolution (camera) frame size")
    p.add_argument("--lr-data", choices=("h264", "clean"), default="h264",
                   help="low-resolution inputs: through the H.264 codec at --bitrate, or downscaled only")
    p.add_argument("--bitrate", type=int, default=120_000, help="bits/s of the low-resolution stream (30 fps)")
    p.add_argument("--drives", type=int, default=16, help="generated training drives")
    p.add_argument("--drive-frames", type=int, default=240, help="consecutive frames per drive (30 fps)")
    p.add_argument("--every", type=int, default=2, help="train on every K-th frame of a drive")
    p.add_argument("--sr-cache", type=Path, default=DEFAULT_SR_CACHE, help="where rendered drives are kept")
    p.add_argument("--patch", type=int, nargs=2, metavar=("W", "H"),
                   help="random crop in low-resolution pixels (default: whole frames)")
    p.add_argument("--ssim-weight", type=float, default=0.84, help="pixel loss = (1-w) L1 + w (1-SSIM)")
    p.add_argument("--segmenter", choices=MODEL_NAMES,
                   help="analytics-aware fine-tuning with this frozen segmenter in the loop")
    p.add_argument("--segmenter-weights", help="its checkpoint (default: its shipped weights)")
    p.add_argument("--ce-weight", type=float, default=0.5, help="weight of cross-entropy on the SR frame")
    p.add_argument("--pixel-weight", type=float, default=1.0, help="weight of the pixel loss when fine-tuning")
    p.add_argument("--init", help="start from these SR weights (e.g. the base model to fine-tune)")
    p.add_argument("--resume", help="training state (<out>.state.pt) to continue from")
    add_optimisation_args(p, steps=4000, lr=1e-3, weight_decay=0.0)
    p.add_argument("--workers", type=int, default=0, help="data loader processes")
    p.set_defaults(func=cmd_train_sr)

    p = sub.add_parser("eval-sr", help="PSNR, SSIM (and mIoU) of an SR model against bilinear and bicubic")
    p.add_argument("--model", choices=SR_MODEL_NAMES, required=True)
    p.add_argument("--weights", help="checkpoint (default: the shipped weights)")
    p.add_argument("--variant", help="shipped variant (e.g. base: before analytics-aware fine-tuning)")
    p.add_argument("--lr-data", choices=("h264", "clean"), default="h264")
    p.add_argument("--bitrate", type=int, default=cloudseg.CLOUDSEG_BITRATE, help="bits/s at 30 fps")
    p.add_argument("--segmenter", choices=MODEL_NAMES, help="also score this segmenter's mIoU on the upscaled images")
    p.add_argument("--count", type=int, default=200)
    image_size_arg(p)
    p.add_argument("--json", help="write the rows here")
    p.set_defaults(func=cmd_eval_sr)

    p = sub.add_parser("cloudseg", help="write docs/cloudseg.{md,json} and docs/cloudseg_bandwidth_miou.png")
    p.add_argument("--count", type=int, default=200, help="generated test images")
    image_size_arg(p)
    drive_args(p)
    p.add_argument("--drive-every", type=int, default=2, help="score every K-th drive frame")
    p.add_argument("--runs", type=int, default=30, help="timed runs per latency figure")
    p.add_argument("--markdown", default="docs/cloudseg.md")
    p.add_argument("--json", default="docs/cloudseg.json")
    p.add_argument("--png", default="docs/cloudseg_bandwidth_miou.png")
    p.set_defaults(func=cmd_cloudseg)
