"""Super-resolution: CARN / CARN-M structure, SR losses, ICNet's low-resolution reuse, the codec
round trip that makes training inputs, and low-resolution segmentation at the camera's size."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from seg_core.data.classes import NUM_CLASSES
from seg_core.codec import EncoderConfig, round_trip, scaled_size
from seg_core.models.inference import Segmenter
from seg_core.training.losses import analytics_sr_loss, distillation_loss, sr_loss, ssim
from seg_core.training.metrics import psnr
from seg_core.models import (
    SR_MODEL_NAMES, WeightsError, build_model, build_sr_model, default_weights, load_sr_model,
    save_checkpoint, sr_scale,
)
from seg_core.models.carn import Cascade
from seg_core.data.drives import SRPairs, low_res_frames
from seg_core.models.super_resolution import (
    LowResSegmenter, SuperResolver, check_target, interpolation_upscaler,
)


@pytest.mark.parametrize("name", SR_MODEL_NAMES)
def test_carn_upscales_by_its_scale(name):
    torch.manual_seed(0)
    model = build_sr_model(name, channels=16).eval()
    scale = sr_scale(name)
    with torch.inference_mode():
        out = model(torch.rand(2, 3, 24, 40))
    assert scale == int(name[-1]) and out.shape == (2, 3, 24 * scale, 40 * scale)
    assert torch.isfinite(out).all()


def test_untrained_carn_is_close_to_bilinear():
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        out = build_sr_model("carn_x4", channels=16).eval()(x)
    bilinear = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
    assert (out - bilinear).abs().mean() < 0.05


def test_parameter_counts_follow_the_paper():
    # The paper's multi-scale models have 1,592 K (CARN) and 412 K (CARN-M) parameters; a single
    # x4 upsampler instead of x2 + x3 + x4 leaves about 1.11 M and 0.29 M.
    count = {name: sum(p.numel() for p in build_sr_model(name).parameters()) for name in SR_MODEL_NAMES}
    assert 1.05e6 < count["carn_x4"] < 1.17e6
    assert 0.26e6 < count["carn_m_x4"] < 0.32e6
    assert count["carn_x2"] < count["carn_x4"] and count["carn_m_x2"] < count["carn_m_x4"]


def test_carn_m_shares_one_efficient_block_per_cascade_and_uses_group_convs():
    mobile, full = build_sr_model("carn_m_x2", 16), build_sr_model("carn_x2", 16)
    blocks = [m for m in mobile.body.units if isinstance(m, Cascade)]
    assert len(blocks) == 3 and all(len(b.units) == 1 for b in blocks)
    assert all(len(b.units) == 3 for b in full.body.units)
    groups = {m.groups for m in mobile.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)}
    assert groups == {1, 4}  # entry and exit convs are dense
    with pytest.raises(ValueError, match="scale"):
        build_sr_model("carn_x2").__class__(3)


def test_sr_checkpoint_records_its_width(tmp_path):
    model = build_sr_model("carn_m_x4", 8)
    path = tmp_path / "sr.pt"
    save_checkpoint(model, path, "carn_m_x4", None, fp16=True, channels=8)
    loaded, meta = load_sr_model("carn_m_x4", path)
    assert loaded.channels == 8 and "num_classes" not in meta
    with pytest.raises(WeightsError, match="not 'carn_x4'"):
        load_sr_model("carn_x4", path)
    save_checkpoint(build_sr_model("carn_m_x4", 16), path, "carn_m_x4", None, channels=8)
    with pytest.raises(WeightsError, match="shape mismatches"):
        load_sr_model("carn_m_x4", path)


def test_icnet_low_resolution_reuse_equals_the_plain_path_given_the_same_input():
    torch.manual_seed(0)
    icnet = build_model("icnet").eval()
    x = torch.randn(1, 3, 128, 256)
    with torch.inference_mode():
        plain = icnet(x)
        reused = icnet(x, F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False))
        other = icnet(x, torch.randn(1, 3, 32, 64))  # a x4 frame is resized to the mid branch's size
    assert torch.equal(plain, reused)
    assert other.shape == plain.shape and not torch.equal(other, plain)


def test_ssim_and_sr_losses():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-5)
    noisy, slightly = ((x + a * torch.randn_like(x)).clamp(0, 1) for a in (0.3, 0.05))
    assert 0.0 < ssim(noisy, x).item() < ssim(slightly, x).item() < 1.0
    assert ssim(torch.zeros_like(x), torch.ones_like(x)).item() < 1e-3
    assert sr_loss(x, x).item() == pytest.approx(0.0, abs=1e-5)
    assert sr_loss(noisy, x).item() > sr_loss(slightly, x).item() > 0
    with pytest.raises(ValueError, match="differ in shape"):
        ssim(x, x[:, :, :16])


def test_analytics_loss_is_the_segmenters_divergence_plus_ce_plus_pixels():
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 16, 16)
    logits = torch.randn(2, NUM_CLASSES, 16, 16)
    target = logits.argmax(1)
    same = analytics_sr_loss(logits, logits, None, hr, hr)
    assert same.item() == pytest.approx(0.0, abs=1e-5)
    other = torch.randn_like(logits)
    assert analytics_sr_loss(other, logits, None, hr, hr).item() == pytest.approx(
        distillation_loss(other, logits, None, 1.0).item())
    with_ce = analytics_sr_loss(other, logits, target, hr, hr, ce_weight=0.5)
    assert with_ce > analytics_sr_loss(other, logits, None, hr, hr)
    target[:] = 255  # unlabelled pixels add no cross-entropy
    assert analytics_sr_loss(other, logits, target, hr, hr).item() == pytest.approx(
        analytics_sr_loss(other, logits, None, hr, hr).item())
    blurred = F.avg_pool2d(hr, 3, 1, 1)
    assert analytics_sr_loss(logits, logits, None, blurred, hr, pixel_weight=1.0) > 0


def test_psnr():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    assert psnr(a, b) == float("inf")
    b[0, 0, 0] = 255
    assert psnr(b, a) == pytest.approx(10 * np.log10(48), rel=1e-6)
    with pytest.raises(ValueError):
        psnr(a, a[:2])


def frames(n=6, h=64, w=96):
    """A moving gradient with a square: consecutive frames, like a video."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for i in range(n):
        f = np.stack([(xx * 2 + i * 4) % 256, (yy * 3) % 256, np.full_like(xx, 90)], -1).astype(np.uint8)
        f[10:30, 10 + i * 3:30 + i * 3] = 250
        out.append(f)
    return np.stack(out)


