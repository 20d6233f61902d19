"""The bridge's configuration and bookkeeping, free of ROS and Zenoh so it can be tested on its own.

Route entries (parameters `outgoing` and `incoming`), one string each:

    TOPIC TYPE [rate=HZ] [priority=NAME] [reliable|best_effort] [latched] [express] [depth=N]

    TOPIC          absolute ROS topic name, e.g. /camera/image_raw/h264
    TYPE           message type, pkg/msg/Name (pkg/Name is accepted)
    rate=HZ        forward at most HZ messages per second (token bucket, one message of burst);
                   the excess is dropped and counted. Outgoing routes only.
    priority=NAME  Zenoh priority: real_time, interactive_high, interactive_low, data_high,
                   data (default), data_low, background, or 1..7 (1 = real_time).
    reliable       (default) reliable DDS reader/writer; over Zenoh a reliable channel with
                   congestion control "block": when the link is congested the route's own sender
                   thread waits (the DDS callback never does) and its queue drops the oldest samples.
    best_effort    best-effort DDS reader (also matches best-effort publishers); over Zenoh
                   best-effort with congestion control "drop": under congestion samples are dropped
                   instead of queued. For video and other streams where fresh beats complete.
    latched        transient-local topic (e.g. /segmentation/label_info): the sending bridge keeps
                   the last sample and serves it to bridges that start later; the receiving bridge
                   republishes it transient-local. Implies reliable.
    express        send without batching (lower latency, more overhead): small latency-sensitive topics.
    depth=N        DDS history depth and the route's send queue length (default 10, latched 1).

Key mapping (the one zenoh-bridge-ros2dds uses with its `namespace` option): the Zenoh key is the
ROS topic name without its leading '/', prefixed by `key_prefix` when that is not empty:
    /camera/image_raw/h264  with key_prefix "seg"  ->  seg/camera/image_raw/h264
"""
from __future__ import annotations

import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

PRIORITIES = ("real_time", "interactive_high", "interactive_low", "data_high", "data", "data_low",
              "background")
DEFAULT_PRIORITY = "data"
DEFAULT_DEPTH = 10
MAX_DEPTH = 10000
MODES = ("peer", "client")

_TOKEN = r"[A-Za-z_][A-Za-z0-9_]*"
_TOPIC_RE = re.compile(rf"^(/{_TOKEN})+$")
_TYPE_RE = re.compile(r"^([a-z][a-z0-9_]*)/(?:(msg)/)?([A-Z][A-Za-z0-9]*)$")
_KEY_CHUNK_RE = re.compile(r"^[A-Za-z0-9_\-.~+]+$")
_ENDPOINT_RE = re.compile(r"^[a-z][a-z0-9\-]*/\S+$")
_FLAGS = ("reliable", "best_effort", "latched", "express")
_OPTIONS = ("rate", "priority", "depth")
_SYNTAX = "TOPIC TYPE [rate=HZ] [priority=NAME] [reliable|best_effort] [latched] [express] [depth=N]"


@dataclass(frozen=True)
class Route:
    """One topic carried by the bridge in one direction."""

    direction: str            # "outgoing" (DDS -> Zenoh) or "incoming" (Zenoh -> DDS)
    topic: str                # absolute ROS topic name
    type_name: str            # pkg/msg/Name
    key: str                  # Zenoh key expression
    rate: float | None = None  # Hz, outgoing only
    priority: str = DEFAULT_PRIORITY
    reliable: bool = True
    latched: bool = False
    express: bool = False
    depth: int = DEFAULT_DEPTH

    @property
    def arrow(self) -> str:
        return f"{self.topic} -> {self.key}" if self.direction == "outgoing" else f"{self.key} -> {self.topic}"

    def describe(self) -> str:
        opts = [self.type_name, f"priority={self.priority}", "reliable" if self.reliable else "best_effort"]
        if self.rate is not None:
            opts.append(f"rate={self.rate:g}")
        if self.latched:
            opts.append("latched")
        if self.express:
            opts.append("express")
        opts.append(f"depth={self.depth}")
        return f"{self.arrow} ({' '.join(opts)})"


