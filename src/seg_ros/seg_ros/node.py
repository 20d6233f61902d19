"""Base class and entry point shared by the pipeline's nodes."""
from __future__ import annotations

import sys
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from builtin_interfaces.msg import Time as TimeMsg

from seg_interfaces.msg import StageTiming

from . import qos
from .images import image_to_rgb


class PipelineNode(Node):
    """A node that declares its parameters up front, publishes safely and reports stage timing.

    Subclasses set PARAMETERS = {name: (default, description)}. Parameters are read once at start;
    changing them at run time is refused with a reason, since every node builds its pipeline
    (codec, model, source) from them.
    """

    PARAMETERS: dict[str, tuple[Any, str]] = {}
    STAGE = ""

    def __init__(self, name: str):
        super().__init__(name)
        self.params = {
            key: self.declare_parameter(key, default, ParameterDescriptor(description=text)).value
            for key, (default, text) in self.PARAMETERS.items()
        }
        self.add_on_set_parameters_callback(self._refuse_changes)
        self._timing_pub = self.create_publisher(StageTiming, "/seg/timing", qos.PUBLISH)

    def _refuse_changes(self, params) -> SetParametersResult:
        names = [p.name for p in params if p.name in self.PARAMETERS]
        if not names:
            return SetParametersResult(successful=True)
        return SetParametersResult(
            successful=False, reason=f"{', '.join(names)} can only be set at start-up; restart the node")

    def now_msg(self):
        return self.get_clock().now().to_msg()

    def publish(self, publisher, msg) -> bool:
        """Publish, logging (throttled) instead of raising when the middleware refuses."""
        try:
            publisher.publish(msg)
            return True
        except Exception as exc:  # rclpy raises RCLError and friends under load or at shutdown
            self.get_logger().error(f"publish on {publisher.topic_name} failed: {exc}",
                                    throttle_duration_sec=1.0)
            return False

    def rgb_or_none(self, msg):
        """The rgb8 pixels of an Image, or None, logged (throttled), when its encoding or size is wrong."""
        try:
            return image_to_rgb(msg)
        except ValueError as exc:
            self.get_logger().error(f"dropping image: {exc}", throttle_duration_sec=2.0)
            return None

    def report_timing(self, header, received, started, handed, output_bytes: int) -> None:
        """Publish when this stage got the frame with `header`, began on it and handed on its output."""
        msg = StageTiming(header=header, stage=self.STAGE, input_received=received,
                          processing_started=started, output_published=handed,
                          output_bytes=output_bytes)
        self.publish(self._timing_pub, msg)


def received_at(info) -> TimeMsg:
    """When the middleware received a message, from the MessageInfo rclpy passes to callbacks."""
    ns = info["received_timestamp"]
    return TimeMsg(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def run(node_class: type[PipelineNode], args=None) -> None:
    """Entry point: build the node, spin until shutdown; a bad configuration exits with a clear log line."""
    rclpy.init(args=args)
    node = None
    try:
        try:
            node = node_class()
        except (ValueError, FileNotFoundError, RuntimeError) as exc:  # bad parameters, missing files
            rclpy.logging.get_logger(node_class.__name__).fatal(f"cannot start: {exc}")
            sys.exit(2)
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
