"""Model registry: build models by name, read/write checkpoints and find shipped weights.

Segmentation models (MODEL_NAMES) map an image to class logits; super-resolution models
(SR_MODEL_NAMES) map an image in [0, 1] to one ``scale`` times larger. Both kinds ship weights
in WEIGHTS_DIR as <name>.pt.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from seg_core.data.classes import NUM_CLASSES
from seg_core.models.carn import CARN
from seg_core.models.enet import ENet

MODEL_NAMES = ("deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50", "enet", "icnet")
# name -> (scale, mobile): CARN and CARN-M at x2 and x4
_SR_MODELS = {"carn_x2": (2, False), "carn_x4": (4, False), "carn_m_x2": (2, True), "carn_m_x4": (4, True)}
SR_MODEL_NAMES = tuple(_SR_MODELS)
SR_DEFAULT_CHANNELS = 64  # the CARN paper's width
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
MANIFEST_PATH = WEIGHTS_DIR / "manifest.json"
# Width x height a model runs at when neither the caller nor a checkpoint says otherwise.
DEFAULT_INPUT_SIZE = (512, 256)


class WeightsError(RuntimeError):
    """A weights file is missing, unreadable or does not fit the model."""


class DeepLabV3Logits(nn.Module):
    """torchvision DeepLabV3 returning the logits tensor instead of a dict.

    The backbone and classifier are registered under torchvision's own names, so official
    torchvision checkpoints (minus ``aux_classifier.*``) load without renaming keys.
    """

    def __init__(self, torchvision_model: nn.Module):
        super().__init__()
        self.backbone = torchvision_model.backbone
        self.classifier = torchvision_model.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(self.backbone(x)["out"])
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


def build_model(name: str, num_classes: int = NUM_CLASSES) -> nn.Module:
    """Randomly initialised model whose forward maps N x 3 x H x W to N x C x H x W logits."""
    # torchvision (and ICNet, built on its MobileNetV3) is imported only for the models that need
    # it: its import costs seconds, which an ENet-only process need not pay at every start.
    if name.startswith("deeplabv3_"):
        from torchvision.models import segmentation
    if name == "deeplabv3_mobilenet_v3_large":
        tv = segmentation.deeplabv3_mobilenet_v3_large(
            weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=False
        )
        return DeepLabV3Logits(tv)
    if name == "deeplabv3_resnet50":
        tv = segmentation.deeplabv3_resnet50(
            weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=False
        )
        return DeepLabV3Logits(tv)
    if name == "enet":
        return ENet(num_classes)
    if name == "icnet":
        from seg_core.models.icnet import ICNet
        return ICNet(num_classes)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def _sr_spec(name: str) -> tuple[int, bool]:
    if name not in _SR_MODELS:
        raise ValueError(f"unknown super-resolution model {name!r}; choose one of {', '.join(SR_MODEL_NAMES)}")
    return _SR_MODELS[name]


def build_sr_model(name: str, channels: int = SR_DEFAULT_CHANNELS) -> CARN:
    """Randomly initialised super-resolution model (close to bilinear upsampling until trained)."""
    scale, mobile = _sr_spec(name)
    return CARN(scale, channels, mobile)


def sr_scale(name: str) -> int:
    """The upscaling factor of a super-resolution model."""
    return _sr_spec(name)[0]


def load_sr_model(name: str, path: str | Path) -> tuple[CARN, dict[str, Any]]:
    """Build ``name`` at the width its checkpoint ``path`` records and load the weights."""
    state_dict, meta = read_checkpoint(path)
    if meta.get("model", name) != name:
        raise WeightsError(f"{path} holds {meta['model']!r} weights, not {name!r}")
    model = build_sr_model(name, int(meta.get("channels", SR_DEFAULT_CHANNELS)))
    apply_state_dict(model, state_dict, source=str(path))
    return model.eval(), meta


def head_prefixes(name: str) -> tuple[str, ...]:
    """State-dict key prefixes of the layers whose shape depends on the class count."""
    return {
        "deeplabv3_mobilenet_v3_large": ("classifier.4.",),
        "deeplabv3_resnet50": ("classifier.4.",),
        "enet": ("fullconv.",),
        "icnet": ("classifier.",),
    }[name]


def backbone_prefixes(name: str) -> tuple[str, ...]:
    """State-dict key prefixes of the feature extractor (what --freeze-backbone freezes)."""
    return {
        "deeplabv3_mobilenet_v3_large": ("backbone.",),
        "deeplabv3_resnet50": ("backbone.",),
        "enet": ("initial.", "down1.", "stage1.", "down2.", "stage2.", "stage3."),
        "icnet": ("mid.", "low.", "high."),
    }[name]


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return (state_dict, metadata) from a bare state dict or a {"state_dict": ...} checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt, foreign or unsafe files
        text = str(exc)
        found = re.search(r"(?:unsupported|Unsupported global:) (GLOBAL [^ ]+)", text)
        if found:  # a pickle that would import and call Python code
            raise WeightsError(f"refused to load {path}: it holds Python objects, not only tensors "
                               f"({found.group(1)}); weights are loaded with weights_only=True, which "
                               "never runs code from the file") from None
        detail = text.split("WeightsUnpickler error:")[-1]
        first = next((line.strip() for line in detail.splitlines() if line.strip()), type(exc).__name__)
        raise WeightsError(f"cannot read weights file {path}: not a PyTorch checkpoint ({first})") from None

    if not isinstance(obj, dict):
        raise WeightsError(f"{path} holds a {type(obj).__name__}, expected a state dict")
    if "state_dict" in obj:
        meta = {k: v for k, v in obj.items() if k != "state_dict"}
        return obj["state_dict"], meta
    return obj, {}


def apply_state_dict(
    model: nn.Module, state_dict: dict[str, torch.Tensor], source: str = "state dict"
) -> None:
    """Strictly load ``state_dict`` into ``model``, casting floating tensors to the model's dtype.

    Raises WeightsError listing every missing key, unexpected key and shape mismatch.
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    mismatched = [
        f"{k}: expected {tuple(own[k].shape)}, got {tuple(state_dict[k].shape)}"
        for k in sorted(set(own) & set(state_dict))
        if own[k].shape != state_dict[k].shape
    ]
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"missing keys ({len(missing)}): {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
        if mismatched:
            problems.append(f"shape mismatches ({len(mismatched)}): {'; '.join(mismatched)}")
        raise WeightsError(f"{source} does not fit {type(model).__name__}: " + " | ".join(problems))
    cast = {
        k: v.to(own[k].dtype) if v.is_floating_point() else v for k, v in state_dict.items()
    }
    model.load_state_dict(cast)


