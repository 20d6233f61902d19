"""Train, evaluate, export, optimise and ship the models: the command line over seg_core.training.

    python -m seg_core.train train --model enet --size 512 256 --steps 3000 --out out/enet.pt
    python -m seg_core.train eval --model enet --weights out/enet.pt --count 200
    python -m seg_core.train export-onnx --model enet --weights out/enet.pt --out out/enet.onnx
    python -m seg_core.train quantize --model enet --weights out/enet.pt --out out/enet.int8.onnx
    python -m seg_core.train prune --model enet --weights out/enet.pt --sparsity 0.7 --out out/enet.pruned.pt
    python -m seg_core.train ship --model enet --weights out/enet.pt
    python -m seg_core.train table
    python -m seg_core.train train-sr --model carn_m_x4 --channels 16 --patch 32 32 --out out/carn_m_x4.pt
    python -m seg_core.train train-sr --model carn_m_x4 --init out/carn_m_x4.pt --segmenter icnet \\
        --out out/carn_m_x4.tuned.pt
    python -m seg_core.train eval-sr --model carn_m_x4 --segmenter icnet
    python -m seg_core.train cloudseg
    python -m seg_core.train --threads 1 selector
    python -m seg_core.train --threads 1 ladder
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from seg_core.data.scene_cache import DEFAULT_CACHE_DIR
from seg_core.training import ladder, optimise, segmentation, selection, shipping, super_resolution

log = logging.getLogger("seg_core.train")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m seg_core.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR,
                    help="where generated scenes are rendered once and kept")
    sub = ap.add_subparsers(dest="command", required=True)
    for family in (segmentation, super_resolution, optimise, shipping, selection, ladder):
        family.add_commands(sub)
    return ap


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    start = time.perf_counter()
    args.func(args)
    log.info("%s done in %.0f s", args.command, time.perf_counter() - start)


if __name__ == "__main__":
    main()
