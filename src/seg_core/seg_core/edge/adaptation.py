"""The edge adapts its stream to the link: a ladder of (scale, bitrate, fps) rungs and the controller
that picks one (CloudSeg §3.3, after AWStream).

Each rung carries the kbit/s it was measured to send and the mIoU the cloud scored on it
(``python -m seg_core.train ladder``); a ladder keeps only the Pareto-optimal rungs, best first.

Pure bookkeeping, no clock reads and no ROS: every call takes the current time ``t`` (seconds, the
same clock for all calls). ``AdaptationController.update`` takes what the link monitor sees and
returns the rung to send (``AdaptationConfig`` holds the thresholds):

- Trouble: the cloud receives less than ``1 - tolerance`` of what the edge sends, and at least
  ``min_shortfall_kbps`` less (a shortfall: the two are 1 s windows at either end, and a few large
  frames make a low rate look short for a moment),
  the RTT rises more than ``rtt_rise_s`` over its baseline (the lowest seen over
  ``baseline_window_s``), no probe reply came lately (once one has: an outage stays trouble however
  long it lasts, so the edge never climbs back up a silent link), or the probe loss exceeds
  ``max_loss``. The cloud results' latency counts
  only during a probe (rising more than ``latency_rise_s``): otherwise it measures the cloud's
  compute as much as the link, and a busy cloud is the arbiter's business, not the link's.
- Trouble lasting ``trouble_s`` steps down at once. On a shortfall it skips to the highest rung that
  fits in the delivered rate with ``headroom`` to spare (at least one rung down), and when even the
  lowest rung does not fit, the edge keeps sending it and ``use_edge`` tells the arbiter to use
  ENet. Without a shortfall (the RTT or loss rose, or no delivery report comes) it steps down one
  rung; trouble that lasts on the lowest rung also means it does not fit: ``use_edge``. Right after
  a step down, trouble must last ``drain_s`` to step again: the queue the old rung left behind
  keeps the RTT up for a while.
- Stepping up needs a probe: after ``stable_s`` without trouble the edge pads its stream up to what
  the next rung would need (with the headroom) for ``probe_s``: ``probe_target_kbps`` is the rate
  the link must carry, video and padding together, so a video that sends less than its rung's
  measured rate is topped up by more padding. Trouble aborts the probe at once, leaves the rung as
  it is and doubles the calm time before the next probe (up to ``max_stable_s``); a probe that
  lasts steps up one rung (or back from ENet to the lowest rung). A step down within ``confirm_s``
  of a step up counts as a failed probe too: the calm time keeps doubling instead of starting
  afresh. So a steady cap costs short failed probes, and at most a rare rung change.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

SHIPPED_LADDER = Path(__file__).with_name("ladder.yaml")   # measured by `python -m seg_core.train ladder`


@dataclass(frozen=True)
class Rung:
    name: str
    scale: float    # of the camera's width and height
    bitrate: int    # bit/s the encoder is set to
    fps: float      # frames sent per second
    kbps: float     # measured kbit/s on the link
    miou: float     # measured mIoU of the cloud's labels over every camera frame

    def describe(self) -> str:
        return f"{self.name} ({self.kbps:.0f} kbit/s)"


def pareto(rungs) -> list[Rung]:
    """The rungs no cheaper rung matches in mIoU, best (highest kbit/s) first."""
    kept: list[Rung] = []
    for rung in sorted(rungs, key=lambda r: (r.kbps, -r.miou)):
        if not kept or rung.miou > kept[-1].miou:
            kept.append(rung)
    return kept[::-1]


def _rung(entry, index: int) -> Rung:
    names = [f.name for f in fields(Rung)]
    if not isinstance(entry, dict) or set(entry) != set(names):
        raise ValueError(f"rung {index} must have exactly the keys {', '.join(names)}, got {entry!r}")
    name, scale, bitrate, fps, kbps, miou = (entry[n] for n in names)
    if not isinstance(name, str) or not name:
        raise ValueError(f"rung {index}: name must be a non-empty string, got {name!r}")
    numbers = {"scale": scale, "fps": fps, "kbps": kbps, "miou": miou}
    for key, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"rung {name}: {key} must be a number, got {value!r}")
    if isinstance(bitrate, bool) or not isinstance(bitrate, int) or bitrate <= 0:
        raise ValueError(f"rung {name}: bitrate must be a positive integer (bit/s), got {bitrate!r}")
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"rung {name}: scale must be within (0, 1], got {scale}")
    for key in ("fps", "kbps"):
        if not numbers[key] > 0:
            raise ValueError(f"rung {name}: {key} must be > 0, got {numbers[key]}")
    if not 0.0 <= miou <= 1.0:
        raise ValueError(f"rung {name}: miou must be within [0, 1], got {miou}")
    return Rung(name, float(scale), bitrate, float(fps), float(kbps), float(miou))


def load_ladder(path) -> list[Rung]:
    """The rungs of the YAML file ``path`` ({rungs: [{name, scale, bitrate, fps, kbps, miou}, ...]}),
    best first; ValueError when a rung is invalid or the ladder is empty or not Pareto-optimal."""
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("rungs"), list) or not data["rungs"]:
        raise ValueError(f"{path}: expected 'rungs:' with a list of at least one rung")
    rungs = [_rung(entry, i) for i, entry in enumerate(data["rungs"])]
    names = [r.name for r in rungs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{path}: rung names must be unique, repeated: {', '.join(repeated)}")
    rungs.sort(key=lambda r: -r.kbps)
    best = pareto(rungs)
    dominated = [
        f"{r.name} ({r.kbps:g} kbit/s, mIoU {r.miou:g}) is no better than "
        + next(f"{b.name} ({b.kbps:g} kbit/s, mIoU {b.miou:g})" for b in best if b.kbps <= r.kbps and b.miou >= r.miou)
        for r in rungs if r not in best]
    if dominated:
        raise ValueError(f"{path}: the ladder is not Pareto-optimal: {'; '.join(dominated)}")
    return rungs


@dataclass
class AdaptationConfig:
    tolerance: float = 0.2          # delivered below (1 - tolerance) x sent is a shortfall ...
    min_shortfall_kbps: float = 30.0  # ... when it is also at least this much below
    trouble_s: float = 0.5          # a shortfall or congestion lasting this long steps down (< 1 s)
    drain_s: float = 1.5            # ... this long right after a step down (the old rung's queue drains)
    headroom: float = 0.15          # a rung fits when its kbit/s x (1 + headroom) is delivered
    rtt_rise_s: float = 0.1         # RTT this far above its baseline is congestion
    latency_rise_s: float = 0.25    # during a probe, cloud result latency this far above its baseline aborts it
    max_loss: float = 0.2           # probe loss above this is trouble
    baseline_window_s: float = 30.0  # baselines are the lowest RTT / latency seen over this window
    stable_s: float = 0.6           # calm this long (after a change) before probing for the next rung
    probe_s: float = 1.0            # a probe must stay calm this long to step up (the rates are 1 s windows)
    max_stable_s: float = 2.5       # each failed probe doubles the calm time before the next, up to this
    confirm_s: float = 5.0          # a step up that lasts this long is confirmed; one undone sooner failed

    def validate(self) -> None:
        for name in ("trouble_s", "drain_s", "rtt_rise_s", "latency_rise_s", "baseline_window_s", "stable_s",
                     "probe_s", "confirm_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.trouble_s >= 1.0:
            raise ValueError(f"trouble_s must be < 1 s to step down within 1 s of a shortfall, got {self.trouble_s}")
        if not 0.0 <= self.tolerance < 1.0:
            raise ValueError(f"tolerance must be within [0, 1), got {self.tolerance}")
        if not self.min_shortfall_kbps >= 0:
            raise ValueError(f"min_shortfall_kbps must be >= 0, got {self.min_shortfall_kbps}")
        if not self.headroom >= 0:
            raise ValueError(f"headroom must be >= 0, got {self.headroom}")
        if not 0.0 < self.max_loss <= 1.0:
            raise ValueError(f"max_loss must be within (0, 1], got {self.max_loss}")
        if not self.max_stable_s >= self.stable_s:
            raise ValueError(f"max_stable_s {self.max_stable_s} must be >= stable_s {self.stable_s}")


@dataclass
class Decision:
    rung: int           # index into the ladder, 0 = top
    use_edge: bool      # the lowest rung does not fit: the arbiter should use ENet
    probe_target_kbps: float   # kbit/s the link should carry now, video and padding; 0 = not probing
    reason: str
    changed: bool       # rung or use_edge changed at this update


class _Baseline:
    """The lowest value seen over the last ``window_s``."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._values: deque[tuple[float, float]] = deque()

    def add(self, t: float, value: float) -> float:
        """Record ``value`` (NaN: nothing) and return the baseline (NaN before any value)."""
        if math.isfinite(value):
            self._values.append((t, value))
        while self._values and self._values[0][0] < t - self.window_s:
            self._values.popleft()
        return min((v for _, v in self._values), default=math.nan)


