"""Training CLI on tiny generated images: the loss falls, resume continues, distillation runs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torchvision.models import segmentation

from seg_core import train
from seg_core.training import evaluation, loop
from seg_core.data.classes import CITYSCAPES_PALETTE, NUM_CLASSES
from seg_core.training.losses import (
    distillation_loss, enet_class_weights, ohem_cross_entropy, segmentation_loss, soft_jaccard_loss,
)
from seg_core.models import build_model, load_weights, save_checkpoint
from seg_core.data.datasets import SceneArrays
from seg_core.data.scene_cache import SHARD, cached_scenes, shard_path
from seg_core.data.transforms import training_transform

SIZE = ["64", "32"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A scene cache of easy synthetic scenes: blocks of four class colours with noise."""
    path = tmp_path_factory.mktemp("scenes")
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        blocks = rng.choice(np.array([0, 2, 8, 10], np.uint8), (SHARD, 4, 8))
        labels = blocks.repeat(8, axis=1).repeat(8, axis=2)
        noise = rng.normal(0, 20, labels.shape + (3,))
        rgb = np.clip(CITYSCAPES_PALETTE[labels] + noise, 0, 255).astype(np.uint8)
        np.savez(shard_path(path, split, 0, 64, 32), rgb=rgb, labels=labels)
    return path


def run(args: list[str], cache_dir) -> None:
    train.main(["--threads", "1", "--cache-dir", str(cache_dir), *args])


def common(out, steps: int) -> list[str]:
    return ["--model", "enet", "--size", *SIZE, "--image-size", *SIZE, "--steps", str(steps), "--batch", "8",
            "--lr", "5e-3", "--train-scenes", "100",
            "--eval-every", "0", "--eval-count", "8", "--workers", "0", "--out", str(out)]


def test_losses():
    target = torch.randint(0, NUM_CLASSES, (2, 8, 8))
    perfect = torch.nn.functional.one_hot(target, NUM_CLASSES).permute(0, 3, 1, 2).float() * 20
    assert soft_jaccard_loss(perfect, target) < 1e-3
    assert segmentation_loss(perfect, target, "ce+iou") < 1e-2
    noisy = torch.randn_like(perfect)
    assert segmentation_loss(noisy, target, "ce+iou") > segmentation_loss(noisy, target, "ce")
    assert distillation_loss(perfect, perfect, target, 2.0) < 1e-6
    assert distillation_loss(noisy, perfect, target, 2.0) > 0.1
    target[:] = 255
    assert distillation_loss(noisy, perfect, target, 2.0) == 0
    with pytest.raises(ValueError, match="unknown loss"):
        segmentation_loss(noisy, target, "dice")


def test_rare_class_weights_and_hard_pixel_mining():
    weights = enet_class_weights(np.array([700, 200, 99, 1, 0]))
    assert weights[0] < weights[1] < weights[2] < weights[3] < weights[4] <= 1 / np.log(1.02) + 1e-4
    with pytest.raises(ValueError):
        enet_class_weights(np.zeros(3))

    target = torch.randint(0, NUM_CLASSES, (2, 16, 16))
    logits = torch.nn.functional.one_hot(target, NUM_CLASSES).permute(0, 3, 1, 2).float() * 10
    wrong = torch.rand(target.shape) < 0.1                  # a tenth of the pixels badly wrong
    logits[:, 0][wrong] = 30.0
    plain = torch.nn.functional.cross_entropy(logits, target)
    mined = ohem_cross_entropy(logits, target, keep=0.05)
    assert mined > 5 * plain                                # the easy pixels no longer dilute the loss
    at_least_all = ohem_cross_entropy(logits, target, keep=1.0)
    assert torch.isclose(at_least_all, plain, rtol=1e-4)    # keeping every pixel is plain cross-entropy
    assert segmentation_loss(logits, target, "ce", ohem_keep=0.05) == mined
    weighted = segmentation_loss(logits, target, "ce", class_weights=enet_class_weights(np.ones(NUM_CLASSES)))
    assert torch.isclose(weighted, plain, rtol=1e-4)        # equal weights change nothing
    target[:] = 255
    assert ohem_cross_entropy(logits, target, keep=0.5) == 0
    with pytest.raises(ValueError, match="keep"):
        ohem_cross_entropy(logits, target, keep=0.0)