def test_low_res_frames_go_through_the_codec_at_the_encoders_size():
    hr = frames()
    lr, sizes = low_res_frames(hr, 4, bitrate=100_000)
    assert lr.shape == (6, 16, 24, 3) and lr.dtype == np.uint8
    assert (sizes > 0).all() and sizes[0] > sizes[1]  # a keyframe, then P-frames
    clean, zero = low_res_frames(hr, 2, bitrate=None)
    assert clean.shape == (6, 32, 48, 3) and not zero.any()
    assert scaled_size(640, 480, 0.25) == (160, 120) and scaled_size(642, 482, 0.25) == (160, 120)
    decoded = [f for f, _ in round_trip(hr, EncoderConfig(bitrate=500_000), 0.5)]
    assert decoded[0].shape == (32, 48, 3)


def test_sr_pairs_are_aligned_crops():
    hr = frames(2)
    lr, _ = low_res_frames(hr, 4, None)
    labels = np.arange(64 * 96, dtype=np.int64).reshape(64, 96)[None].repeat(2, 0) % 19
    pairs = SRPairs(lr, hr, 4, (8, 4), labels=labels.astype(np.uint8), flip=False)
    torch.manual_seed(0)
    x, y, t = pairs[1]
    assert x.shape == (3, 4, 8) and y.shape == (3, 16, 32) and t.shape == (16, 32)
    # the crop of the high-resolution frame downscales to the crop of the low-resolution one
    assert (F.avg_pool2d(y[None], 4)[0] - x).abs().max() < 2 / 255
    with pytest.raises(ValueError, match="larger than the frames"):
        SRPairs(lr, hr, 4, (64, 4))
    with pytest.raises(ValueError, match="not x2"):
        SRPairs(lr, hr, 2, None)


