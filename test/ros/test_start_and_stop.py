"""Every node refuses a bad configuration with one clear line, and Ctrl-C ends the runner and every
node it started with exit 0 and no traceback."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from support import wait_for

from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from seg_bringup.graph import GRAPHS, group_nodes  # noqa: E402
from seg_bringup.runner import ORPHAN_GUARD, default_params_file, node_command  # noqa: E402
from seg_ros import qos  # noqa: E402

SIDES = ("edge", "cloud", "edge_bridge", "cloud_bridge")


def side_of(node: str) -> str:
    return next(side for side in SIDES if node in {s.name for s in group_nodes(side)})


def spec_of(node: str):
    return next(s for s in group_nodes(side_of(node)) if s.name == node)


def run_all(commands: dict[str, list[str]], timeout: float = 120.0) -> dict[str, tuple[int, str]]:
    """Run the commands side by side (each exits at start-up); their exit codes and output."""
    procs = {key: subprocess.Popen(ORPHAN_GUARD + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for key, cmd in commands.items()}
    results = {}
    try:
        for key, proc in procs.items():
            out, _ = proc.communicate(timeout=timeout)
            results[key] = (proc.returncode, out)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    return results


def test_every_node_refuses_a_malformed_parameter_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("camera:\n  ros__parameters:\n    rate: [30\n")
    nodes = [spec.name for side in SIDES for spec in GRAPHS[side]]
    results = run_all({name: node_command(spec_of(name), broken) for name in nodes})
    for name, (code, out) in results.items():
        fatal = [line for line in out.splitlines() if "cannot start" in line]
        assert code == 2 and len(fatal) == 1, f"{name}: exit {code}\n{out}"
        assert "Couldn't parse params file" in fatal[0] and str(broken) in fatal[0], out
        assert "Traceback" not in out, f"{name}\n{out}"


@pytest.fixture(scope="module")
def unsafe_weights(tmp_path_factory) -> Path:
    """A checkpoint carrying a pickle payload that would run a command when unpickled."""
    path = tmp_path_factory.mktemp("weights") / "tampered.pt"
    marker = path.with_name("payload-ran")

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"state_dict": {}, "note": Payload()}, path)
    return path


BAD_VALUES = [
    ("camera", "source", "webcam", "source 'webcam' is not one of"),
    ("camera", "rate", "0.01", "rate 0.01 Hz must be within 0.1..240"),
    ("camera", "rate", "fast", "parameter 'rate' must be a number, got 'fast' (str)"),
    ("camera", "width", "641", "must be even"),
    ("camera", "horizontal_fov_deg", "180", "horizontal_fov_deg 180.0 must be within 1..179"),
    ("h264_encoder", "crf", "80", "crf must be a number within [0, 51]"),
    ("h264_encoder", "scale", "1.5", "scale 1.5 must be within (0, 1]"),
    ("h264_encoder", "gop", "2.5", "parameter 'gop' must be an integer, got 2.5 (float)"),
    ("link_monitor", "degraded_loss", "1.5", "degraded_loss must be within (0, 1]"),
    ("link_monitor", "probe_rate", "0", "probe_rate 0.0 must be > 0"),
    ("edge_segmentation", "mode", "lazy", "mode 'lazy' is not one of hot_standby, on_demand"),
    ("edge_segmentation", "input_width", "-1", "input_width and input_height must both be > 0"),
    ("segmentation_arbiter", "max_wait_s", "0.1", "max_wait_s 0.1 must be >= deadline_s"),
    ("segmentation_arbiter", "overlay_alpha", "-1", "overlay_alpha -1.0 must be within 0..1"),
    ("h264_decoder", "keyframe_request_interval", "0", "keyframe_request_interval must be > 0"),
    ("segmentation", "overlay_alpha", "2.0", "overlay_alpha 2.0 must be within 0..1"),
    ("segmentation", "model", "segnet", "unknown model 'segnet'"),
    ("segmentation", "weights", "/nonexistent/model.pt", "weights file not found: /nonexistent/model.pt"),
    ("segmentation", "weights", "UNSAFE", "holds Python objects, not only tensors (GLOBAL posix.system)"),
    ("segmentation", "super_resolution", "carn_x3", "unknown super-resolution model 'carn_x3'"),
    ("segmentation", "lr_reuse", "true", "lr_reuse needs super_resolution"),
    ("link_probe_responder", "video_window_s", "0", "video_window_s 0.0 must be > 0"),
]


def test_every_node_refuses_bad_values_with_one_clear_line(unsafe_weights):
    commands = {}
    for k, (node, param, value, _) in enumerate(BAD_VALUES):
        value = str(unsafe_weights) if value == "UNSAFE" else value
        commands[k] = node_command(spec_of(node), default_params_file(side_of(node)), {param: value})
    results = run_all(commands)
    for k, (node, param, value, message) in enumerate(BAD_VALUES):
        code, out = results[k]
        fatal = [line for line in out.splitlines() if "cannot start" in line]
        assert code == 2 and len(fatal) == 1, f"{node} {param}={value}: exit {code}\n{out}"
        assert message in fatal[0], f"{node} {param}={value}: {fatal[0]}"
        assert "Traceback" not in out, out
    assert not unsafe_weights.with_name("payload-ran").exists()


@pytest.fixture(scope="module")
def runner(ros_node, tmp_path_factory):
    """The runner with the edge and cloud groups (integers where floats are meant, as a user types
    them), until cloud and arbiter outputs flow."""
    log = tmp_path_factory.mktemp("runner") / "runner.log"
    labels, cloud = [], []
    ros_node.create_subscription(Image, "/segmentation/labels", labels.append, qos.LATEST_FRAME)
    ros_node.create_subscription(CompressedImage, "/cloud/segmentation/labels/compressed", cloud.append, qos.RESULTS)
    sets = ["camera.rate=15", "camera.width=320", "camera.height=240", "segmentation.threads=1",
            "segmentation.input_width=320", "segmentation.input_height=240", "edge_segmentation.threads=1"]
    with open(log, "w") as out:
        proc = subprocess.Popen(ORPHAN_GUARD + [sys.executable, "-m", "seg_bringup.runner", "edge", "cloud",
                                 *(f"--set={s}" for s in sets)], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        assert wait_for(lambda: labels and cloud, 120), log.read_text()
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc, log


def test_camera_rate_given_as_an_integer_is_taken(runner):
    _, log = runner
    assert "at 15 Hz on /camera/image_raw" in log.read_text()


def test_ctrl_c_ends_the_runner_and_every_node_cleanly(runner):
    proc, log = runner
    mark = len(log.read_text())
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    code = proc.wait(60)
    text = log.read_text()
    after = text[mark:]
    assert code == 0, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert "exited with" not in after, after
    errors = [line for line in after.splitlines() if "[ERROR]" in line or "[FATAL]" in line]
    assert not errors, "\n".join(errors)
