"""H.264 codec benchmark: encode/decode latency, frames held, size and bitrate per rate-control setting.

Prints JSON. Frames come from the generated driving scene (seg_core.data.scene) when it is available,
otherwise from a synthetic moving pattern; --source picks one explicitly.

    PYTHONPATH=src/seg_core python benchmarks/bench_codec.py --frames 300
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from seg_core.codec import EncoderConfig, H264Decoder, H264Encoder
from seg_core.training.metrics import psnr


def scene_frames(count: int, width: int, height: int, seed: int) -> list[np.ndarray]:
    from seg_core.data.scene.sequences import DrivingSequence
    seq = DrivingSequence(seed, width, height)
    return [seq.frame(i % len(seq))[0] for i in range(count)]


def pattern_frames(count: int, width: int, height: int) -> list[np.ndarray]:
    """Scrolling colour gradients with a moving box and a moving disc."""
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(count):
        rgb = np.stack(
            [(x + 4 * i) % 256, (y + 2 * i) % 256, ((x + y) // 4 + 3 * i) % 256], axis=-1
        ).astype(np.uint8)
        left = (40 + 9 * i) % max(width - 100, 1)
        rgb[height // 4:height // 4 + 100, left:left + 100] = (230, 40, 40)
        cx, cy = (width - 60 - 7 * i) % width, height * 2 // 3
        rgb[(x - cx) ** 2 + (y - cy) ** 2 < 50 ** 2] = (20, 200, 60)
        frames.append(rgb)
    return frames


def scene_import_error() -> str | None:
    try:
        from seg_core.data.scene.sequences import DrivingSequence  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


def percentiles_ms(seconds: list[float]) -> dict:
    ms = np.array(seconds) * 1000.0
    return {"median": round(float(np.median(ms)), 3), "p95": round(float(np.percentile(ms, 95)), 3)}


def run(frames: list[np.ndarray], encoder: H264Encoder) -> dict:
    """Encode and decode every frame once, timing each call."""
    config, width, height = encoder.config, encoder.width, encoder.height
    decoder = H264Decoder()
    encode_s, decode_s, sizes, key_sizes, quality = [], [], [], [], []
    frames_held = 0
    for index, rgb in enumerate(frames):
        start = time.perf_counter()
        packet = encoder.encode(rgb)
        encode_s.append(time.perf_counter() - start)
        frames_held = max(frames_held, index - packet.pts)
        start = time.perf_counter()
        out = decoder.decode(packet.data, packet.keyframe, packet.pts)
        decode_s.append(time.perf_counter() - start)
        quality.append(psnr(out, rgb))
        sizes.append(len(packet.data))
        if packet.keyframe:
            key_sizes.append(len(packet.data))
    mean_bytes = float(np.mean(sizes))
    return {
        "codec": encoder.codec_name,
        "rate_control": f"bitrate {config.bitrate}" if config.bitrate else f"crf {config.crf}",
        "encode_ms": percentiles_ms(encode_s),
        "decode_ms": percentiles_ms(decode_s),
        "frames_held": frames_held,
        "bytes_per_frame": round(mean_bytes),
        "keyframe_bytes": round(float(np.mean(key_sizes))),
        "bitrate_kbps": round(mean_bytes * 8 * config.fps / 1000, 1),
        "compression_ratio": round(width * height * 3 / mean_bytes, 1),
        "psnr_db": round(float(np.mean(quality)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--gop", type=int, default=30)
    parser.add_argument("--crf", type=float, default=23)
    parser.add_argument("--bitrates", type=int, nargs="*", default=[500_000, 1_000_000, 2_000_000, 4_000_000],
                        help="bits/s; each is run after the crf run")
    parser.add_argument("--preset", default="ultrafast")
    parser.add_argument("--tune", default="zerolatency")
    parser.add_argument("--codec", default="libx264")
    parser.add_argument("--source", choices=("pattern", "scene"),
                        help="default: scene when seg_core.data.scene is importable, else pattern")
    parser.add_argument("--seed", type=int, default=0, help="scene seed")
    args = parser.parse_args()
    if args.frames < 1:
        parser.error("--frames must be >= 1")

    scene_error = scene_import_error()
    source = args.source or ("pattern" if scene_error else "scene")
    if source == "scene" and scene_error:
        parser.error(f"--source scene needs DrivingSequence, which cannot be imported: {scene_error}")
    settings = dict(codec=args.codec, crf=args.crf, gop=args.gop, preset=args.preset, tune=args.tune, fps=args.fps)
    try:
        encoders = [H264Encoder(args.width, args.height, EncoderConfig(bitrate=bitrate, **settings))
                    for bitrate in [0, *args.bitrates]]
    except ValueError as exc:
        parser.error(str(exc))

    if source == "scene":
        frames = scene_frames(args.frames, args.width, args.height, args.seed)
    else:
        frames = pattern_frames(args.frames, args.width, args.height)
    result = {
        "source": source,
        "width": args.width,
        "height": args.height,
        "fps": args.fps,
        "frames": args.frames,
        "gop": args.gop,
        "preset": args.preset,
        "tune": args.tune,
        "raw_rgb8_bytes_per_frame": args.width * args.height * 3,
        "raw_rgb8_kbps": round(args.width * args.height * 3 * 8 * args.fps / 1000, 1),
        "runs": [run(frames, encoder) for encoder in encoders],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