def test_check_target_allows_the_encoders_rounding_only():
    check_target((160, 120), (640, 480), 4)
    check_target((160, 120), (642, 482), 4)
    with pytest.raises(ValueError, match="320x240 frame upscaled x4 is 1280x960.*640x480"):
        check_target((320, 240), (640, 480), 4)


def test_super_resolver_needs_weights(tmp_path):
    if default_weights("carn_x2") is None:
        with pytest.raises(WeightsError, match="no weights shipped"):
            SuperResolver("carn_x2")
    with pytest.raises(WeightsError, match="not found"):
        SuperResolver("carn_x2", tmp_path / "missing.pt")


def test_low_res_segmenter_labels_at_the_target_size(tmp_path):
    torch.manual_seed(0)
    sr_path, seg_path = tmp_path / "sr.pt", tmp_path / "icnet.pt"
    save_checkpoint(build_sr_model("carn_m_x4", 8), sr_path, "carn_m_x4", None, channels=8)
    save_checkpoint(build_model("icnet"), seg_path, "icnet", NUM_CLASSES, input_size=[128, 64])
    segmenter = Segmenter("icnet", weights=seg_path, threads=1)
    sr = SuperResolver("carn_m_x4", sr_path)
    lr = frames(1, 30, 40)[0]
    for upscale in (sr.upscale, interpolation_upscaler("bicubic")):
        for reuse in (False, True):
            labels, hr = LowResSegmenter(segmenter, upscale, 4, lr_reuse=reuse).predict(lr, (162, 122))
            assert labels.shape == (122, 162) and hr.shape == (122, 162, 3)
    with pytest.raises(ValueError, match="does not map"):
        LowResSegmenter(segmenter, sr.upscale, 4).predict(lr, (320, 240))
    deeplab = Segmenter("enet", threads=1)
    with pytest.raises(ValueError, match="lr_reuse needs"):
        LowResSegmenter(deeplab, sr.upscale, 4, lr_reuse=True)
    with pytest.raises(ValueError, match="cannot take a low-resolution frame"):
        deeplab.predict(lr, low_res=lr)


def test_train_sr_then_analytics_aware_fine_tuning(tmp_path):
    from seg_core import train
    common = ["--threads", "1", "train-sr", "--model", "carn_m_x4", "--size", "96", "64", "--drives", "1",
              "--drive-frames", "4", "--every", "1", "--batch", "2", "--eval-count", "2", "--eval-every", "2",
              "--sr-cache", str(tmp_path / "drives"), "--bitrate", "60000"]
    base, tuned, icnet = tmp_path / "base.pt", tmp_path / "tuned.pt", tmp_path / "icnet.pt"
    train.main(common + ["--channels", "4", "--patch", "8", "8", "--steps", "4", "--out", str(base)])
    meta = torch.load(base, weights_only=True)
    assert meta["channels"] == 4 and meta["scale"] == 4 and meta["lr_data"]["bitrate"] == 60000
    assert [h["step"] for h in meta["history"]] == [2, 4] and "val_psnr" in meta["history"][0]

    save_checkpoint(build_model("icnet"), icnet, "icnet", NUM_CLASSES, input_size=[64, 32])
    train.main(common + ["--init", str(base), "--segmenter", "icnet", "--segmenter-weights", str(icnet),
                         "--steps", "2", "--fp16", "--out", str(tuned)])
    meta = torch.load(tuned, weights_only=True)
    assert meta["segmenter"] == "icnet" and len(meta["command"]) == 2
    assert "val_miou" in meta["history"][-1]
    assert meta["state_dict"]["exit.weight"].dtype == torch.float16
    model, _ = load_sr_model("carn_m_x4", tuned)
    assert model.channels == 4
