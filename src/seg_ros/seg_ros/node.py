"""Base class and entry point shared by the pipeline's nodes."""
from __future__ import annotations

import math
import re
import signal
import sys
import time
import traceback
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos_overriding_options import QoSOverridingOptions
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from builtin_interfaces.msg import Time as TimeMsg
from sensor_msgs.msg import Image

from seg_interfaces.msg import StageTiming

from . import qos
from .images import image_to_rgb
from .parameters import coerce

# Declared by rclpy itself, or by ROS tools, on every node.
_ROS_PARAMETERS = ("use_sim_time", "start_type_description_service")


class PipelineNode(Node):
    """A node that declares its parameters up front, publishes safely and reports stage timing.

    Subclasses set PARAMETERS = {name: (default, description)}. Parameters are read once at start;
    changing them at run time is refused with a reason, since every node builds its pipeline
    (codec, model, source) from them, except those a subclass lists in RECONFIGURABLE: their new
    values go to its reconfigure(), which applies them or refuses them with a ValueError. A given
    value is taken as meant where that is unambiguous (an integer for a float parameter, see
    seg_ros.parameters); any other type mismatch is a ValueError naming the parameter, and a
    parameter the node does not know is logged.
    """

    PARAMETERS: dict[str, tuple[Any, str]] = {}
    RECONFIGURABLE: frozenset[str] = frozenset()
    STAGE = ""

    def __init__(self, name: str):
        # Overrides (parameter file, -p) are declared as given first, so they can be read and
        # converted before the node declares each parameter with its type and description.
        super().__init__(name, automatically_declare_parameters_from_overrides=True)
        given = {p.name: p.value for p in self.get_parameters(self.list_parameters([], 0).names)}
        self.params = {key: self._declare(key, default, text, given)
                       for key, (default, text) in self.PARAMETERS.items()}
        unknown = sorted(k for k in given if k not in self.PARAMETERS and k not in _ROS_PARAMETERS
                         and not k.startswith("qos_overrides."))
        if unknown:
            self.get_logger().warning(f"ignoring unknown parameters {', '.join(unknown)} "
                                      f"(known: {', '.join(self.PARAMETERS)})")
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._problems_logged: dict[str, float] = {}
        self._timing_pub = self.create_publisher(StageTiming, "/seg/timing", qos.PUBLISH)

    def _declare(self, key: str, default: Any, text: str, given: dict[str, Any]) -> Any:
        descriptor = ParameterDescriptor(description=text)
        if key not in given:
            return self.declare_parameter(key, default, descriptor).value
        self.undeclare_parameter(key)
        value = given[key]
        if not isinstance(default, Parameter.Type):
            value = coerce(key, default, value)
        elif value is None:  # declared typed, without a value
            value = default
        elif not default.check(value):
            raise ValueError(f"parameter '{key}' must be a {default.name.lower().replace('_', ' ')}, "
                             f"got {value!r}")
        return self.declare_parameter(key, value, descriptor, ignore_override=True).value

    def _on_set_parameters(self, params) -> SetParametersResult:
        fixed = [p.name for p in params if p.name in self.PARAMETERS and p.name not in self.RECONFIGURABLE]
        if fixed:
            return SetParametersResult(
                successful=False, reason=f"{', '.join(fixed)} can only be set at start-up; restart the node")
        try:
            changes = {p.name: coerce(p.name, self.PARAMETERS[p.name][0], p.value)
                       for p in params if p.name in self.RECONFIGURABLE}
            if changes:
                self.reconfigure({**self.params, **changes})
        except ValueError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.params.update(changes)
        return SetParametersResult(successful=True)

    def reconfigure(self, params: dict[str, Any]) -> None:
        """Apply `params` (all of them, RECONFIGURABLE ones changed) while running, or raise ValueError."""
        raise ValueError("this node takes no parameter changes at run time")

    def now_msg(self):
        return self.get_clock().now().to_msg()

    def publish(self, publisher, msg) -> bool:
        """Publish, logging (throttled) instead of raising when the middleware refuses; once the
        node is shutting down (Ctrl-C), quietly publish nothing."""
        if not self.context.ok():
            return False
        try:
            publisher.publish(msg)
            return True
        except Exception as exc:  # rclpy raises RCLError and friends under load or at shutdown
            if self.context.ok():
                self.get_logger().error(f"publish on {publisher.topic_name} failed: {exc}",
                                        throttle_duration_sec=1.0)
            return False

    def has_subscribers(self, publisher) -> bool:
        """Whether anything subscribes to `publisher` (None: the output is disabled)."""
        if publisher is None or not self.context.ok():
            return False
        try:
            return publisher.get_subscription_count() > 0
        except Exception:  # the context went away between the check and the call
            return False

    def log_problem(self, text: str, period_s: float = 2.0) -> None:
        """Log an error about bad input at most once per `period_s` per kind of problem (the text
        with its numbers left out), so a flood of one kind cannot hide another kind."""
        kind = re.sub(r"\d+", "#", text)
        now = time.monotonic()
        if now - self._problems_logged.get(kind, -math.inf) < period_s:
            return
        if len(self._problems_logged) > 256:
            self._problems_logged.clear()
        self._problems_logged[kind] = now
        self.get_logger().error(text)

    def subscribe_frames(self, topic: str, callback, profile=qos.LATEST_FRAME):
        """Subscribe to sensor_msgs/Image frames (reliable by default, see seg_ros.qos); the
        reliability, history and depth can be overridden per topic with the standard
        `qos_overrides.<topic>.subscription.<policy>` parameters, e.g. for a best-effort camera."""
        return self.create_subscription(Image, topic, callback, profile,
                                        qos_overriding_options=QoSOverridingOptions.with_default_policies())

    def rgb_or_none(self, msg):
        """The rgb8 pixels of an Image, or None, logged, when its encoding or size is wrong."""
        try:
            return image_to_rgb(msg)
        except ValueError as exc:
            self.log_problem(f"dropping image: {exc}")
            return None

    def report_timing(self, header, received, started, handed, output_bytes: int) -> None:
        """Publish when this stage got the frame with `header`, began on it and handed on its output."""
        msg = StageTiming(header=header, stage=self.STAGE, input_received=received,
                          processing_started=started, output_published=handed,
                          output_bytes=output_bytes)
        self.publish(self._timing_pub, msg)


