"""Fixtures for tests that run the real nodes over Fast DDS (needs the built workspace sourced)."""
from __future__ import annotations

import os
import threading

import pytest

rclpy = pytest.importorskip("rclpy", reason="ROS 2 not available: source scripts/env.sh")

from netns import HostPair, NetnsUnavailable  # noqa: E402
from support import DomainLease  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def ros_domain():
    """A DDS domain of this module's own (see support.DomainLease) for this process and every
    process it starts."""
    lease = DomainLease()
    saved = {key: os.environ.get(key) for key in lease.env()}
    os.environ.update(lease.env())
    yield lease
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    lease.release()


@pytest.fixture(scope="module")
def ros_node(ros_domain):
    """An rclpy node spinning in a background thread of the test process."""
    from rclpy.executors import SingleThreadedExecutor
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(f"test_client_{os.getpid()}", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    yield node
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=context)


@pytest.fixture(scope="module")
def hosts():
    """An edge and a cloud network namespace joined by a veth (netns.HostPair); skips without root."""
    pair = HostPair()
    try:
        pair.create()
    except NetnsUnavailable as exc:
        pytest.skip(str(exc))
    yield pair
    pair.delete()
