"""Pipeline benchmark: camera -> H.264 -> DDS -> decode -> segmentation, all as separate processes.

Prints JSON: per-stage latency (median/p95), codec+transport overhead beyond inference, H.264 vs
raw bandwidth, and pipeline output fps against the model's standalone fps on this machine.
With --edge it measures the on-robot path instead: camera -> edge_segmentation (ENet, its
configured size, threads and backend) against ENet alone. With --recorded the camera plays the
generated drive from an MP4 rendered beforehand (its `video` source), so it costs about what a
camera driver does rather than the scene renderer's ~45 % of a core at 640x480. With --profile
(e.g. cloudseg: low-resolution stream, super-resolution + ICNet in the cloud) it runs the default
profile and then that one, and puts their bandwidth, latency and live mIoU side by side.

    source scripts/env.sh && python benchmarks/bench_pipeline.py --duration 30 [--split-cores] [--edge] [--recorded]
    python benchmarks/bench_pipeline.py --profile cloudseg
"""
from __future__ import annotations

import argparse
import json
import os
import time
from functools import partial
from pathlib import Path

from seg_bringup.demo import run_demo, segmentation_model
from seg_bringup.graph import DEFAULT_PROFILE
from seg_bringup.runner import Host, parse_overrides


# The edge-to-cloud path alone (no on-robot fallback), so the cloud model is what is measured.
PIPELINE_NODES = ["camera", "h264_encoder", "h264_decoder", "segmentation"]
EDGE_NODES = ["camera", "edge_segmentation"]


def standalone_fps(model: dict, width: int, height: int, frames: int) -> dict:
    """The model alone (segmentation_model()'s description; with its super-resolution, on frames
    downscaled as the encoder sends them) on generated frames of the camera's size: the ceiling
    for the pipeline."""
    from seg_core.codec import resize_rgb, scaled_size
    from seg_core.models.inference import Segmenter
    from seg_core.models import sr_scale
    from seg_core.data.scene.sequences import DrivingSequence
    from seg_core.models.super_resolution import LowResSegmenter, SuperResolver
    seq = DrivingSequence(7, width, height)
    images = [seq.frame(i)[0] for i in range(8)]
    size = tuple(model["input_size"]) if model["input_size"] else None
    seg = Segmenter(model["model"], threads=model["threads"] or None, backend=model["backend"], input_size=size)
    predict = seg.predict
    if model.get("super_resolution"):
        scale = sr_scale(model["super_resolution"])
        images = [resize_rgb(rgb, *scaled_size(width, height, 1.0 / scale)) for rgb in images]
        pipeline = LowResSegmenter(seg, SuperResolver(model["super_resolution"], model["sr_weights"]).upscale,
                                   scale, model["lr_reuse"])
        predict = partial(pipeline.predict, target_size=(width, height))
    for rgb in images[:3]:
        predict(rgb)
    start = time.perf_counter()
    for i in range(frames):
        predict(images[i % len(images)])
    elapsed = time.perf_counter() - start
    return {"fps": round(frames / elapsed, 2), "ms_per_frame": round(1000 * elapsed / frames, 1),
            "input_size": list(seg.input_size), "frames": frames}


