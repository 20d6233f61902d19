"""Segmentation models by name, checkpoints and shipped weights."""
from .registry import (
    DEFAULT_INPUT_SIZE,
    MANIFEST_PATH,
    MODEL_NAMES,
    WEIGHTS_DIR,
    WeightsError,
    apply_state_dict,
    backbone_prefixes,
    build_model,
    default_weights,
    head_prefixes,
    load_weights,
    read_checkpoint,
    save_checkpoint,
)

__all__ = [
    "DEFAULT_INPUT_SIZE",
    "MANIFEST_PATH",
    "MODEL_NAMES",
    "WEIGHTS_DIR",
    "WeightsError",
    "apply_state_dict",
    "backbone_prefixes",
    "build_model",
    "default_weights",
    "head_prefixes",
    "load_weights",
    "read_checkpoint",
    "save_checkpoint",
]
