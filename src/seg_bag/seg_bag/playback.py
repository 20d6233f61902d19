"""When a player publishes each bag message: the recorded pace times a rate factor (ROS-free)."""
from __future__ import annotations

import time
from collections.abc import Callable


class PlaybackTimeline:
    """Maps bag time (ns) to wall time (s): bag time t is due at anchor_wall + (t - anchor_bag) / rate.

    restart() anchors the timeline at a message (the first one, and again on each loop). A message
    stamped earlier than the one before (the bag's clock ran backwards, e.g. a recording clock
    stepped back between two files) is due at once and re-anchors the timeline there, so the pace
    after it is kept and nothing waits for a time that will not come.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        if not rate > 0:
            raise ValueError(f"rate {rate} must be > 0")
        self.rate = rate
        self._clock = clock
        self._anchor_bag = 0
        self._anchor_wall = 0.0
        self._last_bag: int | None = None

    def restart(self, bag_ns: int) -> None:
        self._anchor_bag, self._anchor_wall, self._last_bag = bag_ns, self._clock(), bag_ns

    def due(self, bag_ns: int) -> tuple[float, int]:
        """(wall time at which `bag_ns` is due, how far it went backwards in ns; 0 when it did not)."""
        if self._last_bag is None:
            self.restart(bag_ns)
        back = max(0, self._last_bag - bag_ns)
        if back:
            self.restart(bag_ns)
        self._last_bag = bag_ns
        return self._anchor_wall + (bag_ns - self._anchor_bag) / 1e9 / self.rate, back

    def bag_now(self) -> int:
        """The bag time being played now (what a player publishes on /clock), in ns."""
        return self._anchor_bag + int((self._clock() - self._anchor_wall) * self.rate * 1e9)