def stamp_seconds(stamp: TimeMsg) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def received_at(info) -> TimeMsg:
    """When the middleware received a message, from the MessageInfo rclpy passes to callbacks."""
    ns = info["received_timestamp"]
    return TimeMsg(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _where(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1:]
    return f" ({frame[0].filename.rsplit('/', 1)[-1]}:{frame[0].lineno})" if frame else ""


class _StopSignals:
    """Ctrl-C (SIGINT) and SIGTERM ask the node to stop by setting a flag; a further one (ros2
    launch forwards a SIGINT beside the terminal's) sets it again, so the clean shutdown runs to
    its end instead of a KeyboardInterrupt tearing through it. The handler stays installed:
    swapping in SIG_IGN from inside it races a second signal already on its way, which CPython
    then reports as a traceback ("Signal 2 ignored due to race condition")."""

    def __init__(self):
        self.requested = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.requested = True


def spin_serving(node: Node, stop: _StopSignals) -> None:
    """Spin until a stop signal or shutdown. An exception in a callback is logged (throttled)
    and the node keeps serving: one bad message must not end the node."""
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        while node.context.ok() and not stop.requested:
            try:
                executor.spin_once(timeout_sec=0.1)  # wakes up to see a stop signal
            except ExternalShutdownException:
                break
            except Exception as exc:
                if not node.context.ok():
                    break
                node.get_logger().error(f"a callback failed, still serving: {type(exc).__name__}: {exc}"
                                        f"{_where(exc)}", throttle_duration_sec=1.0)
    finally:
        executor.shutdown()


def run(node_class: type[PipelineNode], args=None) -> None:
    """Entry point: build the node, spin until Ctrl-C or SIGTERM (exit 0, no traceback); a bad
    configuration (parameter file, value, missing file) exits 2 with one clear log line."""
    logger = rclpy.logging.get_logger(node_class.__name__)
    stop = _StopSignals()
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except Exception as exc:  # unreadable parameter file or arguments: rcl says which
        logger.fatal(f"cannot start: {' '.join(str(exc).split())}")
        sys.exit(2)
    # Built in two steps so that a node whose constructor fails half-way (a bad value found after
    # its ROS handles exist) is still destroyed before shutdown, not left to the interpreter's exit.
    node = node_class.__new__(node_class)
    try:
        node.__init__()
        spin_serving(node, stop)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:  # bad parameters, missing files
        if not stop.requested:
            logger.fatal(f"cannot start: {exc}")
            sys.exit(2)
    finally:
        try:
            node.destroy_node()
        except AttributeError:  # it failed before rclpy's Node.__init__ made its handles
            pass
        rclpy.try_shutdown()