def test_augmented_crops_shapes_and_determinism(cache_dir):
    rgb, labels = cached_scenes("train", 100, 64, 32, cache_dir)
    crops = SceneArrays(rgb, labels, training_transform((32, 16)))
    torch.manual_seed(1)
    x1, y1 = crops[3]
    torch.manual_seed(1)
    x2, y2 = crops[3]
    assert x1.shape == (3, 16, 32) and y1.shape == (16, 32) and y1.dtype == torch.int64
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    with pytest.raises(ValueError, match="unknown augmentations"):
        training_transform((32, 16), ["rotate"])


def test_training_lowers_the_loss(cache_dir, tmp_path):
    out = tmp_path / "enet.pt"
    run(["train", *common(out, 30), "--augment", "--loss", "ce"], cache_dir)
    assert torch.load(out, weights_only=True)["input_size"] == [64, 32]
    model = build_model("enet")
    load_weights(model, out)
    assert loss_on(model, cache_dir) < loss_on(build_model("enet"), cache_dir) * 0.8


def test_any_warmup_fraction_trains_and_too_few_steps_are_one_clear_error(cache_dir, tmp_path, capsys):
    out = tmp_path / "enet.pt"
    for steps in (1, 20):   # 20 x 0.05: one warm-up step, which OneCycleLR cannot take
        out.unlink(missing_ok=True)
        run(["train", *common(out, steps), "--warmup", "0.05"], cache_dir)
        assert out.exists()
    with pytest.raises(SystemExit):
        run(["train", *common(out, 0)], cache_dir)
    assert "--steps: 0 must be at least 1" in capsys.readouterr().err


