"""Edge-cloud link health: probe round trips, loss, video throughput and a GOOD/DEGRADED/DOWN state.

Pure bookkeeping, no clock reads and no ROS: every call takes the current time ``t`` (seconds, any
monotonic-enough clock, the same one for all calls), so the state machine is deterministic and
testable. The link monitor node feeds it probes, replies, the H.264 it sends and the stamps of
cloud results, and publishes what ``update(t)`` returns.

State rules (``LinkConfig`` holds the thresholds):

- DOWN      no probe reply for ``down_after_s`` (or none yet).
- DEGRADED  RTT median over the window above ``degraded_rtt_s``, probe loss above
            ``degraded_loss``, or the cloud receives less than ``min_delivery_ratio`` of the video
            the edge sends.
- GOOD      none of the above.

The cloud's compute is judged apart from the link: ``cloud_late`` says that, while video is being
sent, no cloud result came yet or the newest is older than ``max_result_age_s``. A slow or stopped
cloud segmentation leaves the link state alone (the arbiter's per-frame deadline handles it).

Getting worse is immediate. Getting better needs the better conditions to hold without a break for
``recover_s``, and a DEGRADED condition clears only below ``clear_fraction`` of its threshold, so a
metric that hovers around a threshold does not make the state flap.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from seg_core.edge.rate import ByteRate

GOOD, DEGRADED, DOWN = 0, 1, 2
STATE_NAMES = {GOOD: "GOOD", DEGRADED: "DEGRADED", DOWN: "DOWN"}


@dataclass
class LinkConfig:
    window_s: float = 5.0             # RTT median and loss are taken over this window
    probe_timeout_s: float = 1.0      # a probe unanswered this long counts as lost
    down_after_s: float = 1.5         # no probe reply this long -> DOWN
    max_result_age_s: float = 2.0     # newest cloud result older than this -> cloud_late; 0 = not checked
    degraded_rtt_s: float = 0.3       # RTT median above this -> DEGRADED
    degraded_loss: float = 0.2        # probe loss fraction above this -> DEGRADED
    min_delivery_ratio: float = 0.5   # cloud-received / edge-sent video below this -> DEGRADED
    min_sent_kbps: float = 50.0       # the delivery ratio is judged only when sending at least this
    throughput_window_s: float = 1.0  # sent video kbps is averaged over this
    recent_s: float = 1.0             # the "recent" RTT median and loss (for the link adaptation) cover this
    recover_s: float = 2.0            # better conditions must hold this long before the state improves
    clear_fraction: float = 0.8       # a DEGRADED condition clears below this fraction of its threshold
    max_probes: int = 10000           # bound on probe bookkeeping, whatever the probe rate

    def validate(self) -> None:
        positive = ("window_s", "probe_timeout_s", "down_after_s", "degraded_rtt_s", "throughput_window_s",
                    "recent_s")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("max_result_age_s", "recover_s", "min_sent_kbps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 < self.degraded_loss <= 1.0:
            raise ValueError(f"degraded_loss must be within (0, 1], got {self.degraded_loss}")
        if not 0.0 <= self.min_delivery_ratio <= 1.0:
            raise ValueError(f"min_delivery_ratio must be within [0, 1], got {self.min_delivery_ratio}")
        if not 0.0 < self.clear_fraction <= 1.0:
            raise ValueError(f"clear_fraction must be within (0, 1], got {self.clear_fraction}")
        if self.probe_timeout_s > self.window_s:
            raise ValueError(f"probe_timeout_s {self.probe_timeout_s} must not exceed window_s {self.window_s}")
        if self.max_probes < 1:
            raise ValueError(f"max_probes must be >= 1, got {self.max_probes}")


@dataclass
class LinkSnapshot:
    """What the estimator says at one instant."""
    t: float
    state: int
    reason: str
    rtt_s: float                # median RTT over the window; NaN without replies
    loss: float                 # fraction of judged probes unanswered in time over the window
    rtt_recent_s: float         # the same over the last recent_s ...
    loss_recent: float          # ... (of probes old enough to judge)
    sent_kbps: float
    delivered_kbps: float       # NaN until the cloud has reported it
    delivered_padding_kbps: float  # probe padding the cloud received; NaN when unknown
    result_age_s: float         # NaN before the first cloud result
    cloud_late: str = ""        # why the cloud's results are late while video is sent; "" = on time
    changed: bool = False       # the state changed at this update
    previous: int | None = None  # the state before a change

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]


@dataclass
class _Probe:
    sent: float
    replied: float | None = None


@dataclass
class LinkEstimator:
    config: LinkConfig = field(default_factory=LinkConfig)

    def __post_init__(self) -> None:
        self.config.validate()
        self._probes: dict[int, _Probe] = {}      # seq -> probe, pruned to the window
        self._rtts: deque[tuple[float, float]] = deque()  # (reply time, rtt)
        self._sent = ByteRate(self.config.throughput_window_s)
        self._last_reply: float | None = None
        self._epoch: float | None = None          # loss counts probes sent from here on
        self._delivered_kbps = math.nan
        self._delivered_padding = math.nan
        self._delivered_at: float | None = None
        self._newest_result: float | None = None  # camera stamp of the newest cloud result
        self._first_t: float | None = None
        self.state = DOWN
        self._reason = "no probe reply yet"
        self._better_since: float | None = None
        self._better_target: int | None = None
        self._better_reason = ""
        self.unknown_replies = 0
        self.duplicate_replies = 0
        self.transitions = 0

    # ---- inputs -------------------------------------------------------------------------------
    def probe_sent(self, seq: int, t: float) -> None:
        self._seen(t)
        self._probes[seq] = _Probe(t)
        if len(self._probes) > self.config.max_probes:
            del self._probes[next(iter(self._probes))]  # dicts keep insertion order: the oldest

    def reply_received(self, seq: int, t: float, cloud_video_kbps: float | None = None,
                       cloud_padding_kbps: float | None = None) -> float | None:
        """Account for a probe reply; returns its RTT, or None for an unknown or repeated seq."""
        self._seen(t)
        probe = self._probes.get(seq)
        if probe is None or t < probe.sent:
            self.unknown_replies += 1
            return None
        if probe.replied is not None:
            self.duplicate_replies += 1
            return None
        probe.replied = t
        if self._last_reply is None or t - self._last_reply > self.config.down_after_s:
            # First reply after a silence: probes sent before this one belong to the outage,
            # which DOWN already reports; they do not count as loss afterwards.
            self._epoch = probe.sent if self._epoch is None else max(self._epoch, probe.sent)
        rtt = t - probe.sent
        self._rtts.append((t, rtt))
        self._last_reply = t if self._last_reply is None else max(self._last_reply, t)
        if cloud_video_kbps is not None and math.isfinite(cloud_video_kbps) and cloud_video_kbps >= 0:
            self._delivered_kbps = float(cloud_video_kbps)
            self._delivered_at = t
            padding = cloud_padding_kbps
            self._delivered_padding = float(padding) if padding is not None and math.isfinite(padding) else math.nan
        return rtt

    def video_sent(self, nbytes: int, t: float) -> None:
        self._seen(t)
        self._sent.add(nbytes, t)

    def cloud_result(self, stamp: float, t: float) -> None:
        """A cloud segmentation result for the camera frame stamped `stamp` arrived at `t`."""
        self._seen(t)
        if self._newest_result is None or stamp > self._newest_result:
            self._newest_result = stamp

    # ---- metrics ------------------------------------------------------------------------------
    def _seen(self, t: float) -> None:
        if self._first_t is None:
            self._first_t = t

    def _prune(self, t: float) -> None:
        horizon = t - self.config.window_s
        for seq in [s for s, p in self._probes.items() if p.sent < horizon]:
            del self._probes[seq]
        while self._rtts and self._rtts[0][0] < horizon:
            self._rtts.popleft()

    def rtt_median(self, since: float = -math.inf) -> float:
        """Median RTT of the replies in the window (received at `since` or later)."""
        values = sorted(r for at, r in self._rtts if at >= since)
        if not values:
            return math.nan
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])

    def loss(self, t: float, since: float = -math.inf) -> float:
        """Fraction of the window's probes (sent at `since` or later) old enough to judge that got no
        reply within the timeout.

        Probes sent during an outage (before the first reply after a silence) do not count.
        """
        timeout = self.config.probe_timeout_s
        judged = lost = 0
        for p in self._probes.values():
            if t - p.sent < timeout or self._epoch is None or p.sent < max(self._epoch, since):
                continue
            judged += 1
            if p.replied is None or p.replied - p.sent > timeout:
                lost += 1
        return lost / judged if judged else 0.0

    def sent_kbps(self, t: float) -> float:
        return self._sent.kbps(t)

    def delivered_kbps(self, t: float) -> float:
        if self._delivered_at is None or t - self._delivered_at > self.config.down_after_s:
            return math.nan  # a stale report says nothing about now
        return self._delivered_kbps

    def delivered_padding_kbps(self, t: float) -> float:
        """The link adaptation's probe padding the cloud reported receiving (NaN: unknown)."""
        return self._delivered_padding if math.isfinite(self.delivered_kbps(t)) else math.nan

    def result_age(self, t: float) -> float:
        return math.nan if self._newest_result is None else max(0.0, t - self._newest_result)

    # ---- state machine ------------------------------------------------------------------------
    def assess(self, t: float, strict: bool = True) -> tuple[int, list[str], dict]:
        """The state the metrics call for right now (no hysteresis in time), with the reasons.

        strict=False applies the lower "clear" thresholds that a DEGRADED condition must get
        under before it counts as gone.
        """
        c = self.config
        self._prune(t)
        rtt, loss = self.rtt_median(), self.loss(t)
        sent, delivered, age = self.sent_kbps(t), self.delivered_kbps(t), self.result_age(t)
        metrics = {"rtt_s": rtt, "loss": loss, "sent_kbps": sent, "delivered_kbps": delivered,
                   "result_age_s": age}
        down: list[str] = []
        if self._last_reply is None:
            waited = t - (self._first_t if self._first_t is not None else t)
            down.append(f"no probe reply yet ({waited:.1f} s)")
        elif t - self._last_reply > c.down_after_s:
            down.append(f"no probe reply for {t - self._last_reply:.1f} s (limit {c.down_after_s:g} s)")
        if down:
            return DOWN, down, metrics
        k = 1.0 if strict else c.clear_fraction
        degraded: list[str] = []
        if math.isfinite(rtt) and rtt > c.degraded_rtt_s * k:
            degraded.append(f"RTT median {rtt * 1000:.0f} ms > {c.degraded_rtt_s * k * 1000:.0f} ms")
        if loss > c.degraded_loss * k:
            degraded.append(f"probe loss {loss:.0%} > {c.degraded_loss * k:.0%}")
        if sent >= c.min_sent_kbps and math.isfinite(delivered):
            ratio = delivered / sent
            limit = min(1.0, c.min_delivery_ratio / k)
            if ratio < limit:
                degraded.append(f"cloud receives {ratio:.0%} of the video sent "
                                f"({delivered:.0f} of {sent:.0f} kbit/s, need {limit:.0%})")
        if degraded:
            return DEGRADED, degraded, metrics
        rtt_text = f"{rtt * 1000:.0f} ms" if math.isfinite(rtt) else "n/a"
        return GOOD, [f"RTT {rtt_text}, loss {loss:.0%}"], metrics

    def cloud_late(self, t: float) -> str:
        """Why the cloud's results are late while video is being sent, or "" when they are not."""
        c = self.config
        if c.max_result_age_s <= 0 or self.sent_kbps(t) <= 0.0:
            return ""
        if self._newest_result is None:
            return "no cloud result yet while sending video"
        age = self.result_age(t)
        return f"newest cloud result is {age:.1f} s old (limit {c.max_result_age_s:g} s)" \
            if age > c.max_result_age_s else ""

    def update(self, t: float) -> LinkSnapshot:
        """Advance the state machine to time `t` and return the snapshot (changed=True on a transition)."""
        target, reasons, m = self.assess(t, strict=True)
        if target < self.state:
            # Improving: a DEGRADED condition must also be clear of the lower thresholds.
            relaxed, relaxed_reasons, _ = self.assess(t, strict=False)
            if relaxed > target:
                target, reasons = relaxed, relaxed_reasons
        previous = self.state
        changed = False
        if target > self.state:          # worse: at once
            self._set(target, "; ".join(reasons))
            changed = True
        elif target < self.state:        # better: only after recover_s without a break
            if self._better_since is None:
                self._better_since, self._better_target = t, target
            if target >= self._better_target:     # the worst state seen meanwhile, with its reasons
                self._better_target, self._better_reason = target, "; ".join(reasons)
            held = t - self._better_since
            if held >= self.config.recover_s:
                self._set(self._better_target, f"{self._better_reason} (better for {held:.1f} s)")
                changed = True
            else:
                self._reason = (f"recovering to {STATE_NAMES[self._better_target]}: "
                                f"{held:.1f} of {self.config.recover_s:g} s held ({'; '.join(reasons)})")
        else:
            self._better_since = self._better_target = None
            self._reason = "; ".join(reasons)
        recent = t - self.config.recent_s
        return LinkSnapshot(t=t, state=self.state, reason=self._reason, rtt_s=m["rtt_s"], loss=m["loss"],
                            rtt_recent_s=self.rtt_median(recent),
                            loss_recent=self.loss(t, recent - self.config.probe_timeout_s),
                            sent_kbps=m["sent_kbps"], delivered_kbps=m["delivered_kbps"],
                            delivered_padding_kbps=self.delivered_padding_kbps(t),
                            result_age_s=m["result_age_s"], cloud_late=self.cloud_late(t), changed=changed,
                            previous=previous if changed else None)

    def _set(self, state: int, reason: str) -> None:
        self.state = state
        self._reason = reason
        self._better_since = self._better_target = None
        self.transitions += 1

    def pending_probes(self) -> int:
        return len(self._probes)
