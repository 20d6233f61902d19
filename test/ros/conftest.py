"""Fixtures for tests that run the real nodes over Fast DDS (needs the built workspace sourced)."""
from __future__ import annotations

import os
import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy", reason="ROS 2 not available: source scripts/env.sh")


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="session", autouse=True)
def ros_domain():
    """A DDS domain of its own per test run, so parallel runs on one host do not see each other."""
    os.environ.setdefault("ROS_DOMAIN_ID", str(40 + os.getpid() % 50))
    os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")


@pytest.fixture(scope="module")
def ros_node(ros_domain):
    """An rclpy node spinning in a background thread of the test process."""
    from rclpy.executors import SingleThreadedExecutor
    rclpy.init()
    node = rclpy.create_node(f"test_client_{os.getpid()}")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    yield node
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown()