class AdaptationController:
    def __init__(self, ladder: list[Rung], config: AdaptationConfig | None = None) -> None:
        self.config = config or AdaptationConfig()
        self.config.validate()
        if not ladder:
            raise ValueError("the ladder needs at least one rung")
        if pareto(ladder) != list(ladder):
            raise ValueError("the ladder must be Pareto-optimal and best first (see load_ladder)")
        self.ladder = list(ladder)
        self.rung = 0
        self.use_edge = False
        self._rtt = _Baseline(self.config.baseline_window_s)
        self._latency = _Baseline(self.config.baseline_window_s)
        self._replied = False              # a probe reply has come at some time
        self._trouble_since: float | None = None
        self._patience = self.config.trouble_s   # how long trouble must last to step down
        self._calm_since: float | None = None
        self._wait = self.config.stable_s
        self._probe_since: float | None = None
        self._climb: tuple[float, float] | None = None   # (when, calm time before it) of the last step up,
                                                          # until it is confirmed

    def update(self, t: float, sent_kbps: float, delivered_kbps: float, rtt_s: float, loss: float,
               result_latency_s: float) -> Decision:
        """Advance to time ``t``: what the edge sends (video and probe padding), what the cloud
        reports receiving (NaN: unknown), a recent RTT and the cloud results' latency (NaN: unknown)
        and the probe loss fraction. Returns the rung to send now."""
        troubles = self._troubles(t, sent_kbps, delivered_kbps, rtt_s, loss, result_latency_s)
        before = (self.rung, self.use_edge)
        if self._probe_since is not None:
            reason = self._probing(t, troubles)
        elif troubles:
            reason = self._troubled(t, troubles, sent_kbps, delivered_kbps)
        else:
            reason = self._calm(t)
        return Decision(self.rung, self.use_edge, self._probe_target_kbps() if self._probe_since is not None else 0.0,
                        reason, (self.rung, self.use_edge) != before)

    # ---- what the link says -------------------------------------------------------------------
    def _troubles(self, t, sent, delivered, rtt, loss, latency) -> list[str]:
        c = self.config
        found = []
        if self._shortfall(sent, delivered):
            found.append(f"delivered {delivered:.0f} of {sent:.0f} kbit/s")
        rises = [("RTT", rtt, self._rtt.add(t, rtt), c.rtt_rise_s)]
        latency_baseline = self._latency.add(t, latency)
        if self._probe_since is not None:
            rises.append(("result latency", latency, latency_baseline, c.latency_rise_s))
        for label, value, baseline, rise in rises:
            if math.isfinite(value) and value > baseline + rise:
                found.append(f"{label} {value * 1000:.0f} ms > {baseline * 1000:.0f} + {rise * 1000:.0f} ms")
        self._replied = self._replied or math.isfinite(rtt)
        if not math.isfinite(rtt) and self._replied:
            found.append("no recent probe reply")    # replies stuck behind a queue: no news is not calm
        if math.isfinite(loss) and loss > c.max_loss:
            found.append(f"probe loss {loss:.0%} > {c.max_loss:.0%}")
        return found

    # ---- the three situations -----------------------------------------------------------------
    def _probing(self, t: float, troubles: list[str]) -> str:
        target, elapsed = self._target(), t - self._probe_since
        if troubles:
            self._probe_since = None
            self._wait = min(2.0 * self._wait, self.config.max_stable_s)
            self._calm_since = self._trouble_since = t
            return (f"probe for {target} failed after {elapsed:.1f} s ({'; '.join(troubles)}): "
                    f"stay on {self._where()}, next probe after {self._wait:.1f} s calm")
        if elapsed < self.config.probe_s:
            return f"probing for {target}: {self._probe_target_kbps():.0f} kbit/s, {elapsed:.1f} of {self.config.probe_s:g} s"
        self._probe_since = None
        self._climb = (t, self._wait)
        self._wait = self.config.stable_s
        if self.use_edge:
            self.use_edge = False
        else:
            self.rung -= 1
        self._changed(t)
        return f"probe held {elapsed:.1f} s: up to {self._where()}"

    def _shortfall(self, sent: float, delivered: float) -> bool:
        c = self.config
        return (math.isfinite(delivered) and delivered < (1.0 - c.tolerance) * sent
                and sent - delivered >= c.min_shortfall_kbps)

    def _troubled(self, t: float, troubles: list[str], sent: float, delivered: float) -> str:
        if self._trouble_since is None:
            self._trouble_since = t
        self._calm_since = None
        lasted = t - self._trouble_since
        what = f"{'; '.join(troubles)} for {lasted:.1f} s"
        if self.use_edge:
            return f"{what}: {self._where()}"
        if lasted < self._patience:
            return f"{what}: on {self._where()}"
        if not self._shortfall(sent, delivered):     # congestion, loss, no report: one rung at a time
            if self.rung == len(self.ladder) - 1:
                self.use_edge = True
            else:
                self.rung += 1
        else:
            fits = [i for i in range(self.rung + 1, len(self.ladder))
                    if self.ladder[i].kbps * (1 + self.config.headroom) <= delivered]
            if fits:
                self.rung = fits[0]
            else:
                self.rung, self.use_edge = len(self.ladder) - 1, True
        if self._climb is not None:   # the last step up did not hold: it was a failed probe
            self._wait = min(2.0 * self._climb[1], self.config.max_stable_s)
            what += f" (the step up {t - self._climb[0]:.1f} s ago did not hold)"
        else:
            self._wait = self.config.stable_s
        self._climb = None
        self._changed(t)
        self._patience = self.config.drain_s     # the queue the old rung left takes a while to drain
        return f"{what}: down to {self._where()}"

    def _calm(self, t: float) -> str:
        self._trouble_since = None
        self._patience = self.config.trouble_s
        if self._calm_since is None:
            self._calm_since = t
        if self._climb is not None and t - self._climb[0] >= self.config.confirm_s:
            self._climb = None
        if self.rung == 0 and not self.use_edge:
            return f"on the top rung {self._where()}"
        calm = t - self._calm_since
        if calm < self._wait:
            return f"on {self._where()}, calm {calm:.1f} of {self._wait:.1f} s before probing for {self._target()}"
        self._probe_since = t
        return f"probing for {self._target()}: {self._probe_target_kbps():.0f} kbit/s for {self.config.probe_s:g} s"

    # ---- helpers ------------------------------------------------------------------------------
    def _changed(self, t: float) -> None:
        """After a rung change trouble and calm count afresh."""
        self._trouble_since = t if self._trouble_since is not None else None
        self._calm_since = t

    def _next(self) -> Rung:
        return self.ladder[self.rung if self.use_edge else self.rung - 1]

    def _target(self) -> str:
        return f"{self._next().describe()}{' (leaving ENet)' if self.use_edge else ''}"

    def _probe_target_kbps(self) -> float:
        return self._next().kbps * (1.0 + self.config.headroom)

    def _where(self) -> str:
        here = self.ladder[self.rung].describe()
        return f"{here}, ENet: the lowest rung does not fit" if self.use_edge else here
