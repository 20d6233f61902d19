"""What the tests that run real nodes share: a DDS domain of their own, readiness waits, recorders.

Isolation: each test module leases a DDS domain id that no other test run on this host holds
(a lock file per id), with discovery limited to this host, and removes the shared-memory files
its own processes left in that domain, so a graph never meets another module's or another run's
nodes, nor their leftovers.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
import time
from pathlib import Path

from seg_bringup.shared_memory import remove_leftovers
from seg_ros import qos

LOCK_DIR = Path(tempfile.gettempdir()) / "seg-ros-domains"
# ROS's advice for Linux: ids above 101 map to ports in the ephemeral range.
DOMAINS = range(1, 102)


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class DomainLease:
    """A DDS domain id held by this process until release(): one lock file per id, so test runs
    sharing this host never pick the same one."""

    # Where this process's next lease starts looking: each lease moves on past the last one, so a
    # domain is not reused right after the previous module's processes left it.
    _next = os.getpid() % len(DOMAINS)

    def __init__(self):
        LOCK_DIR.mkdir(exist_ok=True)
        for k in range(len(DOMAINS)):
            index = (DomainLease._next + k) % len(DOMAINS)
            domain = DOMAINS[index]
            lock = open(LOCK_DIR / f"{domain}.lock", "w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            self.domain, self._lock = domain, lock
            DomainLease._next = index + 1
            remove_leftovers(domain)
            return
        raise RuntimeError(f"every DDS domain id in {DOMAINS} is held by another test run")

    def env(self) -> dict[str, str]:
        """Environment for processes of this domain: this host only, Fast DDS large-data transports."""
        return {"ROS_DOMAIN_ID": str(self.domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
                "FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA", "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}

    def release(self) -> None:
        remove_leftovers(self.domain)
        self._lock.close()


class Recorder:
    """Keeps every message of a topic with its arrival time (monotonic)."""

    def __init__(self, node, msg_type, topic: str, profile=qos.PACKETS):
        self.items: list[tuple[float, object]] = []
        self.sub = node.create_subscription(msg_type, topic, lambda m: self.items.append((time.monotonic(), m)),
                                            profile)

    def stamps(self) -> set[tuple[int, int]]:
        return {(m.header.stamp.sec, m.header.stamp.nanosec) for _, m in list(self.items)}

    def since(self, t0: float) -> list[tuple[float, object]]:
        return [(t, m) for t, m in list(self.items) if t >= t0]

    def times(self) -> list[float]:
        return [t for t, _ in list(self.items)]

    def last(self):
        items = list(self.items)
        return items[-1][1] if items else None


def longest_gap(times: list[float], start: float, end: float) -> float:
    points = [start] + [t for t in times if start <= t <= end] + [end]
    return max(b - a for a, b in zip(points, points[1:]))
