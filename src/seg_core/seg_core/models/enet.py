"""ENet (Paszke et al., 2016, "ENet: A Deep Neural Network Architecture for Real-Time
Semantic Segmentation"), written from the paper.

Layout (input 3xHxW):
  initial            3x3/2 conv (13 ch) concatenated with 2x2 max-pool of the input -> 16 x H/2
  stage 1            downsampling bottleneck -> 64 x H/4, 4 regular bottlenecks (dropout 0.01)
  stages 2 and 3     (stage 2 starts with a downsampling bottleneck -> 128 x H/8)
                     regular, dilated 2, asymmetric 5, dilated 4, regular, dilated 8,
                     asymmetric 5, dilated 16 (dropout 0.1)
  stage 4            upsampling bottleneck -> 64 x H/4 (max-unpooling with stage 2's indices),
                     2 regular bottlenecks
  stage 5            upsampling bottleneck -> 16 x H/2 (max-unpooling with stage 1's indices),
                     1 regular bottleneck
  full conv          2x2/2 transposed conv -> num_classes x H x W

Every bottleneck is 1x1 projection -> main conv -> 1x1 expansion, each followed by batch norm
and PReLU, then spatial dropout (``Dropout2d``) and a residual add followed by PReLU.
Input height and width must be multiples of 8.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _conv_bn_act(cin: int, cout: int, kernel, stride=1, padding=0, dilation=1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.PReLU(cout),
    )


class InitialBlock(nn.Module):
    def __init__(self, cin: int = 3, cout: int = 16):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout - cin, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.PReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.conv(x), F.max_pool2d(x, 2)], dim=1)
        return self.act(self.bn(y))


class Bottleneck(nn.Module):
    """Regular, dilated or asymmetric (5x1 followed by 1x5) bottleneck keeping the size."""

    def __init__(self, channels: int, dropout: float, dilation: int = 1, asymmetric: int = 0):
        super().__init__()
        inner = channels // 4
        if asymmetric:
            pad = asymmetric // 2
            main = nn.Sequential(
                nn.Conv2d(inner, inner, (asymmetric, 1), padding=(pad, 0), bias=False),
                _conv_bn_act(inner, inner, (1, asymmetric), padding=(0, pad)),
            )
        else:
            main = _conv_bn_act(inner, inner, 3, padding=dilation, dilation=dilation)
        self.branch = nn.Sequential(
            _conv_bn_act(channels, inner, 1),
            main,
            _conv_bn_act(inner, channels, 1),
            nn.Dropout2d(dropout),
        )
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.branch(x))


class DownsamplingBottleneck(nn.Module):
    """Halves the resolution; the main path is a max-pool (indices kept) padded with zeros."""

    def __init__(self, cin: int, cout: int, dropout: float):
        super().__init__()
        inner = cout // 4
        self.extra_channels = cout - cin
        self.branch = nn.Sequential(
            _conv_bn_act(cin, inner, 2, stride=2),
            _conv_bn_act(inner, inner, 3, padding=1),
            _conv_bn_act(inner, cout, 1),
            nn.Dropout2d(dropout),
        )
        self.act = nn.PReLU(cout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        main, indices = F.max_pool2d(x, 2, return_indices=True)
        main = F.pad(main, (0, 0, 0, 0, 0, self.extra_channels))
        return self.act(main + self.branch(x)), indices


def max_unpool2x(x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Inverse of a 2x2/2 max-pool: scatter ``x`` to the positions in ``indices``, zeros elsewhere.

    Same result as ``F.max_unpool2d(x, indices, 2)``, written with a scatter so that it also
    traces to ONNX (ScatterElements).
    """
    n, c, h, w = x.shape
    out = x.new_zeros(n, c, 4 * h * w)
    out = out.scatter(2, indices.flatten(2), x.flatten(2))
    return out.view(n, c, 2 * h, 2 * w)


class UpsamplingBottleneck(nn.Module):
    """Doubles the resolution; the main path max-unpools with the matching encoder indices."""

    def __init__(self, cin: int, cout: int, dropout: float):
        super().__init__()
        inner = cin // 4
        self.main = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.branch = nn.Sequential(
            _conv_bn_act(cin, inner, 1),
            nn.ConvTranspose2d(inner, inner, 2, stride=2, bias=False),
            nn.BatchNorm2d(inner),
            nn.PReLU(inner),
            _conv_bn_act(inner, cout, 1),
            nn.Dropout2d(dropout),
        )
        self.act = nn.PReLU(cout)

    def forward(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        main = max_unpool2x(self.main(x), indices)
        return self.act(main + self.branch(x))


def _stage_2_or_3(channels: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        Bottleneck(channels, dropout),
        Bottleneck(channels, dropout, dilation=2),
        Bottleneck(channels, dropout, asymmetric=5),
        Bottleneck(channels, dropout, dilation=4),
        Bottleneck(channels, dropout),
        Bottleneck(channels, dropout, dilation=8),
        Bottleneck(channels, dropout, asymmetric=5),
        Bottleneck(channels, dropout, dilation=16),
    )


class ENet(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.initial = InitialBlock(3, 16)
        self.down1 = DownsamplingBottleneck(16, 64, 0.01)
        self.stage1 = nn.Sequential(*(Bottleneck(64, 0.01) for _ in range(4)))
        self.down2 = DownsamplingBottleneck(64, 128, 0.1)
        self.stage2 = _stage_2_or_3(128, 0.1)
        self.stage3 = _stage_2_or_3(128, 0.1)
        self.up4 = UpsamplingBottleneck(128, 64, 0.1)
        self.stage4 = nn.Sequential(Bottleneck(64, 0.1), Bottleneck(64, 0.1))
        self.up5 = UpsamplingBottleneck(64, 16, 0.1)
        self.stage5 = Bottleneck(16, 0.1)
        self.fullconv = nn.ConvTranspose2d(16, num_classes, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise ValueError(f"ENet needs height and width divisible by 8, got {tuple(x.shape[-2:])}")
        x = self.initial(x)
        x, idx1 = self.down1(x)
        x = self.stage1(x)
        x, idx2 = self.down2(x)
        x = self.stage3(self.stage2(x))
        x = self.stage4(self.up4(x, idx2))
        x = self.stage5(self.up5(x, idx1))
        return self.fullconv(x)
