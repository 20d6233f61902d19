"""Cost measurements shared by the CLI and tests: parameters, FLOPs, latency, sizes and digests of files."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, size: tuple[int, int]) -> int:
    """FLOPs (multiply and add counted separately) of one forward pass on a 1x3xHxW input."""
    w, h = size
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model.eval()(torch.zeros(1, 3, h, w))
    return counter.get_total_flops()


def median_latency_ms(fn: Callable[[], object], runs: int = 30, warmup: int = 5) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def latency_and_load(fn: Callable[[], object], runs: int = 30, warmup: int = 5) -> tuple[float, float]:
    """Median wall time of ``fn()`` in milliseconds, and the highest 1-minute load average seen
    meanwhile (timings taken at a load above the core count are inflated)."""
    load = os.getloadavg()[0]
    ms = median_latency_ms(fn, runs, warmup)
    return ms, max(load, os.getloadavg()[0])


def gzip_size(data: bytes | Path) -> int:
    """Size in bytes after gzip -9 (a file's bytes, or the given bytes)."""
    if isinstance(data, Path):
        data = data.read_bytes()
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def state_dict_bytes(state_dict: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    return buffer.getvalue()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