def normalize_key_prefix(prefix: str) -> str:
    """'seg', '/seg/', 'robots/r1' -> without surrounding slashes; raises ValueError if not a plain key."""
    stripped = prefix.strip().strip("/")
    if stripped and not all(_KEY_CHUNK_RE.match(chunk) for chunk in stripped.split("/")):
        raise ValueError(f"key_prefix '{prefix}' must be '/'-separated chunks of letters, digits and _-.~+ "
                         "(no wildcards, no empty chunks)")
    return stripped


def check_topic(topic: str) -> str:
    if not _TOPIC_RE.match(topic) or "__" in topic:
        raise ValueError(f"topic '{topic}' is not an absolute ROS topic name (like /camera/image_raw: starts "
                         "with '/', tokens of letters, digits and '_' not starting with a digit, no '__')")
    return topic


def normalize_type(type_name: str) -> str:
    """'seg_interfaces/msg/H264Packet' or 'seg_interfaces/H264Packet' -> 'seg_interfaces/msg/H264Packet'."""
    match = _TYPE_RE.match(type_name)
    if not match:
        raise ValueError(f"type '{type_name}' is not a message type like seg_interfaces/msg/H264Packet")
    return f"{match.group(1)}/msg/{match.group(3)}"


def topic_to_key(topic: str, prefix: str) -> str:
    """ROS topic -> Zenoh key: drop the leading '/', prepend the prefix (if any)."""
    check_topic(topic)
    return f"{prefix}/{topic[1:]}" if prefix else topic[1:]


def key_to_topic(key: str, prefix: str) -> str:
    """Inverse of topic_to_key for keys under the prefix."""
    if prefix:
        if not key.startswith(prefix + "/"):
            raise ValueError(f"key '{key}' is not under the prefix '{prefix}'")
        key = key[len(prefix) + 1:]
    return check_topic("/" + key)


def parse_priority(value: str) -> str:
    name = value.strip().lower()
    if name.isdigit() and 1 <= int(name) <= len(PRIORITIES):
        return PRIORITIES[int(name) - 1]
    if name not in PRIORITIES:
        raise ValueError(f"priority '{value}' is not one of {', '.join(PRIORITIES)} (or 1..7)")
    return name


def parse_entry(entry: str, direction: str, prefix: str) -> Route:
    """Parse one `outgoing`/`incoming` entry; raises ValueError naming what is wrong."""
    words = entry.split()
    if len(words) < 2:
        raise ValueError(f"expected '{_SYNTAX}'")
    topic, type_name, *options = words
    check_topic(topic)
    fields: dict = {"type_name": normalize_type(type_name)}
    seen: set[str] = set()
    for option in options:
        name, sep, value = option.partition("=")
        name = name.lower()
        if (sep and name not in _OPTIONS) or (not sep and name not in _FLAGS):
            raise ValueError(f"unknown option '{option}'; expected '{_SYNTAX}'")
        if name in seen:
            raise ValueError(f"option '{name}' given twice")
        seen.add(name)
        if name == "rate":
            try:
                rate = float(value)
            except ValueError:
                rate = math.nan
            if not (math.isfinite(rate) and rate > 0):
                raise ValueError(f"rate '{value}' must be a positive number of messages per second")
            fields["rate"] = rate
        elif name == "priority":
            fields["priority"] = parse_priority(value)
        elif name == "depth":
            if not value.isdigit() or not 1 <= int(value) <= MAX_DEPTH:
                raise ValueError(f"depth '{value}' must be an integer within 1..{MAX_DEPTH}")
            fields["depth"] = int(value)
        else:
            fields[name] = True
    if fields.pop("reliable", False) and fields.get("best_effort"):
        raise ValueError("reliable and best_effort exclude each other")
    if fields.pop("best_effort", False):
        if fields.get("latched"):
            raise ValueError("latched topics are reliable; drop best_effort")
        fields["reliable"] = False
    if "rate" in fields and direction == "incoming":
        raise ValueError("rate limits apply where messages enter the link: set rate= on the sending "
                         "bridge's outgoing entry")
    if fields.get("latched") and "depth" not in fields:
        fields["depth"] = 1
    return Route(direction=direction, topic=topic, key=topic_to_key(topic, prefix), **fields)


