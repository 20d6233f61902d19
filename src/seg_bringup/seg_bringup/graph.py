"""The node graph of each side: one definition used by the launch files and by the runner."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeSpec:
    package: str
    executable: str
    name: str
    remappings: tuple[tuple[str, str], ...] = ()


CAMERA_IMAGE = "/camera/image_raw"
CAMERA_PACKETS = CAMERA_IMAGE + "/h264"
CLOUD_IMAGE = "/cloud/image_raw"

GRAPHS: dict[str, tuple[NodeSpec, ...]] = {
    "edge": (
        NodeSpec("seg_edge", "camera", "camera", (
            ("image_raw", CAMERA_IMAGE),
            ("camera_info", "/camera/camera_info"),
            ("ground_truth", "/camera/ground_truth"),
        )),
        NodeSpec("seg_edge", "h264_encoder", "h264_encoder", (("image", CAMERA_IMAGE),)),
    ),
    "cloud": (
        NodeSpec("seg_cloud", "h264_decoder", "h264_decoder", (
            ("packets", CAMERA_PACKETS),
            ("image", CLOUD_IMAGE),
        )),
        NodeSpec("seg_cloud", "segmentation", "segmentation", (
            ("image", CLOUD_IMAGE),
            ("labels", "/segmentation/labels"),
            ("color_mask", "/segmentation/color_mask"),
            ("overlay", "/segmentation/overlay"),
            ("label_info", "/segmentation/label_info"),
        )),
    ),
}


def side_nodes(side: str) -> tuple[NodeSpec, ...]:
    if side not in GRAPHS:
        raise ValueError(f"unknown side '{side}'; choose from {', '.join(GRAPHS)}")
    return GRAPHS[side]
