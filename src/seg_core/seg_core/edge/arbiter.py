"""Per-frame choice between the cloud and the edge segmentation of each camera frame.

Pure and clock-free: every call takes the current time ``t`` in the clock of the camera stamps
(seconds). Frames are keyed by their camera stamp (seconds as a float, or any number that orders
like time). The node feeds camera frames, results of both sources and the link state, calls
``poll(t)`` on every input and at ``next_due(t)``, and publishes the ``Decision``s it returns.

Rules
-----
- The arbiter has an *active source*, "cloud" or "edge" (``initial_source`` at start).
- Cloud active: a frame gets the cloud result when it arrives within ``deadline_s`` of the frame's
  stamp (a *hit*). With ``adaptive_wait`` a frame waits for it only as long as the cloud usually
  takes (smoothed latency + 4 deviations, at least ``wait_margin_s`` above the smoothed latency, as
  TCP estimates its retransmission timeout), never past the deadline: when the cloud stops, the
  edge fills in after its usual latency plus that margin, not after the whole deadline. When
  that wait passes without the cloud result, or the cloud has already delivered a newer frame (a
  cloud slower than the camera), the frame gets the edge result (a *fill*); a late cloud result
  is used only when the edge will not deliver that frame either.
- Edge active: a frame gets the edge result as soon as it arrives (no waiting for the cloud);
  the cloud result stands in only for frames the edge skipped or has not served by the deadline.
  A frame the edge skipped waits for the cloud (up to the deadline) only while the cloud is
  delivering (a result stamped within ``failover_s`` of the frame); otherwise it is dropped at
  once, so it never holds back the edge results of newer frames.
- Each frame is published at most once, in stamp order; a frame neither source can serve within
  ``max_wait_s`` (or that both skipped) is dropped and counted, so it never holds back newer frames.
- The cloud's record per frame (which drives failover and handback, not what is published): a
  *hit* when its result came within the deadline; a frame without a result of its own is judged
  by the next result the cloud delivers: for a frame stamped within the deadline after it and on
  time, the cloud was busy with that newer frame (a *skip*); otherwise a *miss*, known at twice
  the deadline at the latest. So a cloud slower than the camera but on time for the frames it
  takes is healthy, however many frames it skips.
- Failover to the edge: the cloud missed every frame over ``failover_s`` of camera time (by
  stamp, so the rule does not depend on the frame rate; skips neither count nor break the run),
  or the link state turning DOWN.
- Handback to the cloud: ``handback_after`` cloud hits in a row (skips do not break the row), or
  the link GOOD without a break for ``handback_s`` since the failover while the cloud is
  delivering (a hit since the failover, and no run of misses as long as ``failover_s``). Hits
  are direct evidence, so they hand back even while the link monitor, which recovers with its
  own hysteresis, still says DOWN; only a new change to DOWN fails over again.
  Together these keep the active source from flapping when a few cloud results go missing.
- The edge's link adaptation can hold the edge active (``hold_edge``: even its lowest rung does
  not fit the link); no handback happens while it does.
- Frames the edge did not send to the cloud (its frame selector or frame rate left them out,
  ``frame_not_sent``) are neither hits nor misses. While the cloud is active such a frame gets the
  newest cloud labels published within ``failover_s`` before it, marked *reused*: the selector
  left it out because it looks like the frame those labels are for, and the cloud's labels of a
  near-identical frame are better than ENet's of this one. Without such labels it is served like
  a frame the cloud missed (the edge's result, if any).
- Memory is bounded: frames older than ``horizon_s`` (by stamp) or beyond ``max_frames`` are
  dropped and counted.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from seg_core.edge.link import DOWN, GOOD

CLOUD, EDGE = "cloud", "edge"
SOURCES = (CLOUD, EDGE)


@dataclass
class ArbiterConfig:
    deadline_s: float = 0.25      # a cloud result later than stamp + deadline is a miss
    failover_s: float = 1.0       # cloud misses without a hit over this much camera time -> edge
    handback_after: int = 5       # cloud hits in a row that make the cloud active again
    handback_s: float = 3.0       # ... or the link GOOD for this long (while the cloud delivers)
    max_wait_s: float = 1.0       # a frame nobody serves by stamp + max_wait_s is dropped
    adaptive_wait: bool = True    # wait for the cloud its usual latency + margin (<= deadline_s)
    wait_margin_s: float = 0.03   # least margin above the cloud's smoothed latency
    horizon_s: float = 3.0        # frames older than this are forgotten (bounded memory)
    max_frames: int = 256         # hard bound on frames kept
    initial_source: str = EDGE    # active source before the cloud has proven itself

    def validate(self) -> None:
        if not self.deadline_s > 0:
            raise ValueError(f"deadline_s must be > 0, got {self.deadline_s}")
        if not self.failover_s > 0:
            raise ValueError(f"failover_s must be > 0, got {self.failover_s}")
        if self.handback_after < 1:
            raise ValueError(f"handback_after must be >= 1, got {self.handback_after}")
        if self.handback_s < 0:
            raise ValueError(f"handback_s must be >= 0, got {self.handback_s}")
        if not self.max_wait_s >= self.deadline_s:
            raise ValueError(f"max_wait_s {self.max_wait_s} must be >= deadline_s {self.deadline_s}")
        if self.wait_margin_s < 0:
            raise ValueError(f"wait_margin_s must be >= 0, got {self.wait_margin_s}")
        if not self.horizon_s >= self.max_wait_s:
            raise ValueError(f"horizon_s {self.horizon_s} must be >= max_wait_s {self.max_wait_s}")
        if self.max_frames < 2:
            raise ValueError(f"max_frames must be >= 2, got {self.max_frames}")
        if self.initial_source not in SOURCES:
            raise ValueError(f"initial_source '{self.initial_source}' is not one of {', '.join(SOURCES)}")


@dataclass
class Decision:
    """One frame to publish."""
    stamp: float
    source: str                 # where the labels come from: "cloud" or "edge"
    labels: Any                 # the result payload of that source
    frame: Any                  # the camera frame payload (None if the camera frame never arrived)
    active: str                 # the active source when decided (source != active: a stand-in)
    late: bool = False          # a cloud result past its deadline (only when the edge had nothing)
    reused: bool = False        # the cloud labels of an earlier frame, for a frame not sent to the cloud


@dataclass
class Switch:
    """A change of the active source."""
    t: float
    stamp: float | None
    old: str
    new: str
    reason: str


@dataclass
class _Frame:
    stamp: float
    frame: Any = None
    results: dict = field(default_factory=dict)   # source -> (payload, arrival t)
    outcome: str | None = None                    # cloud: "hit" / "miss" once known
    published: bool = False
    sent: bool = True                             # the edge sent it to the cloud


class FrameArbiter:
    def __init__(self, config: ArbiterConfig | None = None):
        self.config = config or ArbiterConfig()
        self.config.validate()
        self.active = self.config.initial_source
        self._frames: dict[float, _Frame] = {}
        self._order: list[float] = []          # stamps of _frames, ascending
        self._latest: dict[str, float] = {}    # source -> newest stamp it delivered
        self._last_decided: float | None = None   # newest stamp published or dropped
        self._last_cloud: tuple[float, Any] | None = None   # (stamp, labels) of the newest cloud labels published
        self._hits_in_row = 0
        self._misses_in_row = 0
        self._miss_run: tuple[float, float] | None = None  # (first, last) stamp of the current misses
        self._hits_since_failover = 0
        self._link: int | None = None
        self._edge_held = ""                   # why the link adaptation holds the edge active ("" = it does not)
        self._cloud_latency: tuple[float, float] | None = None   # smoothed latency, mean deviation
        self._good_since: float | None = None
        self._failover_at = float("-inf")      # when the edge last became the active source
        self._switches: list[Switch] = []
        self.stats = {
            "frames": 0, "published": 0, "published_cloud": 0, "published_edge": 0, "published_reused": 0,
            "fills": 0,
            "late_cloud": 0, "dropped_unserved": 0, "dropped_expired": 0, "dropped_overflow": 0,
            "cloud_hits": 0, "cloud_misses": 0, "cloud_skips": 0, "cloud_unsent": 0,
            "stale_results": 0, "future_stamps": 0, "duplicate_results": 0,
            "switches": 0, "clock_resets": 0,
        }

    # ---- inputs -------------------------------------------------------------------------------
    def add_frame(self, stamp: float, frame: Any, t: float) -> bool:
        """A camera frame; False if it is already decided or too old to matter.

        A frame stamped more than ``horizon_s`` before the newest decided one means the camera's
        clock went back (a restarted replay, a clock reset): the timeline starts over.
        """
        if self._last_decided is not None and stamp < self._last_decided - self.config.horizon_s:
            self.stats["clock_resets"] += 1
            self._frames.clear()
            self._order.clear()
            self._latest.clear()
            self._last_decided = None
        entry = self._entry(stamp, t)
        if entry is None:
            return False
        if entry.frame is None:
            entry.frame = frame
        return True

    def add_result(self, source: str, stamp: float, labels: Any, t: float) -> bool:
        """A segmentation result of `source` for the frame stamped `stamp`, arrived at `t`.

        False when it can no longer be used (frame already decided, too old or a repeat).
        """
        if source not in SOURCES:
            raise ValueError(f"unknown source '{source}'")
        entry = self._entry(stamp, t)
        if entry is None:
            return False
        if stamp > self._newest(source):
            self._latest[source] = stamp     # results of one source come in stamp order
        if source == CLOUD:
            self._learn_cloud_latency(t - stamp)
        if source in entry.results:
            self.stats["duplicate_results"] += 1
            return False
        entry.results[source] = (labels, t)
        return not entry.published

    def frame_not_sent(self, stamp: float, t: float) -> bool:
        """The edge did not send the frame stamped `stamp` to the cloud; False if it is already decided."""
        entry = self._entry(stamp, t)
        if entry is None or entry.published:
            return False
        entry.sent = False
        return True

    def hold_edge(self, reason: str, t: float) -> None:
        """Keep the edge active for `reason` (the link cannot carry even the lowest rung); "" releases it."""
        if reason and not self._edge_held:
            self._switch(EDGE, t, None, f"link adaptation: {reason}")
        self._edge_held = reason

    def set_link(self, state: int | None, t: float) -> None:
        """The link state (link.GOOD/DEGRADED/DOWN), or None when unknown (no recent status)."""
        if state != GOOD:
            self._good_since = None
        elif self._link != GOOD or self._good_since is None:
            self._good_since = t
        if state == DOWN and self._link != DOWN and self.active == CLOUD:
            self._switch(EDGE, t, None, "link DOWN")
        self._link = state

    # ---- decisions ----------------------------------------------------------------------------
    def poll(self, t: float) -> list[Decision]:
        """Decide every frame that can be decided at `t`; returns them in stamp order."""
        self._expire(t)
        self._resolve_outcomes(t)
        self._maybe_handback_on_link(t)
        out: list[Decision] = []
        for stamp in list(self._order):
            entry = self._frames[stamp]
            if entry.published:
                continue
            verdict = self._decide(entry, t)
            if verdict is None:
                break                            # wait: later frames must not overtake this one
            if verdict == "drop":
                self.stats["dropped_unserved"] += 1
            elif verdict == "reuse":
                out.append(Decision(stamp, CLOUD, self._last_cloud[1], entry.frame, self.active, reused=True))
                self.stats["published"] += 1
                self.stats["published_reused"] += 1
            else:
                source, late = verdict
                labels = entry.results[source][0]
                out.append(Decision(stamp, source, labels, entry.frame, self.active, late))
                self.stats["published"] += 1
                self.stats[f"published_{source}"] += 1
                self.stats["fills"] += source != self.active
                self.stats["late_cloud"] += late
                if source == CLOUD:
                    self._last_cloud = (stamp, labels)
            entry.published = True
            entry.frame = None                   # the frame's pixels are no longer needed
            self._last_decided = stamp
        self._forget_done()
        return out

    def next_due(self, t: float) -> float | None:
        """The next time after `t` at which poll() may decide something without new input.

        Lets a caller sleep until then instead of polling at a fixed rate; None: nothing pending.
        """
        c = self.config
        times = []
        if self._order:
            times.append(self._order[0] + c.horizon_s)
        unresolved = next((s for s in self._order if self._frames[s].outcome is None), None)
        if unresolved is not None:
            times += [unresolved + c.deadline_s, unresolved + 2 * c.deadline_s]
        head = next((s for s in self._order if not self._frames[s].published), None)
        if head is not None:
            times += [head + self.cloud_wait(), head + c.deadline_s, head + c.max_wait_s]
        if self.active == EDGE and self._link == GOOD and self._good_since is not None and not self._edge_held:
            times.append(max(self._good_since, self._failover_at) + c.handback_s)
        future = [x for x in times if x > t]
        return min(future) if future else None

    def take_switches(self) -> list[Switch]:
        """Changes of the active source since the last call (for logging)."""
        out, self._switches = self._switches, []
        return out

    def cloud_wait(self) -> float:
        """How long after its stamp a frame waits for the cloud before the edge fills in (s)."""
        c = self.config
        if not c.adaptive_wait or self._cloud_latency is None:
            return c.deadline_s
        mean, dev = self._cloud_latency
        return min(c.deadline_s, mean + max(4 * dev, c.wait_margin_s))

    @property
    def pending(self) -> int:
        return len(self._frames)

    @property
    def link_state(self) -> int | None:
        return self._link

    # ---- internals ----------------------------------------------------------------------------
    def _entry(self, stamp: float, t: float) -> _Frame | None:
        entry = self._frames.get(stamp)
        if entry is not None:
            return entry
        if (self._last_decided is not None and stamp <= self._last_decided) or stamp <= t - self.config.horizon_s:
            self.stats["stale_results"] += 1
            return None
        if stamp > t + self.config.max_wait_s:
            self.stats["future_stamps"] += 1     # a clock far off: it would hold back every newer frame
            return None
        entry = self._frames[stamp] = _Frame(stamp)
        self.stats["frames"] += 1
        if not self._order or stamp > self._order[-1]:
            self._order.append(stamp)
        else:
            bisect.insort(self._order, stamp)
        while len(self._order) > self.config.max_frames:
            self._remove(self._order[0], "dropped_overflow")
        return self._frames.get(stamp)

    def _remove(self, stamp: float, counter: str | None) -> None:
        entry = self._frames.pop(stamp)
        self._order.remove(stamp)
        if counter and not entry.published:
            self.stats[counter] += 1
            self._last_decided = stamp if self._last_decided is None else max(self._last_decided, stamp)

    def _expire(self, t: float) -> None:
        limit = t - self.config.horizon_s
        while self._order and self._order[0] <= limit:
            self._remove(self._order[0], "dropped_expired")

    def _forget_done(self) -> None:
        while self._order:
            entry = self._frames[self._order[0]]
            if not (entry.published and entry.outcome is not None):
                break
            self._remove(entry.stamp, None)

    def _cloud_outcome(self, entry: _Frame, t: float) -> str | None:
        """"hit" / "miss" for a frame with a cloud result (by its arrival). For one without, the
        next result the cloud delivers tells: for a frame within the deadline after this one and
        on time, the cloud was busy with it ("skip"); otherwise, or none by twice the deadline
        (when that next frame's deadline has passed too), "miss"."""
        deadline = self.config.deadline_s
        cloud = entry.results.get(CLOUD)
        if cloud is not None:
            return "hit" if cloud[1] <= entry.stamp + deadline else "miss"
        if not entry.sent:
            return "unsent"
        if t < entry.stamp + deadline and self._newest(CLOUD) <= entry.stamp:
            return None                          # its own result may still come on time
        newer = self._next_cloud_result(entry.stamp)
        if newer is not None:
            stamp, arrived = newer
            busy = stamp <= entry.stamp + deadline and arrived <= stamp + deadline
            return "skip" if busy else "miss"
        return "miss" if t >= entry.stamp + 2 * deadline else None

    def _next_cloud_result(self, stamp: float) -> tuple[float, float] | None:
        """(stamp, arrival) of the oldest cloud result for a frame newer than `stamp`."""
        if self._newest(CLOUD) <= stamp:
            return None
        for s in self._order[bisect.bisect_right(self._order, stamp):]:
            cloud = self._frames[s].results.get(CLOUD)
            if cloud is not None:
                return s, cloud[1]
        return None

    def _resolve_outcomes(self, t: float) -> None:
        """Cloud hit/miss/skip of frames in stamp order; drives failover and handback by runs."""
        c = self.config
        for stamp in self._order:
            entry = self._frames[stamp]
            if entry.outcome is not None:
                continue
            outcome = self._cloud_outcome(entry, t)
            if outcome is None:
                break
            entry.outcome = outcome
            if outcome == "hit":
                self.stats["cloud_hits"] += 1
                self._hits_in_row += 1
                self._misses_in_row = 0
                self._miss_run = None
                self._hits_since_failover += 1
                if self.active == EDGE and self._hits_in_row >= c.handback_after and not self._edge_held:
                    self._switch(CLOUD, t, stamp, f"{self._hits_in_row} cloud results in a row within "
                                                  f"the {c.deadline_s:g} s deadline")
            elif outcome == "skip":
                self.stats["cloud_skips"] += 1
            elif outcome == "unsent":
                self.stats["cloud_unsent"] += 1
            else:
                self.stats["cloud_misses"] += 1
                self._misses_in_row += 1
                self._hits_in_row = 0
                self._miss_run = (stamp if self._miss_run is None else self._miss_run[0], stamp)
                if self.active == CLOUD and self._miss_span() >= c.failover_s:
                    self._switch(EDGE, t, stamp, f"{self._misses_in_row} cloud results in a row "
                                                 f"({self._miss_span():.2f} s of frames) missed the "
                                                 f"{c.deadline_s:g} s deadline")

    def _miss_span(self) -> float:
        return 0.0 if self._miss_run is None else self._miss_run[1] - self._miss_run[0]

    def _maybe_handback_on_link(self, t: float) -> None:
        c = self.config
        if self.active != EDGE or self._link != GOOD or self._good_since is None or self._edge_held:
            return
        since = max(self._good_since, self._failover_at)   # GOOD before the failover does not count
        if t - since >= c.handback_s and self._hits_since_failover > 0 and self._miss_span() < c.failover_s:
            on_edge = f", {t - self._failover_at:.1f} s on the edge," if self._failover_at > float("-inf") else ""
            self._switch(CLOUD, t, None, f"link GOOD for {t - self._good_since:.1f} s{on_edge} "
                                         "and the cloud delivers")

    def _switch(self, new: str, t: float, stamp: float | None, reason: str) -> None:
        if new == self.active:
            return
        self._switches.append(Switch(t, stamp, self.active, new, reason))
        self.stats["switches"] += 1
        self.active = new
        if new == EDGE:
            self._hits_since_failover = 0
            self._hits_in_row = 0
            self._failover_at = t
        else:
            self._misses_in_row = 0
            self._miss_run = None

    def _learn_cloud_latency(self, latency: float) -> None:
        """RFC 6298's smoothing (gains 1/8 and 1/4); results later than the deadline count as
        the deadline, so an outage's backlog does not stretch the wait past it."""
        latency = min(max(latency, 0.0), self.config.deadline_s)
        if self._cloud_latency is None:
            self._cloud_latency = (latency, latency / 2)
            return
        mean, dev = self._cloud_latency
        dev += (abs(latency - mean) - dev) / 4
        mean += (latency - mean) / 8
        self._cloud_latency = (mean, dev)

    def _newest(self, source: str) -> float:
        """Stamp of the newest result `source` delivered (-inf before its first)."""
        return self._latest.get(source, float("-inf"))

    def _cloud_expected(self, stamp: float) -> bool:
        """Whether a cloud result for the frame stamped `stamp` may still come: always while the
        cloud is the active source; on the edge only while the cloud delivers."""
        if self.active == CLOUD:
            return True
        return self._newest(CLOUD) >= stamp - self.config.failover_s

    def _decide(self, entry: _Frame, t: float):
        """("cloud"|"edge", late) to publish, "reuse" (the newest cloud labels), "drop", or None to wait."""
        c = self.config
        stamp = entry.stamp
        cloud = entry.results.get(CLOUD)
        if (cloud is None and not entry.sent and self.active == CLOUD and self._last_cloud is not None
                and stamp - self._last_cloud[0] <= c.failover_s):
            return "reuse"
        has_edge = EDGE in entry.results
        cloud_on_time = cloud is not None and cloud[1] <= stamp + c.deadline_s
        too_old = t >= stamp + c.max_wait_s
        edge_out = not has_edge and (too_old or self._newest(EDGE) > stamp)
        cloud_out = cloud is None and (too_old or not entry.sent or t >= stamp + self.cloud_wait()
                                       or self._newest(CLOUD) > stamp
                                       or not self._cloud_expected(stamp))
        if self.active == CLOUD:
            if cloud_on_time:
                return CLOUD, False
            if not (cloud is not None or cloud_out):
                return None                      # the cloud may still make its deadline
            if has_edge:
                return EDGE, False
            if edge_out:
                return (CLOUD, True) if cloud is not None else "drop"
            return None
        if has_edge:
            return EDGE, False
        if cloud is not None and (edge_out or t >= stamp + c.deadline_s):
            return CLOUD, not cloud_on_time      # the edge is late too: the cloud result stands in
        if edge_out and cloud_out:
            return "drop"
        return None

