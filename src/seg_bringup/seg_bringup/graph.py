"""The node graph: groups of nodes, each with its parameter file config/<group>.yaml, and profiles.

One definition read by the launch files and by the runner. The edge and cloud groups talk over
DDS (one host or a LAN); the *_bridge groups carry the WAN topics over Zenoh instead; `adaptation`
(with the edge) moves the encoder along the profile ladder as the link's bandwidth changes. `record`
records a topic preset into a bag; `replay` plays a bag into the encoder, decoder, segmentation
and arbiter, which read their own side's parameter file first (`params_from`), so a replay runs
the models as they ran live.

A profile is a folder of parameter files, config/profiles/<profile>/<group>.yaml, each laid over
the group's own file (later files win): `cloudseg` streams at low resolution and super-resolves
in the cloud. The default profile changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class NodeSpec:
    package: str
    executable: str
    name: str
    remappings: tuple[tuple[str, str], ...] = ()
    params_from: str = ""      # a group whose parameter file the node reads before its own group's


CAMERA_IMAGE = "/camera/image_raw"
CAMERA_PACKETS = CAMERA_IMAGE + "/h264"
CLOUD_IMAGE = "/cloud/image_raw"
CLOUD_CAMERA_INFO = "/cloud/camera_info"

ENCODER = NodeSpec("seg_edge", "h264_encoder", "h264_encoder", (("image", CAMERA_IMAGE),))
ARBITER = NodeSpec("seg_edge", "segmentation_arbiter", "segmentation_arbiter")
DECODER = NodeSpec("seg_cloud", "h264_decoder", "h264_decoder", (
    ("packets", CAMERA_PACKETS),
    ("image", CLOUD_IMAGE),
    ("camera_info", CLOUD_CAMERA_INFO),
))
SEGMENTATION = NodeSpec("seg_cloud", "segmentation", "segmentation", (
    ("image", CLOUD_IMAGE),
    ("camera_info", CLOUD_CAMERA_INFO),
    ("image_sr", "/cloud/image_sr"),
    ("labels", "/cloud/segmentation/labels"),
    ("color_mask", "/cloud/segmentation/color_mask"),
    ("overlay", "/cloud/segmentation/overlay"),
    ("label_info", "/cloud/segmentation/label_info"),
))

GRAPHS: dict[str, tuple[NodeSpec, ...]] = {
    "edge": (
        NodeSpec("seg_edge", "camera", "camera", (
            ("image_raw", CAMERA_IMAGE),
            ("camera_info", "/camera/camera_info"),
            ("ground_truth", "/camera/ground_truth"),
        )),
        ENCODER,
        NodeSpec("seg_edge", "link_monitor", "link_monitor"),
        NodeSpec("seg_edge", "edge_segmentation", "edge_segmentation", (
            ("image", CAMERA_IMAGE),
            ("labels", "/edge/segmentation/labels"),
            ("label_info", "/edge/segmentation/label_info"),
        )),
        ARBITER,
    ),
    "cloud": (
        DECODER,
        SEGMENTATION,
        NodeSpec("seg_cloud", "link_probe_responder", "link_probe_responder"),
    ),
    "adaptation": (NodeSpec("seg_edge", "link_adaptation", "link_adaptation"),),
    "edge_bridge": (NodeSpec("seg_bridge", "zenoh_bridge", "edge_bridge"),),
    "cloud_bridge": (NodeSpec("seg_bridge", "zenoh_bridge", "cloud_bridge"),),
    "record": (NodeSpec("seg_bag", "bag_recorder", "bag_recorder"),),
    # A replay has no camera: the decoded frames (same stamps) give the arbiter its frames.
    "replay": (
        NodeSpec("seg_bag", "bag_player", "bag_player"),
        replace(ENCODER, params_from="edge"),
        replace(DECODER, params_from="cloud"),
        replace(SEGMENTATION, params_from="cloud"),
        replace(ARBITER, remappings=(("camera/image_raw", CLOUD_IMAGE),), params_from="edge"),
    ),
}


def group_nodes(group: str) -> tuple[NodeSpec, ...]:
    if group not in GRAPHS:
        raise ValueError(f"unknown node group '{group}'; choose from {', '.join(GRAPHS)}")
    return GRAPHS[group]


def profiles(config_dir: Path) -> list[str]:
    """The profiles config_dir (a config/ folder) offers, the default first."""
    folder = Path(config_dir) / "profiles"
    return [DEFAULT_PROFILE] + sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() \
        else [DEFAULT_PROFILE]


def profile_params_file(config_dir: Path, profile: str, group: str) -> Path | None:
    """The parameter file ``profile`` lays over config/<group>.yaml, or None when it leaves the
    group as it is (always for the default profile); ValueError for an unknown profile."""
    known = profiles(config_dir)
    if profile not in known:
        raise ValueError(f"unknown profile '{profile}'; choose from {', '.join(known)}")
    path = Path(config_dir) / "profiles" / profile / f"{group}.yaml"
    return path if profile != DEFAULT_PROFILE and path.is_file() else None
