"""ICNet-style image cascade (Zhao et al., 2018, "ICNet for Real-Time Semantic Segmentation on
High-Resolution Images") with a MobileNetV3-Small backbone.

Three branches share work:
  high  (full input)   three strided 3x3 convs                      -> 1/8
  mid   (input / 2)    backbone up to its stride-8 stage            -> 1/16
  low   (mid features) the rest of the (dilated) backbone + pyramid pooling -> 1/32
Cascade feature fusion (CFF) merges low into mid and the result into high: the coarser map is
upsampled x2 and passed through a dilated 3x3 conv, the finer map through a 1x1 conv, both
batch-normalised, summed and ReLU'd. The classifier runs at 1/8 and is upsampled to the input.

Low-resolution reuse (CloudSeg, Wang et al. 2019, section 3.2): when the input is a
super-resolved frame, ``forward(x, low)`` feeds the mid branch the transmitted low-resolution
frame instead of a downsized copy of ``x``, which saves the downsizing and keeps the detail the
super-resolved copy would lose in it. Given exactly the downsized copy, it is the plain path.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.models import mobilenet_v3_small


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class PyramidPooling(nn.Module):
    """PSPNet pooling summed into the input (ICNet's cheaper variant of the concat).

    Bins 1, 2 and 4 divide the 1/32 feature map of any input whose sides are multiples of 128,
    which keeps the model exportable to ONNX.
    """

    def __init__(self, bins=(1, 2, 4)):
        super().__init__()
        self.bins = bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        out = x
        for b in self.bins:
            pooled = F.adaptive_avg_pool2d(x, b)
            out = out + F.interpolate(pooled, size=size, mode="bilinear", align_corners=False)
        return out


class CascadeFeatureFusion(nn.Module):
    def __init__(self, low_channels: int, high_channels: int, out_channels: int):
        super().__init__()
        self.low = nn.Sequential(
            nn.Conv2d(low_channels, out_channels, 3, padding=2, dilation=2, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.high = nn.Sequential(
            nn.Conv2d(high_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
        )

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        low = F.interpolate(low, size=high.shape[-2:], mode="bilinear", align_corners=False)
        return F.relu(self.low(low) + self.high(high))


class ICNet(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        features = mobilenet_v3_small(weights=None, dilated=True).features
        # features[:4] ends at stride 8 with 24 channels; the rest adds one more stride 2
        # (the last stage is dilated instead of strided) and ends with 576 channels.
        self.mid = features[:4]
        self.low = features[4:]
        self.low_head = nn.Sequential(PyramidPooling(), _conv_bn_relu(576, 256, 1))
        self.high = nn.Sequential(
            _conv_bn_relu(3, 32, 3, 2), _conv_bn_relu(32, 32, 3, 2), _conv_bn_relu(32, 64, 3, 2)
        )
        self.cff_low_mid = CascadeFeatureFusion(256, 24, 128)
        self.cff_mid_high = CascadeFeatureFusion(128, 64, 128)
        self.classifier = nn.Conv2d(128, num_classes, 1)

    def forward(self, x: torch.Tensor, low: torch.Tensor | None = None) -> torch.Tensor:
        """Logits at the size of ``x``. ``low``: the image for the mid branch (any size, resized to
        half the input's when it differs); default: ``x`` downsized by 2."""
        size = x.shape[-2:]
        if low is None:
            half = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        elif low.shape[-2:] != (size[0] // 2, size[1] // 2):
            half = F.interpolate(low, size=(size[0] // 2, size[1] // 2), mode="bilinear", align_corners=False)
        else:
            half = low
        mid = self.mid(half)
        low = self.low_head(self.low(mid))
        fused = self.cff_mid_high(self.cff_low_mid(low, mid), self.high(x))
        return F.interpolate(self.classifier(fused), size=size, mode="bilinear", align_corners=False)
