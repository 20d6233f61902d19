import json
import math

import numpy as np
import pytest
import torch

from seg_core.data.classes import CITYSCAPES_CLASSES, IGNORE_ID
from seg_core.training.metrics import ConfusionMatrix


def test_hand_made_ious():
    cm = ConfusionMatrix(num_classes=3)
    cm.update(np.array([0, 1, 1, 1]), np.array([0, 0, 1, 1]))
    iou = cm.iou()
    assert iou[0] == pytest.approx(1 / 2)       # tp 1, fn 1
    assert iou[1] == pytest.approx(2 / 3)       # tp 2, fp 1
    assert math.isnan(iou[2])                    # in neither prediction nor ground truth
    assert cm.miou() == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert cm.pixel_accuracy() == pytest.approx(3 / 4)


def test_perfect_prediction_of_a_2d_map():
    target = np.array([[0, 13, 13], [10, 10, 13]], np.uint8)
    cm = ConfusionMatrix()
    cm.update(target, target)
    iou = cm.iou()
    assert iou[[0, 10, 13]].tolist() == [1.0, 1.0, 1.0]
    assert np.isnan(np.delete(iou, [0, 10, 13])).all()
    assert cm.miou() == 1.0 and cm.pixel_accuracy() == 1.0


def test_ignored_pixels_do_not_count():
    cm = ConfusionMatrix(num_classes=2)
    cm.update(np.array([1, 1, 0]), np.array([IGNORE_ID, IGNORE_ID, 0]))
    assert cm.matrix.sum() == 1
    assert cm.iou().tolist() == [1.0, pytest.approx(math.nan, nan_ok=True)]
    assert cm.pixel_accuracy() == 1.0


def test_class_only_predicted_has_zero_iou_not_nan():
    cm = ConfusionMatrix(num_classes=3)
    cm.update(np.array([2, 0]), np.array([0, 0]))
    iou = cm.iou()
    assert iou[0] == pytest.approx(0.5) and iou[2] == 0.0 and math.isnan(iou[1])
    assert cm.miou() == pytest.approx(0.25)


def test_updates_accumulate_and_accept_torch_tensors():
    rng = np.random.default_rng(0)
    pred, target = rng.integers(0, 19, (2, 4, 8, 8)), rng.integers(0, 19, (2, 4, 8, 8))
    target[0, 0, :2] = IGNORE_ID
    once, twice = ConfusionMatrix(), ConfusionMatrix()
    once.update(pred, target)
    for p, t in zip(pred, target):
        twice.update(torch.from_numpy(p), torch.from_numpy(t))
    assert (once.matrix == twice.matrix).all()
    twice.reset()
    assert twice.matrix.sum() == 0 and math.isnan(twice.miou()) and math.isnan(twice.pixel_accuracy())


def test_predictions_that_are_no_class_count_as_wrong():
    cm = ConfusionMatrix(num_classes=2)
    cm.update(np.array([0, IGNORE_ID, -1, 1]), np.array([0, 0, 1, 1]))
    assert cm.matrix.sum() == 2 and cm.unmatched.tolist() == [1, 1]
    assert cm.iou().tolist() == [pytest.approx(1 / 2), pytest.approx(1 / 2)]
    assert cm.pixel_accuracy() == pytest.approx(2 / 4) and cm.as_dict()["pixels"] == 4


def test_table_and_dict():
    cm = ConfusionMatrix()
    cm.update(np.array([0, 13]), np.array([0, 13]))
    text = cm.table()
    assert "road" in text and "car" in text and "n/a" in text and "mean IoU" in text
    d = json.loads(json.dumps(cm.as_dict(), allow_nan=False))
    assert d["miou"] == 1.0 and d["pixel_accuracy"] == 1.0 and d["pixels"] == 2
    assert list(d["iou"]) == list(CITYSCAPES_CLASSES)
    assert d["iou"]["car"] == 1.0 and d["iou"]["sky"] is None


def test_bad_arguments():
    cm = ConfusionMatrix(num_classes=3)
    with pytest.raises(ValueError, match="differ in shape"):
        cm.update(np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(ValueError, match="target holds ids"):
        cm.update(np.zeros(2, int), np.array([0, 5]))
    with pytest.raises(ValueError, match="integer"):
        cm.update(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="ignore_index"):
        ConfusionMatrix(num_classes=3, ignore_index=1)


def test_confusions_say_where_each_class_goes():
    cm = ConfusionMatrix(4, 255)
    target = np.array([0] * 10 + [1] * 10 + [2] * 4)
    pred = np.array([0] * 10 + [1] * 6 + [2] * 3 + [255] + [2] * 4)
    cm.update(pred, target)
    goes = cm.confusions(top=2)
    assert goes["class 0"] == [] and goes["class 2"] == []
    assert goes["class 1"] == [("class 2", 0.3), ("unlabeled", 0.1)]
    assert "class 3" not in goes                            # no ground truth, nothing to say
