"""Pipeline benchmark: camera -> H.264 -> DDS -> decode -> segmentation, all as separate processes.

Prints JSON: per-stage latency (median/p95), codec+transport overhead beyond inference, H.264 vs
raw bandwidth, and pipeline output fps against the model's standalone fps on this machine.
With --edge it measures the on-robot path instead: camera -> edge_segmentation (ENet, its
configured size, threads and backend) against ENet alone. With --recorded the camera plays the
generated drive from an MP4 rendered beforehand (its `video` source), so it costs about what a
camera driver does rather than the scene renderer's ~45 % of a core at 640x480.

    source scripts/env.sh && python benchmarks/bench_pipeline.py --duration 30 [--split-cores] [--edge] [--recorded]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from seg_bringup.demo import run_demo, segmentation_model
from seg_bringup.runner import Host, parse_overrides


# The edge-to-cloud path alone (no on-robot fallback), so the cloud model is what is measured.
PIPELINE_NODES = ["camera", "h264_encoder", "h264_decoder", "segmentation"]
EDGE_NODES = ["camera", "edge_segmentation"]


def standalone_fps(model: str, width: int, height: int, frames: int, threads: int | None,
                   backend: str = "torch", input_size: list[int] | None = None) -> dict:
    """The model alone on generated frames of the camera's size: the ceiling for the pipeline."""
    from seg_core.inference import Segmenter
    from seg_core.scene import DrivingSequence
    seq = DrivingSequence(7, width, height)
    images = [seq.frame(i)[0] for i in range(8)]
    seg = Segmenter(model, threads=threads, backend=backend, input_size=tuple(input_size) if input_size else None)
    for rgb in images[:3]:
        seg.predict(rgb)
    start = time.perf_counter()
    for i in range(frames):
        seg.predict(images[i % len(images)])
    elapsed = time.perf_counter() - start
    return {"fps": round(frames / elapsed, 2), "ms_per_frame": round(1000 * elapsed / frames, 1),
            "input_size": list(seg.input_size), "frames": frames}


def record_drive(path: Path, width: int, height: int, rate: float, frames: int) -> Path:
    """The generated drive as an H.264 MP4 (near-lossless), for the camera's `video` source."""
    import av
    from seg_core.scene import DrivingSequence
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
    args = parser.parse_args()
    camera = [f"camera.width={args.width}", f"camera.height={args.height}", f"camera.rate={args.rate}"]
    if args.recorded:
        video = record_drive(args.out / "drive.mp4", args.width, args.height, args.rate, args.recorded)
        camera += ["camera.source=video", f"camera.uri={video.resolve()}"]
    overrides = parse_overrides([*camera, *args.set])
    node, group = ("edge_segmentation", "edge") if args.edge else ("segmentation", "cloud")
    model = segmentation_model(overrides, node, group)
    hosts = None
    if args.split_cores:
        cpus = sorted(os.sched_getaffinity(0))
        others, model_cpu = ["taskset", "-c", ",".join(map(str, cpus[:-1]))], ["taskset", "-c", str(cpus[-1])]
        hosts = {"edge": Host(others), "cloud": Host(others), node: Host(model_cpu)}
        os.sched_setaffinity(0, {cpus[-1]})
    print(f"bench: model {model['model']} standalone ...", flush=True)
    alone = standalone_fps(model["model"], args.width, args.height, args.standalone_frames,
                           model["threads"] or None, model["backend"], model["input_size"])
    if args.split_cores:
        os.sched_setaffinity(0, set(cpus[:-1]))
    print(f"bench: standalone {alone['fps']} fps; running the pipeline for {args.duration:.0f} s ...", flush=True)
    summary = run_demo(args.duration, args.out, overrides, startup_timeout=180.0,
                       log=lambda line: print(line, flush=True), nodes=EDGE_NODES if args.edge else PIPELINE_NODES,
                       outputs=f"/{'edge' if args.edge else 'cloud'}/segmentation", hosts=hosts,
                       watch_overlay=args.watch_overlay, model=model)
    result = {
        "config": {"width": args.width, "height": args.height, "rate": args.rate, "overrides": overrides,
                   "split_cores": args.split_cores, "watch_overlay": args.watch_overlay, "edge": args.edge,
                   "recorded_frames": args.recorded},
        "model": model,
        "standalone": alone,
        "pipeline": summary,
        "output_fps_vs_standalone": round(summary["output_fps"] / alone["fps"], 3),
    }
    (args.out / "bench.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