def record_drive(path: Path, width: int, height: int, rate: float, frames: int) -> Path:
    """The generated drive as an H.264 MP4 (near-lossless), for the camera's `video` source."""
    import av
    from seg_core.data.scene.sequences import DrivingSequence
    seq = DrivingSequence(7, width, height)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=round(rate), options={"crf": "12", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            if i % 100 == 0:
                print(f"bench: recording the drive {i}/{frames} frames ...", flush=True)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(seq.frame(i)[0], format="rgb24")))
        out.mux(stream.encode())
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--standalone-frames", type=int, default=60)
    parser.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE")
    parser.add_argument("--out", type=Path, default=Path("out/bench_pipeline"))
    parser.add_argument("--watch-overlay", action="store_true",
                        help="also subscribe to the overlay, as RViz would (default: labels only, as a planner)")
    parser.add_argument("--edge", action="store_true",
                        help="measure camera -> edge_segmentation (ENet) instead of the cloud path")
    parser.add_argument("--recorded", type=int, default=0, metavar="FRAMES",
                        help="play FRAMES of the drive from an MP4 rendered first (no ground truth, no mIoU)")
    parser.add_argument("--split-cores", action="store_true",
                        help="pin the segmentation node (and the standalone model) to the last CPU and "
                             "everything else to the others, as a cloud GPU would be the model's alone")
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help="also run this parameter profile (e.g. cloudseg) after the default one and compare")
    args = parser.parse_args()
    camera = [f"camera.width={args.width}", f"camera.height={args.height}", f"camera.rate={args.rate}"]
    if args.recorded:
        video = record_drive(args.out / "drive.mp4", args.width, args.height, args.rate, args.recorded)
        camera += ["camera.source=video", f"camera.uri={video.resolve()}"]
    overrides = parse_overrides([*camera, *args.set])
    profiles = list(dict.fromkeys([DEFAULT_PROFILE, args.profile]))
    results = {profile: run_profile(args, overrides, profile) for profile in profiles}
    if len(results) == 1:
        result = results[DEFAULT_PROFILE]
    else:
        result = {"profiles": results, "side_by_side": side_by_side(results)}
    (args.out / "bench.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def run_profile(args, overrides: dict, profile: str) -> dict:
    node, group = ("edge_segmentation", "edge") if args.edge else ("segmentation", "cloud")
    model = segmentation_model(overrides, node, group, profile)
    hosts = None
    if args.split_cores:
        cpus = sorted(os.sched_getaffinity(0))
        others, model_cpu = ["taskset", "-c", ",".join(map(str, cpus[:-1]))], ["taskset", "-c", str(cpus[-1])]
        hosts = {"edge": Host(others), "cloud": Host(others), node: Host(model_cpu)}
        os.sched_setaffinity(0, {cpus[-1]})
    print(f"bench: profile {profile}: model {model['model']} standalone ...", flush=True)
    alone = standalone_fps(model, args.width, args.height, args.standalone_frames)
    if args.split_cores:
        os.sched_setaffinity(0, set(cpus[:-1]))
    print(f"bench: standalone {alone['fps']} fps; running the pipeline for {args.duration:.0f} s ...", flush=True)
    out = args.out if profile == DEFAULT_PROFILE else args.out / profile
    summary = run_demo(args.duration, out, overrides, startup_timeout=180.0,
                       log=lambda line: print(line, flush=True), nodes=EDGE_NODES if args.edge else PIPELINE_NODES,
                       outputs=f"/{'edge' if args.edge else 'cloud'}/segmentation", hosts=hosts,
                       watch_overlay=args.watch_overlay, model=model, profile=profile)
    return {
        "config": {"width": args.width, "height": args.height, "rate": args.rate, "overrides": overrides,
                   "split_cores": args.split_cores, "watch_overlay": args.watch_overlay, "edge": args.edge,
                   "recorded_frames": args.recorded, "profile": profile, "load_average": os.getloadavg()[0]},
        "model": model,
        "standalone": alone,
        "pipeline": summary,
        "output_fps_vs_standalone": round(summary["output_fps"] / alone["fps"], 3),
    }


def side_by_side(results: dict[str, dict]) -> dict:
    """Bandwidth, end-to-end latency, output rate and live mIoU of each profile."""
    return {profile: {"h264_kbit_per_s": r["pipeline"]["bytes"]["h264_kbit_per_s"],
                      "end_to_end_median_ms": r["pipeline"]["end_to_end_latency"]["median_ms"],
                      "end_to_end_p95_ms": r["pipeline"]["end_to_end_latency"]["p95_ms"],
                      "output_fps": r["pipeline"]["output_fps"],
                      "standalone_fps": r["standalone"]["fps"],
                      "live_miou": r["pipeline"]["live_miou"]["miou"],
                      "frames_scored": r["pipeline"]["live_miou"]["frames_scored"]}
            for profile, r in results.items()}


if __name__ == "__main__":
    main()