def parse_routes(outgoing: list[str], incoming: list[str], prefix: str) -> list[Route]:
    """All routes of a bridge, checked together: no topic twice, none in both directions."""
    routes: list[Route] = []
    where: dict[str, str] = {}
    for direction, entries in (("outgoing", outgoing), ("incoming", incoming)):
        for index, entry in enumerate(entries):
            label = f"{direction}[{index}] '{entry.strip()}'"
            try:
                route = parse_entry(entry, direction, prefix)
            except ValueError as exc:
                raise ValueError(f"{label}: {exc}") from None
            if route.topic in where:
                other = where[route.topic]
                if other.startswith(direction):
                    raise ValueError(f"{label}: topic {route.topic} is already listed in {other}")
                raise ValueError(f"{label}: topic {route.topic} is both outgoing and incoming "
                                 f"({other}); a bridge carries a topic one way")
            where[route.topic] = label
            routes.append(route)
    return routes


def check_endpoints(name: str, endpoints: list[str]) -> list[str]:
    for endpoint in endpoints:
        if not _ENDPOINT_RE.match(endpoint):
            raise ValueError(f"{name} endpoint '{endpoint}' is not a Zenoh locator like tcp/10.0.0.2:7447")
    return list(endpoints)


def zenoh_overrides(mode: str, connect: list[str], listen: list[str], scouting_multicast: bool,
                    has_config_file: bool) -> list[tuple[str, str]]:
    """(key, JSON5 value) pairs to insert into the Zenoh config, over the user's config file.

    Empty mode/connect/listen keep what the config file says (or Zenoh's defaults, peer mode).
    Multicast scouting is always set: off unless asked for, so bridges only meet the endpoints named.
    Shared memory is always off: Zenoh would otherwise hand payloads over 3 kB to a peer on the same
    machine through /dev/shm, around the network link the bridge is there to cross (and around any
    shaping or fault of it, as in a test or the demo on one machine).
    """
    if mode and mode not in MODES:
        raise ValueError(f"mode '{mode}' is not one of {', '.join(MODES)}")
    out: list[tuple[str, str]] = []
    if mode or not has_config_file:
        out.append(("mode", json.dumps(mode or "peer")))
    if connect:
        out.append(("connect/endpoints", json.dumps(check_endpoints("connect", connect))))
    if listen:
        out.append(("listen/endpoints", json.dumps(check_endpoints("listen", listen))))
    out.append(("scouting/multicast/enabled", json.dumps(bool(scouting_multicast))))
    out.append(("transport/shared_memory/enabled", "false"))
    return out


# Liveliness tokens announce each outgoing route with its type, so receiving bridges can log routes
# coming and going, check types and fetch latched samples. '/' inside a chunk is escaped as '§'.
ANNOUNCE_ROOT = "@seg_bridge"
_ESCAPE = "§"


def announce_key(zid: str, route_key: str, type_name: str) -> str:
    return f"{ANNOUNCE_ROOT}/{zid}/pub/{route_key.replace('/', _ESCAPE)}/{type_name.replace('/', _ESCAPE)}"


def announce_pattern(route_key: str) -> str:
    return f"{ANNOUNCE_ROOT}/*/pub/{route_key.replace('/', _ESCAPE)}/*"


def parse_announce(key: str) -> tuple[str, str, str]:
    """announce_key(...) -> (zid, route key, type name)."""
    parts = key.split("/")
    if len(parts) != 5 or parts[0] != ANNOUNCE_ROOT or parts[2] != "pub":
        raise ValueError(f"not a route announcement: {key}")
    return parts[1], parts[3].replace(_ESCAPE, "/"), parts[4].replace(_ESCAPE, "/")