def load_weights(model: nn.Module, path: str | Path) -> dict[str, Any]:
    """Load a checkpoint (fp32 or fp16 on disk) into ``model``; return its metadata."""
    state_dict, meta = read_checkpoint(path)
    apply_state_dict(model, state_dict, source=str(path))
    return meta


def save_checkpoint(
    model: nn.Module, path: str | Path, name: str, num_classes: int | None, *, fp16: bool = False,
    **meta: Any,
) -> None:
    """Write {"model", "num_classes", "state_dict", **meta}; fp16 halves floating tensors.

    ``num_classes`` is None for super-resolution models, which record ``channels`` instead."""
    state_dict = {
        k: (v.half() if fp16 and v.is_floating_point() else v).detach().clone()
        for k, v in model.state_dict().items()
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {"model": name} if num_classes is None else {"model": name, "num_classes": int(num_classes)}
    torch.save({**head, **meta, "state_dict": state_dict}, path)


def default_weights(name: str, variant: str | None = None) -> Path | None:
    """Path of the weights shipped for ``name`` (<name>.pt, or <name>.<variant>.pt for weights
    shipped for comparison, e.g. an SR model before analytics-aware fine-tuning), or None when
    none are shipped."""
    if name not in MODEL_NAMES + SR_MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES + SR_MODEL_NAMES)}")
    path = WEIGHTS_DIR / (f"{name}.pt" if variant is None else f"{name}.{variant}.pt")
    return path if path.is_file() else None
