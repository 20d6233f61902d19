"""ONNX export, ONNX Runtime sessions and int8 static quantization."""
from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
OPSET = 17


def export_onnx(model: nn.Module, path: str | Path, size: tuple[int, int]) -> Path:
    """Export ``model`` (eval mode, fp32) for a fixed 1x3xHxW input of ``size`` = (w, h)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    example = torch.zeros(1, 3, h, w)
    model = model.float().eval().to(memory_format=torch.contiguous_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic being constant
        torch.onnx.export(
            model, (example,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            opset_version=OPSET, dynamo=False,
        )
    return path


def ort_session(path: str | Path, threads: int | None = None):
    """CPU ONNX Runtime session with full graph optimisation."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_input_size(session) -> tuple[int, int]:
    """(w, h) of the fixed input of an exported model."""
    shape = session.get_inputs()[0].shape
    return int(shape[3]), int(shape[2])


def max_abs_difference(model: nn.Module, onnx_path: str | Path, size: tuple[int, int], seed: int = 0) -> float:
    """Largest |torch - onnxruntime| logit difference on a random input of ``size``."""
    w, h = size
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        expected = model.float().eval()(x).numpy()
    got = ort_session(onnx_path).run(None, {INPUT_NAME: x.numpy()})[0]
    return float(np.abs(expected - got).max())


def quantize_int8(
    fp32_path: str | Path, out_path: str | Path, calibration: Iterable[np.ndarray]
) -> Path:
    """Static int8 quantization (QDQ, per-channel weights) calibrated on 1x3xHxW float arrays."""
    from onnxruntime.quantization import (
        CalibrationDataReader, QuantFormat, QuantType, quant_pre_process, quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(calibration)

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # no graph optimisation here: it would fold the unpooling zeros into large constants
        quant_pre_process(str(fp32_path), str(prepared), skip_optimization=True,
                          skip_symbolic_shape=True)
        quantize_static(
            str(prepared), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        )
    return out_path