def test_resume_continues_where_training_stopped(cache_dir, tmp_path, monkeypatch):
    straight = tmp_path / "straight.pt"
    run(["train", *common(straight, 8), "--checkpoint-every", "4"], cache_dir)

    resumed = tmp_path / "resumed.pt"
    real_step, calls = torch.optim.AdamW.step, []

    def crash_after_six(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 6:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", crash_after_six)
    with pytest.raises(KeyboardInterrupt):
        run(["train", *common(resumed, 8), "--checkpoint-every", "4"], cache_dir)
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    state = resumed.with_suffix(".state.pt")
    assert torch.load(state, weights_only=True)["step"] == 4

    with pytest.raises(SystemExit, match="--steps 8"):
        run(["train", *common(resumed, 9), "--resume", str(state)], cache_dir)
    run(["train", *common(resumed, 8), "--checkpoint-every", "4", "--resume", str(state)], cache_dir)
    a = torch.load(straight, weights_only=True)["state_dict"]
    b = torch.load(resumed, weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def loss_on(model, cache_dir) -> float:
    rgb, labels = cached_scenes("train", 100, 64, 32, cache_dir)
    x, y = zip(*(SceneArrays(rgb, labels)[i] for i in range(16)))
    model.eval()
    with torch.no_grad():
        return segmentation_loss(model(torch.stack(x)), torch.stack(y), "ce").item()


def test_distillation_and_fine_tuning_paths(cache_dir, tmp_path):
    teacher = tmp_path / "teacher.pt"
    save_checkpoint(build_model("icnet"), teacher, "icnet", NUM_CLASSES, input_size=[64, 32])
    out = tmp_path / "student.pt"
    run(["train", *common(out, 2), "--teacher", "icnet", "--teacher-weights", str(teacher),
         "--kd-alpha", "0.7", "--kd-temperature", "3"], cache_dir)
    assert out.is_file()

    # a torchvision-format checkpoint (21 VOC classes, auxiliary head) initialises fine-tuning
    official = segmentation.deeplabv3_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=21, aux_loss=True).state_dict()
    torch.save(official, tmp_path / "official.pt")
    name = "deeplabv3_mobilenet_v3_large"
    model = build_model(name)
    loop.init_from(model, name, str(tmp_path / "official.pt"))
    key = "backbone.0.0.weight"
    assert torch.equal(model.state_dict()[key], official[key])
    assert model.state_dict()["classifier.4.weight"].shape[0] == NUM_CLASSES
    loop.freeze_backbone(model, name)
    trainable = {k for k, p in model.named_parameters() if p.requires_grad}
    assert trainable and not any(k.startswith("backbone.") for k in trainable)
    assert "classifier.4.weight" in trainable


def test_rare_class_options_train(cache_dir, tmp_path):
    out = tmp_path / "enet.pt"
    run(["train", *common(out, 2), "--class-weights", "enet", "--ohem", "0.25", "--rare-crops", "1",
         "--rare-classes", "vegetation", "--bf16", "--crop", "32", "16"], cache_dir)
    assert out.is_file()


def test_eval_runs_the_model_at_its_size_on_camera_size_images(cache_dir, tmp_path):
    weights = tmp_path / "enet.pt"
    save_checkpoint(build_model("enet"), weights, "enet", NUM_CLASSES, input_size=[32, 16])
    report = tmp_path / "report.json"
    run(["eval", "--model", "enet", "--weights", str(weights), "--count", "2", "--image-size", "64", "32",
         "--json", str(report)], cache_dir)
    data = json.loads(report.read_text())
    assert data["input_size"] == [32, 16] and data["image_size"] == [64, 32] and 0.0 <= data["miou"] <= 1.0
    assert data["pixels"] == 2 * 64 * 32                    # scored at the images' size
    assert np.asarray(data["confusion_matrix"]).shape == (NUM_CLASSES, NUM_CLASSES)
    assert set(data["confusions"]) <= set(data["iou"])


def test_training_renders_at_the_image_size_and_resizes_to_the_model_size(cache_dir, tmp_path):
    out = tmp_path / "enet.pt"
    run(["train", *common(out, 2), "--size", "32", "16"], cache_dir)   # the scenes stay 64x32
    meta = torch.load(out, weights_only=True)
    assert meta["input_size"] == [32, 16] and meta["data"]["image_size"] == [64, 32]


def test_eval_scores_the_drive_through_the_codec(tmp_path):
    weights = tmp_path / "enet.pt"
    save_checkpoint(build_model("enet"), weights, "enet", NUM_CLASSES, input_size=[32, 16])
    report = tmp_path / "report.json"
    run(["eval", "--model", "enet", "--weights", str(weights), "--drive", "--drive-frames", "3",
         "--sr-cache", str(tmp_path), "--image-size", "64", "48", "--bitrate", "200000", "--json", str(report)],
        tmp_path)
    data = json.loads(report.read_text())
    assert data["frames"] == "3 frames of generated drive 7 through H.264 at 200 kbit/s at 64x48"
    assert data["pixels"] == 3 * 64 * 48


def test_predictions_at_another_input_size_come_back_at_the_image_size():
    seen = []

    def predict(x):
        seen.append(tuple(x.shape[-2:]))
        return torch.ones(x.shape[0], *x.shape[-2:], dtype=torch.long)

    labels = evaluation.at_input_size(predict, (16, 8))(torch.zeros(2, 3, 24, 40))
    assert seen == [(8, 16)] and labels.shape == (2, 24, 40) and (labels == 1).all()
    evaluation.at_input_size(predict, (40, 24))(torch.zeros(1, 3, 24, 40))
    assert seen[-1] == (24, 40)                             # no resize at the model's own size
