"""CARN and CARN-M super-resolution networks (Ahn, Kang and Sohn, ECCV 2018, "Fast, Accurate, and
Lightweight Super-Resolution with Cascading Residual Network").

Both map an N x 3 x h x w rgb image in [0, 1] to N x 3 x (h * scale) x (w * scale):

  entry 3x3 conv -> global cascade of 3 cascading blocks -> sub-pixel upsampler -> exit 3x3 conv

Cascading works the same way at both levels: each unit's output is concatenated with the input
and every earlier output, and a 1x1 conv + ReLU squeezes the concatenation back to ``channels``
to feed the next unit. The network's units are cascading blocks; a cascading block's units are
residual blocks:

  CARN    residual block    3x3 conv, ReLU, 3x3 conv, + input, ReLU; three per cascading block
  CARN-M  efficient block   3x3 group conv, ReLU, 3x3 group conv, ReLU, 1x1 conv, + input, ReLU;
                            one per cascading block, applied three times (recursive weights),
                            and group convolutions in the upsampler too

The upsampler is one 3x3 conv to 4x the channels + pixel shuffle + ReLU per factor of 2.

Two choices differ from the paper, both for training within a CPU budget: ``channels`` is a
parameter (the paper uses 64), and the network predicts the residual over a bilinear upscale of
its input (the exit conv starts at a tenth of its default initialisation, so an untrained
network is close to bilinear upsampling). The mean shift uses the paper's DIV2K mean.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

SCALES = (2, 4)
DIV2K_MEAN = (0.4488, 0.4371, 0.4040)
CASCADE_STEPS = 3


def _conv1x1_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + x)


class EfficientResidualBlock(nn.Module):
    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=groups), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, groups=groups), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + x)


class Cascade(nn.Module):
    """Three cascaded steps over ``units``: three distinct units, or one unit used three times."""

    def __init__(self, units: list[nn.Module], channels: int):
        super().__init__()
        if len(units) not in (1, CASCADE_STEPS):
            raise ValueError(f"a cascade takes 1 (shared) or {CASCADE_STEPS} units, got {len(units)}")
        self.units = nn.ModuleList(units)
        self.fuse = nn.ModuleList(_conv1x1_relu(channels * (k + 2), channels) for k in range(CASCADE_STEPS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stacked, out = x, x
        for k, fuse in enumerate(self.fuse):
            stacked = torch.cat([stacked, self.units[k % len(self.units)](out)], dim=1)
            out = fuse(stacked)
        return out


class Upsampler(nn.Sequential):
    def __init__(self, channels: int, scale: int, groups: int = 1):
        layers = []
        for _ in range(scale.bit_length() - 1):
            layers += [nn.Conv2d(channels, 4 * channels, 3, padding=1, groups=groups),
                       nn.PixelShuffle(2), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class CARN(nn.Module):
    """CARN (``mobile=False``) or CARN-M (``mobile=True``, ``groups`` in its group convolutions)."""

    def __init__(self, scale: int, channels: int = 64, mobile: bool = False, groups: int = 4):
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale}")
        if channels < groups or channels % groups:
            raise ValueError(f"channels ({channels}) must be a positive multiple of groups ({groups})")
        self.scale, self.channels, self.mobile = scale, channels, mobile
        self.register_buffer("mean", torch.tensor(DIV2K_MEAN).view(1, 3, 1, 1), persistent=False)
        self.entry = nn.Conv2d(3, channels, 3, padding=1)

        def block() -> Cascade:
            if mobile:
                return Cascade([EfficientResidualBlock(channels, groups)], channels)
            return Cascade([ResidualBlock(channels) for _ in range(CASCADE_STEPS)], channels)

        self.body = Cascade([block() for _ in range(CASCADE_STEPS)], channels)
        self.upsample = Upsampler(channels, scale, groups if mobile else 1)
        self.exit = nn.Conv2d(channels, 3, 3, padding=1)
        with torch.no_grad():
            self.exit.weight.mul_(0.1)
            self.exit.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.exit(self.upsample(self.body(self.entry(x - self.mean))))
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False) + residual
