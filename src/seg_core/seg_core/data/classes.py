"""Cityscapes train-id classes, the colour palette, the labelIds -> train ids map and label/colour
conversions.

The table is written here rather than taken from the `cityscapesscripts` package, whose install
pulls in the obsolete `typing` backport, requests, pyquaternion, coloredlogs and appdirs."""
from __future__ import annotations

import cv2
import numpy as np

IGNORE_ID = 255

CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
    "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
    "truck", "bus", "train", "motorcycle", "bicycle",
)

CITYSCAPES_PALETTE = np.array(
    [
        (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156),
        (190, 153, 153), (153, 153, 153), (250, 170, 30), (220, 220, 0),
        (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
        (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100),
        (0, 0, 230), (119, 11, 32),
    ],
    dtype=np.uint8,
)

NUM_CLASSES = len(CITYSCAPES_CLASSES)

(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN, VEGETATION,
 TERRAIN, SKY, PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE) = range(NUM_CLASSES)

# Lookup table over all 256 label values (for cv2.LUT): unknown ids and IGNORE_ID render black.
_COLOUR_LUT = np.zeros((256, 1, 3), dtype=np.uint8)
_COLOUR_LUT[:NUM_CLASSES, 0] = CITYSCAPES_PALETTE


def colorize(labels: np.ndarray) -> np.ndarray:
    """Map an HxW uint8 label image to an HxWx3 rgb8 image with the Cityscapes palette."""
    if labels.dtype != np.uint8 or labels.ndim != 2:
        raise ValueError(f"labels must be a 2-D uint8 array, got {labels.dtype} {labels.shape}")
    return cv2.LUT(cv2.merge([labels, labels, labels]), _COLOUR_LUT)


def overlay(rgb: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend the colour mask over an rgb8 image; unlabeled pixels keep the image."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    if rgb.shape[:2] != labels.shape:
        raise ValueError(f"image {rgb.shape[:2]} and labels {labels.shape} differ in size")
    out = cv2.addWeighted(rgb, 1.0 - alpha, colorize(labels), alpha, 0.0)
    np.copyto(out, rgb, where=(labels >= NUM_CLASSES)[..., None])
    return out


# Cityscapes labelIds -> train ids (cityscapesScripts labels.py); everything else is ignored.
CITYSCAPES_ID_TO_TRAIN_ID = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
    24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}
_ID_LUT = np.full(256, IGNORE_ID, np.uint8)
for _id, _train in CITYSCAPES_ID_TO_TRAIN_ID.items():
    _ID_LUT[_id] = _train


def cityscapes_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a Cityscapes labelIds image to train ids (255 for ids outside the 19 classes)."""
    if label_ids.dtype != np.uint8:
        raise ValueError(f"labelIds must be uint8, got {label_ids.dtype}")
    return _ID_LUT[label_ids]
