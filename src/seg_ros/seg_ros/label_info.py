"""The Cityscapes LabelInfo published beside every label image, and its check on the receiving side."""
from __future__ import annotations

from std_msgs.msg import Header

from seg_core.data.classes import CITYSCAPES_CLASSES, NUM_CLASSES
from seg_interfaces.msg import LabelInfo, VisionClass


def cityscapes_label_info(stamp, model: str) -> LabelInfo:
    """The 19 Cityscapes classes in train-id order, labelled by argmax by `model` ("" = changes per frame)."""
    return LabelInfo(header=Header(stamp=stamp), threshold=0.0, model=model,
                     class_map=[VisionClass(class_id=i, class_name=n) for i, n in enumerate(CITYSCAPES_CLASSES)])


def is_cityscapes(msg: LabelInfo) -> bool:
    """Whether a LabelInfo lists the Cityscapes classes in train-id order."""
    classes = sorted(msg.class_map, key=lambda c: c.class_id)
    return (tuple(c.class_name for c in classes) == CITYSCAPES_CLASSES
            and [c.class_id for c in classes] == list(range(NUM_CLASSES)))
