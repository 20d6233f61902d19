import cv2
import numpy as np
import pytest
import torch

from seg_core.data.classes import CITYSCAPES_PALETTE, IGNORE_ID, NUM_CLASSES, cityscapes_train_ids
from seg_core.data.datasets import CityscapesDataset, GeneratedStreetDataset
from seg_core.data.transforms import (
    IMAGENET_MEAN, IMAGENET_STD, ColorJitter, Compose, GridAffine, HorizontalFlip, RandomScaleCrop, Resize,
    to_tensor, training_transform,
)


def _write_cityscapes(root, split="val", cities=("aachen", "bonn"), labels=True):
    ids = np.array([[7, 8, 26, 24], [0, 9, 33, 29]], np.uint8).repeat(8, 0).repeat(8, 1)   # 16x32
    for k, city in enumerate(cities):
        img_dir, gt_dir = root / "leftImg8bit" / split / city, root / "gtFine" / split / city
        img_dir.mkdir(parents=True)
        gt_dir.mkdir(parents=True)
        name = f"{city}_000000_00000{k}"
        cv2.imwrite(str(img_dir / f"{name}_leftImg8bit.png"), np.full((16, 32, 3), (10, 20, 30 + k), np.uint8))
        if labels:
            cv2.imwrite(str(gt_dir / f"{name}_gtFine_labelIds.png"), ids)
    return ids


def test_cityscapes_loader_maps_label_ids_to_train_ids(tmp_path):
    _write_cityscapes(tmp_path)
    ds = CityscapesDataset(str(tmp_path), "val")
    assert len(ds) == 2
    image, labels = ds[1]
    assert image.shape == (3, 16, 32) and image.dtype == torch.float32
    assert labels.shape == (16, 32) and labels.dtype == torch.int64
    # road, sidewalk, car, person / unlabeled, parking, bicycle, caravan
    expected = [[0, 1, 13, 11], [IGNORE_ID, IGNORE_ID, 18, IGNORE_ID]]
    assert labels[::8, ::8].tolist() == expected
    # the image is read as rgb: BGR (10, 20, 31) on disk
    raw = image * torch.tensor(IMAGENET_STD)[:, None, None] * 255 + torch.tensor(IMAGENET_MEAN)[:, None, None] * 255
    assert raw[:, 0, 0].round().tolist() == [31, 20, 10]


def test_official_label_table():
    ids = np.arange(256, dtype=np.uint8)
    train = cityscapes_train_ids(ids)
    official = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
                26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
    for i in range(256):
        assert train[i] == official.get(i, IGNORE_ID)


def test_cityscapes_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="leftImg8bit"):
        CityscapesDataset(str(tmp_path), "train")
    _write_cityscapes(tmp_path, "train", labels=False)
    with pytest.raises(FileNotFoundError, match="have no labels"):
        CityscapesDataset(str(tmp_path), "train")


def test_to_tensor_normalises_with_imagenet_statistics():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[:] = np.round(np.array(IMAGENET_MEAN) * 255).astype(np.uint8)
    x = to_tensor(rgb)
    assert x.shape == (3, 2, 3) and x.abs().max() < 0.01
    with pytest.raises(ValueError):
        to_tensor(np.zeros((2, 3), np.uint8))


def test_generated_dataset_items():
    ds = GeneratedStreetDataset("val", 3, 64, 32)
    image, labels = ds[2]
    assert len(ds) == 3 and image.shape == (3, 32, 64) and labels.shape == (32, 64)
    assert labels.dtype == torch.int64 and int(labels.max()) < NUM_CLASSES
    assert torch.equal(ds[2][1], labels)
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(ValueError, match="unknown split"):
        GeneratedStreetDataset("dev", 3, 64, 32)
    crop = GeneratedStreetDataset("train", 2, 96, 48, transform=training_transform((40, 24), ("flip", "color", "grid")))
    image, labels = crop[0]
    assert image.shape == (3, 24, 40) and labels.shape == (24, 40)