def schema_of(encoding: str) -> str | None:
    """'application/cdr;pkg/msg/T' -> 'pkg/msg/T'; None when the encoding names no schema."""
    _, _, schema = encoding.partition(";")
    return schema or None


class TokenBucket:
    """Rate limiter: `rate` tokens per second, at most `burst` stored; each message takes one."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = burst
        self._last = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0 - 1e-9:
            self._tokens -= 1.0
            return True
        return False


@dataclass
class Counters:
    """Traffic of one route. Each field has a single writer thread; readers take snapshots."""

    messages: int = 0
    bytes: int = 0
    dropped_rate: int = 0     # over the route's rate limit
    dropped_queue: int = 0    # send queue full (link slow or down)
    dropped_type: int = 0     # received with another message type
    unmatched: int = 0        # not sent: no remote subscriber (other bridge down or not routing it)
    errors: int = 0           # refused by Zenoh or DDS

    def snapshot(self) -> "Counters":
        return Counters(**vars(self))

    def minus(self, other: "Counters") -> "Counters":
        return Counters(**{k: v - getattr(other, k) for k, v in vars(self).items()})

    def any(self) -> bool:
        return any(vars(self).values())


def format_counters(route: Route, delta: Counters, total: Counters, seconds: float) -> str:
    rate = delta.messages / seconds if seconds > 0 else 0.0
    mbit = delta.bytes * 8 / seconds / 1e6 if seconds > 0 else 0.0
    verb = "sent" if route.direction == "outgoing" else "received"
    return (f"{'out' if route.direction == 'outgoing' else 'in'} {route.topic}: {verb} {delta.messages} msgs "
            f"{_human(delta.bytes)} in {seconds:.1f} s ({rate:.1f} msg/s, {mbit:.2f} Mbit/s), dropped "
            f"{_drops(delta)}; total {total.messages} msgs {_human(total.bytes)}, dropped {_drops(total)}")


def _drops(c: Counters) -> str:
    parts = [f"{n} {what}" for n, what in ((c.dropped_rate, "by rate limit"),
                                            (c.dropped_queue, "by full send queue"),
                                            (c.unmatched, "with no remote subscriber"),
                                            (c.dropped_type, "of another type"),
                                            (c.errors, "on errors")) if n]
    return " + ".join(parts) if parts else "none"


def _human(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


@dataclass
class LinkLog:
    """Zenoh link up/down transitions, logged at most once per `interval` seconds.

    event() returns the line to log now, or None when throttled; flush() (call it periodically)
    returns a summary of the throttled transitions once the interval has passed.
    """

    interval: float = 5.0
    clock: Callable[[], float] = time.monotonic
    peers: dict[str, str] = field(default_factory=dict)   # zid -> kind (peer/router) of open links
    _last_log: float = -math.inf
    _ups: int = 0
    _downs: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def event(self, up: bool, zid: str, kind: str) -> str | None:
        with self._lock:
            if up:
                self.peers[zid] = kind
                self._ups += 1
            else:
                self.peers.pop(zid, None)
                self._downs += 1
            now = self.clock()
            if now - self._last_log < self.interval:
                return None
            line = self._line(f"link {'up' if up else 'down'}: {kind} {zid}")
            self._last_log = now
            return line

    def flush(self) -> str | None:
        with self._lock:
            if not (self._ups or self._downs) or self.clock() - self._last_log < self.interval:
                return None
            self._last_log = self.clock()
            head = "link up" if not self._downs else "link down" if not self._ups else "link flapping"
            return self._line(head)

    def _line(self, head: str) -> str:
        flaps = self._ups + self._downs
        extra = f" ({self._ups} up / {self._downs} down transitions since last report)" if flaps > 1 else ""
        self._ups = self._downs = 0
        now_up = ", ".join(f"{k} {z}" for z, k in sorted(self.peers.items())) or "none"
        return f"{head}{extra}; open links: {now_up}"

    @property
    def up(self) -> bool:
        return bool(self.peers)
