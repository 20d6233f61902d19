"""ROS message conversions and the runner's command lines (no DDS traffic)."""
import numpy as np
import pytest

pytest.importorskip("rclpy", reason="ROS 2 not available: source scripts/env.sh")

from std_msgs.msg import Header  # noqa: E402

from seg_bringup.graph import GRAPHS, group_nodes  # noqa: E402
from seg_bringup.runner import default_params_file, node_command, parse_overrides  # noqa: E402
from seg_ros.images import array_to_image, image_to_mono, image_to_rgb  # noqa: E402


def test_rgb_and_bgr_round_trip_and_padded_rows():
    rgb = np.random.default_rng(0).integers(0, 256, (4, 6, 3), np.uint8)
    msg = array_to_image(rgb, Header(frame_id="cam"), "rgb8")
    assert (msg.width, msg.height, msg.step, msg.encoding) == (6, 4, 18, "rgb8")
    assert np.array_equal(image_to_rgb(msg), rgb)
    bgr = array_to_image(np.ascontiguousarray(rgb[:, :, ::-1]), Header(), "bgr8")
    assert np.array_equal(image_to_rgb(bgr), rgb)
    padded = array_to_image(rgb, Header(), "rgb8")
    padded.step = 20
    padded.data = np.pad(rgb.reshape(4, 18), ((0, 0), (0, 2))).tobytes()
    assert np.array_equal(image_to_rgb(padded), rgb)


def test_wrong_encodings_and_sizes_are_refused_with_reasons():
    labels = np.zeros((4, 6), np.uint8)
    mono = array_to_image(labels, Header(), "mono8")
    assert np.array_equal(image_to_mono(mono), labels)
    assert np.array_equal(image_to_rgb(mono), np.zeros((4, 6, 3), np.uint8))   # grey cameras: replicated
    depth = array_to_image(labels, Header(), "mono8")
    depth.encoding = "16UC1"
    with pytest.raises(ValueError, match="unsupported image encoding '16UC1'"):
        image_to_rgb(depth)
    mono.data = bytes(10)
    with pytest.raises(ValueError, match="expected step\\*height"):
        image_to_mono(mono)
    with pytest.raises(ValueError, match="3 channel"):
        array_to_image(labels, Header(), "rgb8")
    with pytest.raises(ValueError, match="unsupported image encoding 'yuv422'"):
        array_to_image(labels, Header(), "yuv422")


def test_runner_commands_match_the_graph():
    for side, specs in GRAPHS.items():
        for spec in specs:
            base = default_params_file(spec.params_from) if spec.params_from else None
            cmd = node_command(spec, [f for f in (base, default_params_file(side)) if f], {"rate": "5.0"})
            assert cmd[0].endswith(f"lib/{spec.package}/{spec.executable}")
            assert f"__node:={spec.name}" in cmd and str(default_params_file(side)) in cmd
            assert all(f"{a}:={b}" in cmd for a, b in spec.remappings)
            assert cmd[-2:] == ["-p", "rate:=5.0"]
            if base:   # the node's own side first, the group's file over it
                assert cmd.index(str(base)) < cmd.index(str(default_params_file(side)))
    assert default_params_file("edge").is_file() and default_params_file("cloud").is_file()


def test_parameter_files_name_every_node_of_their_side():
    import yaml
    for side in GRAPHS:
        params = yaml.safe_load(default_params_file(side).read_text())
        nodes = group_nodes(side)
        assert set(params) <= {spec.name for spec in nodes}
        for spec in nodes:   # every node finds its parameters in its group's file or its own side's
            files = [side] + ([spec.params_from] if spec.params_from else [])
            assert any(spec.name in yaml.safe_load(default_params_file(f).read_text()) for f in files), spec.name


def test_override_parsing_refuses_malformed_items():
    assert parse_overrides(["camera.rate=5", "camera.seed=2"]) == {"camera": {"rate": "5", "seed": "2"}}
    with pytest.raises(ValueError, match="node.param=value"):
        parse_overrides(["rate=5"])
    with pytest.raises(ValueError, match="unknown node group"):
        group_nodes("moon")


def test_labels_png_round_trip_is_lossless_and_small():
    from seg_ros.images import labels_to_png, png_to_labels
    labels = np.zeros((480, 640), np.uint8)
    labels[240:] = 0
    labels[:200] = 10
    labels[300:400, 100:300] = 13
    labels[0, 0] = 255
    data = labels_to_png(labels)
    assert len(data) < labels.nbytes // 20
    assert np.array_equal(png_to_labels(data), labels)
    with pytest.raises(ValueError, match="single-channel"):
        png_to_labels(b"not a png")


def test_profiles_lay_known_parameters_over_the_groups_files():
    import yaml
    from seg_bringup.graph import profiles
    from seg_bringup.runner import config_dir, profile_file
    assert profiles(config_dir()) == ["default", "cloudseg"]
    assert all(profile_file(group, "default") is None for group in GRAPHS)
    for profile in profiles(config_dir())[1:]:
        for group in GRAPHS:
            overlay = profile_file(group, profile)
            if overlay is None:
                continue
            base = yaml.safe_load(default_params_file(group).read_text())
            for node, params in yaml.safe_load(overlay.read_text()).items():
                assert set(params["ros__parameters"]) <= set(base[node]["ros__parameters"]), (profile, node)
    segmentation = next(s for s in group_nodes("cloud") if s.name == "segmentation")
    cmd = node_command(segmentation, [default_params_file("cloud"), profile_file("cloud", "cloudseg")])
    files = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--params-file"]
    assert files == [str(default_params_file("cloud")), str(profile_file("cloud", "cloudseg"))]
    with pytest.raises(ValueError, match="unknown profile 'fast'; choose from default, cloudseg"):
        profile_file("edge", "fast")