def _coded_pair(h=96, w=128):
    """Labels in blocks and an image whose colour is the label's palette colour."""
    labels = (np.arange(h)[:, None] // 16 * 5 + np.arange(w)[None, :] // 16) % NUM_CLASSES
    labels = labels.astype(np.uint8)
    return CITYSCAPES_PALETTE[labels], labels


def _assert_aligned(rgb, labels, margin):
    """`margin` pixels away from label borders every labelled pixel must show its label's colour
    (resampling blends colours right at a border; chained resamplings blend wider)."""
    valid = labels != IGNORE_ID
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    lo = cv2.erode(np.where(valid, labels, 0).astype(np.uint8), kernel)
    hi = cv2.dilate(np.where(valid, labels, 0).astype(np.uint8), kernel)
    inside = cv2.erode(valid.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    inner = valid & (lo == hi) & (inside > 0)
    assert inner.sum() > 0.1 * labels.size
    diff = np.abs(rgb[inner].astype(int) - CITYSCAPES_PALETTE[labels[inner]].astype(int))
    assert diff.max() <= 2


@pytest.mark.parametrize("transform, margin", [
    (GridAffine(magnitude=0.3), 1), (RandomScaleCrop(100, 70, scale=(0.5, 2.0)), 1), (HorizontalFlip(p=1.0), 1),
    (Resize(80, 60), 1), (Compose([RandomScaleCrop(100, 70), HorizontalFlip(), GridAffine()]), 2),
])
def test_augmentations_keep_image_and_labels_aligned(transform, margin):
    rgb, labels = _coded_pair()
    for seed in range(6):
        out_rgb, out_labels = transform(rgb, labels, np.random.default_rng(seed))
        assert out_rgb.shape[:2] == out_labels.shape and out_labels.dtype == np.uint8
        assert set(np.unique(out_labels)) <= set(range(NUM_CLASSES)) | {IGNORE_ID}
        _assert_aligned(out_rgb, out_labels, margin)


def test_grid_affine_ignores_pixels_from_outside_and_is_identity_without_motion():
    rgb, labels = _coded_pair()
    out_rgb, out_labels = GridAffine(magnitude=0.0)(rgb, labels, np.random.default_rng(0))
    assert (out_labels == labels).all() and (out_rgb == rgb).all()
    _, warped = GridAffine(magnitude=0.4)(rgb, labels, np.random.default_rng(1))
    assert (warped == IGNORE_ID).any() and (warped != labels).any()


def test_scale_crop_pads_with_ignore_and_flip_mirrors():
    rgb, labels = _coded_pair(20, 30)
    _, out = RandomScaleCrop(50, 40, scale=(1.0, 1.0))(rgb, labels, np.random.default_rng(0))
    assert out.shape == (40, 50) and (out[20:] == IGNORE_ID).all() and (out[:, 30:] == IGNORE_ID).all()
    _, flipped = HorizontalFlip(p=1.0)(rgb, labels, np.random.default_rng(0))
    assert (flipped == labels[:, ::-1]).all()


def test_focused_crops_find_the_rare_class():
    labels = np.zeros((200, 300), np.uint8)
    labels[150:153, 250:252] = 7                            # one small traffic sign
    rgb = np.zeros((200, 300, 3), np.uint8)
    rng = np.random.default_rng(0)
    focused = RandomScaleCrop(40, 30, scale=(1.0, 1.0), focus_classes=(5, 7), focus_p=1.0)
    assert all((focused(rgb, labels, rng)[1] == 7).any() for _ in range(50))
    plain = RandomScaleCrop(40, 30, scale=(1.0, 1.0))
    assert sum((plain(rgb, labels, rng)[1] == 7).any() for _ in range(50)) < 10
    absent = RandomScaleCrop(40, 30, scale=(1.0, 1.0), focus_classes=(5,), focus_p=1.0)
    assert absent(rgb, labels, rng)[1].shape == (30, 40)  # nothing to focus on: a random window
    with pytest.raises(ValueError, match="focus_p"):
        RandomScaleCrop(40, 30, focus_p=1.5)


def test_colour_jitter_changes_colours_not_labels():
    rgb, labels = _coded_pair()
    out_rgb, out_labels = ColorJitter(0.4, 0.4, 0.4, 0.1)(rgb, labels, np.random.default_rng(3))
    assert out_labels is labels and out_rgb.shape == rgb.shape and (out_rgb != rgb).any()
    with pytest.raises(ValueError, match="hue"):
        ColorJitter(hue=0.7)


def test_transforms_draw_from_torch_without_a_generator():
    rgb, labels = _coded_pair()
    t = GridAffine(magnitude=0.3)
    torch.manual_seed(5)
    a = t(rgb, labels)[1]
    torch.manual_seed(5)
    assert (t(rgb, labels)[1] == a).all()
