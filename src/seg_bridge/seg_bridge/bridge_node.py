"""Zenoh bridge node: carries the configured ROS topics between hosts over Zenoh; DDS stays local.

Each side runs one `zenoh_bridge` (e.g. `edge_bridge` on the robot, `cloud_bridge` on the server).
`outgoing` topics are read from local DDS and put on Zenoh; `incoming` topics are taken from Zenoh
and published on local DDS. Payloads are the messages' CDR bytes, forwarded without deserializing.
The entry syntax and the topic -> key mapping are described in seg_bridge/routes.py and README.md.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from pathlib import Path

import zenoh
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from seg_ros.message_types import load_message_class
from seg_ros.node import PipelineNode, run

from .routes import (Counters, LinkLog, Route, TokenBucket, announce_key, announce_pattern, format_counters,
                     normalize_key_prefix, parse_announce, parse_routes, schema_of, zenoh_overrides)

STRINGS = Parameter.Type.STRING_ARRAY  # declared typed, without a default value: "not set" is []
LATCHED_QUERY_TIMEOUT_S = 5.0
CLIENT_RETRY_S = 5.0
CLOSE_TIMEOUT_S = 3.0          # the longest a node waits at shutdown for its Zenoh session to close


def dds_qos(route: Route, writer: bool) -> QoSProfile:
    """Writers (incoming routes) are reliable so any subscriber matches; readers follow the entry."""
    reliable = writer or route.reliable
    return QoSProfile(
        depth=route.depth, history=HistoryPolicy.KEEP_LAST,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if route.latched else DurabilityPolicy.VOLATILE)


def zenoh_error(exc: Exception) -> str:
    """A Zenoh error on one line, without the Rust source location."""
    text = " ".join(str(exc).split())
    return re.sub(r"\s+at \S+\.rs:\d+(:\d+)?\.?", "", text)


def _policy_name(kind) -> str:
    return str(getattr(kind, "name", kind)).removeprefix("RMW_QOS_POLICY_")


def _encoding(route: Route) -> zenoh.Encoding:
    return zenoh.Encoding.APPLICATION_CDR.with_schema(route.type_name)


class OutgoingRoute:
    """DDS -> Zenoh. The DDS callback only queues; a thread of its own puts on Zenoh, so a slow or
    dead link can hold up this thread but never the executor."""

    def __init__(self, node: "ZenohBridgeNode", route: Route, msg_class):
        self.node, self.route = node, route
        self.counters = Counters()
        self._limiter = TokenBucket(route.rate) if route.rate else None
        self._queue: deque[bytes] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._publisher = None
        self._matched = False
        self._last: bytes | None = None   # latched routes: served to late joiners
        self._entities: list = []
        topic = route.topic
        self.subscription = node.create_subscription(
            msg_class, topic, self._on_dds, dds_qos(route, writer=False), raw=True,
            event_callbacks=SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos))
        self._thread = threading.Thread(target=self._send_loop, name=f"send {topic}", daemon=True)
        self._thread.start()

    def _on_incompatible_qos(self, info) -> None:
        policy = _policy_name(info.last_policy_kind)
        hint = " (mark the entry best_effort)" if policy == "RELIABILITY" and self.route.reliable else ""
        self.node.get_logger().warning(
            f"{self.route.topic}: a publisher's QoS is incompatible with this bridge's "
            f"{'reliable' if self.route.reliable else 'best_effort'} reader ({policy}); its messages are "
            f"not bridged{hint}")

    def attach(self, session: zenoh.Session) -> None:
        r = self.route
        publisher = session.declare_publisher(
            r.key, encoding=_encoding(r), priority=getattr(zenoh.Priority, r.priority.upper()),
            congestion_control=zenoh.CongestionControl.BLOCK if r.reliable else zenoh.CongestionControl.DROP,
            reliability=zenoh.Reliability.RELIABLE if r.reliable else zenoh.Reliability.BEST_EFFORT,
            express=r.express, allowed_destination=zenoh.Locality.REMOTE)
        self._entities.append(publisher.declare_matching_listener(self._on_matching))
        self._matched = publisher.matching_status
        if r.latched:
            self._entities.append(session.declare_queryable(r.key, self._on_query, complete=True,
                                                            allowed_origin=zenoh.Locality.REMOTE))
        # Announced last: a bridge that sees the announcement can already query the latched sample.
        self._entities.append(session.liveliness().declare_token(announce_key(str(session.zid()), r.key,
                                                                              r.type_name)))
        with self._cond:
            self._publisher = publisher
            self._cond.notify()

    def _on_matching(self, status) -> None:
        self._matched = status.matching

    def _on_dds(self, data: bytes) -> None:
        if self.route.latched:
            self._last = data
        if self._limiter is not None and not self._limiter.allow():
            self.counters.dropped_rate += 1
            return
        with self._cond:
            if len(self._queue) >= self.route.depth:
                self._queue.popleft()
                self.counters.dropped_queue += 1
            self._queue.append(data)
            self._cond.notify()

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (self._publisher is None or not self._queue):
                    self._cond.wait()
                if self._stopping:
                    return
                data = self._queue.popleft()
                publisher = self._publisher
            if not self._matched:
                self.counters.unmatched += 1
                continue
            try:
                publisher.put(data)
            except Exception as exc:  # session closing, or Zenoh refusing the sample
                self.counters.errors += 1
                if not self._stopping:
                    self.node.get_logger().error(f"{self.route.topic}: Zenoh put failed: {exc}",
                                                 throttle_duration_sec=5.0)
                continue
            self.counters.messages += 1
            self.counters.bytes += len(data)

    def _on_query(self, query: zenoh.Query) -> None:
        last = self._last
        try:
            if last is not None:
                query.reply(self.route.key, last, encoding=_encoding(self.route))
        except Exception as exc:
            self.node.get_logger().warning(f"{self.route.topic}: could not answer a query: {exc}",
                                           throttle_duration_sec=5.0)
        finally:
            query.drop()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=1.0)


class IncomingRoute:
    """Zenoh -> DDS. Samples are published from Zenoh's callback thread as raw CDR bytes."""

    def __init__(self, node: "ZenohBridgeNode", route: Route, msg_class):
        self.node, self.route = node, route
        self.counters = Counters()
        self._lock = threading.Lock()
        self._last: bytes | None = None   # latched routes: the sample republished last
        self._entities: list = []
        self._session: zenoh.Session | None = None
        self._stopping = False            # shutting down: Zenoh callbacks return at once
        self.publisher = node.create_publisher(
            msg_class, route.topic, dds_qos(route, writer=True),
            event_callbacks=PublisherEventCallbacks(
                incompatible_qos=lambda info: node.get_logger().warning(
                    f"{route.topic}: a subscriber's QoS is incompatible with this bridge's reliable "
                    f"writer ({_policy_name(info.last_policy_kind)})")))

    def attach(self, session: zenoh.Session) -> None:
        self._session = session
        self._entities.append(session.declare_subscriber(self.route.key, self._on_sample,
                                                         allowed_origin=zenoh.Locality.REMOTE))
        self._entities.append(session.liveliness().declare_subscriber(
            announce_pattern(self.route.key), self._on_announcement, history=True))

    def _on_sample(self, sample: zenoh.Sample) -> None:
        if self._stopping or sample.kind != zenoh.SampleKind.PUT:
            return
        schema = schema_of(str(sample.encoding))
        if schema is not None and schema != self.route.type_name:
            self.counters.dropped_type += 1
            self.node.get_logger().error(
                f"{self.route.topic}: dropping samples of type {schema} on {self.route.key}; "
                f"this bridge expects {self.route.type_name}", throttle_duration_sec=10.0)
            return
        self._deliver(sample.payload.to_bytes())

    def _deliver(self, data: bytes) -> None:
        with self._lock:
            if self.route.latched:
                if data == self._last:
                    return  # the same latched sample again (query after a reconnect)
                self._last = data
            if self.node.publish(self.publisher, data):
                self.counters.messages += 1
                self.counters.bytes += len(data)
            else:
                self.counters.errors += 1

    def _on_announcement(self, sample: zenoh.Sample) -> None:
        if self._stopping:
            return
        try:
            zid, _, type_name = parse_announce(str(sample.key_expr))
        except ValueError:
            return
        log = self.node.get_logger()
        if sample.kind == zenoh.SampleKind.DELETE:
            log.info(f"{self.route.topic}: remote publisher on bridge {zid} gone")
            return
        log.info(f"{self.route.topic}: remote publisher on bridge {zid} ({type_name})")
        if type_name != self.route.type_name:
            log.error(f"{self.route.topic}: bridge {zid} sends {type_name}, this bridge expects "
                      f"{self.route.type_name}; its samples will be dropped")
        elif self.route.latched:
            self.fetch_latched()

    def fetch_latched(self) -> None:
        """Ask sending bridges for the last sample of a latched topic (late start, reconnect)."""
        session = self._session
        if session is None:
            return
        try:
            session.get(self.route.key, self._on_reply, target=zenoh.QueryTarget.ALL,
                        timeout=LATCHED_QUERY_TIMEOUT_S)
        except Exception as exc:
            self.node.get_logger().warning(f"{self.route.topic}: latched query failed: {exc}",
                                           throttle_duration_sec=5.0)

    def _on_reply(self, reply: zenoh.Reply) -> None:
        sample = reply.ok
        if sample is not None:
            self._on_sample(sample)

    def stop(self) -> None:
        self._stopping = True


class ZenohBridgeNode(PipelineNode):
    STAGE = "zenoh_bridge"
    PARAMETERS = {
        "mode": ("", "Zenoh mode: peer (meets the other bridge directly) or client (through a zenohd "
                     "router); empty: the zenoh_config file's mode, else peer"),
        "connect": (STRINGS, "Zenoh endpoints to connect to, e.g. ['tcp/203.0.113.7:7447']; "
                             "overrides the zenoh_config file's connect endpoints"),
        "listen": (STRINGS, "Zenoh endpoints to listen on, e.g. ['tcp/0.0.0.0:7447']; "
                            "overrides the zenoh_config file's listen endpoints"),
        "zenoh_config": ("", "path to a Zenoh JSON5 config file (TLS, authentication, timeouts...); "
                             "the parameters above override it"),
        "scouting_multicast": (False, "discover Zenoh peers by UDP multicast on the LAN; off: only the "
                                      "endpoints given are used (overrides zenoh_config)"),
        "key_prefix": ("seg", "prefix of the Zenoh keys: topic /a/b travels as <key_prefix>/a/b; "
                              "both bridges must use the same"),
        "outgoing": (STRINGS, "topics sent from local DDS to Zenoh: 'TOPIC TYPE [rate=HZ] "
                              "[priority=NAME] [reliable|best_effort] [latched] [express] [depth=N]'"),
        "incoming": (STRINGS, "topics received from Zenoh and published on local DDS, same syntax "
                              "(rate= is not allowed: limit rates on the sending side)"),
        "stats_period": (10.0, "seconds between traffic counter lines in the log; 0 disables them"),
    }

    def __init__(self):
        # Set before anything can fail: destroy_node() runs on a half-built node too.
        self.out_routes: list[OutgoingRoute] = []
        self.in_routes: list[IncomingRoute] = []
        self._session: zenoh.Session | None = None
        self._closing = False
        super().__init__("zenoh_bridge")
        p = {k: ([] if v is None else v) for k, v in self.params.items()}
        if p["stats_period"] < 0:
            raise ValueError(f"stats_period {p['stats_period']} must be >= 0")
        prefix = normalize_key_prefix(p["key_prefix"])
        routes = parse_routes(list(p["outgoing"]), list(p["incoming"]), prefix)
        if not routes:
            raise ValueError("no topics to bridge: set outgoing and/or incoming")
        classes = {}
        for route in routes:
            try:
                classes[route.type_name] = classes.get(route.type_name) or load_message_class(route.type_name)
            except ValueError as exc:
                raise ValueError(f"{route.direction} {route.topic}: {exc}") from None
        self._config, self._mode = self._zenoh_config(p)
        self._links = LinkLog()
        self._session_entities: list = []
        self.out_routes = [OutgoingRoute(self, r, classes[r.type_name]) for r in routes if r.direction == "outgoing"]
        self.in_routes = [IncomingRoute(self, r, classes[r.type_name]) for r in routes if r.direction == "incoming"]
        for route in routes:
            self.get_logger().info(f"{route.direction}: {route.describe()}")
        where = f"connect {self._endpoints('connect')}"
        if self._mode == "peer":
            where += f", listen {self._endpoints('listen')}"
            if (self._endpoints("connect") == "none" and not p["scouting_multicast"]
                    and all(e.endswith(":0") for e in self._endpoints("listen").split(", "))):
                self.get_logger().warning("no connect endpoint and no fixed listen port: no other bridge can "
                                          "reach this one (set connect or listen)")
        self._where = where
        if self._mode == "client":
            # A client has no link without its router: wait for it in the background, DDS side running.
            self.get_logger().info(f"Zenoh client: waiting for a router ({where})")
            threading.Thread(target=self._open_in_background, name="zenoh open", daemon=True).start()
        else:
            try:
                session = zenoh.open(self._config)
            except zenoh.ZError as exc:
                raise ValueError(f"cannot open the Zenoh session ({where}): {zenoh_error(exc)}") from None
            self._attach(session)
        self._stats_prev = {id(r): Counters() for r in self.out_routes + self.in_routes}
        self._stats_time = time.monotonic()
        if p["stats_period"] > 0:
            self.create_timer(p["stats_period"], self._log_stats)
        self.create_timer(1.0, self._log_links)

    def _zenoh_config(self, p: dict) -> tuple[zenoh.Config, str]:
        path = p["zenoh_config"]
        if path:
            if not Path(path).is_file():
                raise FileNotFoundError(f"zenoh_config file {path} not found")
            try:
                config = zenoh.Config.from_file(path)
            except zenoh.ZError as exc:
                raise ValueError(f"zenoh_config {path}: {zenoh_error(exc)}") from None
        else:
            config = zenoh.Config()
        for key, value in zenoh_overrides(p["mode"], list(p["connect"]), list(p["listen"]),
                                          p["scouting_multicast"], bool(path)):
            try:
                config.insert_json5(key, value)
            except zenoh.ZError as exc:
                raise ValueError(f"Zenoh refuses {key}={value}: {zenoh_error(exc)}") from None
        mode = (config.get_json("mode") or "null").strip('"')
        mode = "peer" if mode == "null" else mode
        if mode not in ("peer", "client"):
            raise ValueError(f"Zenoh mode '{mode}' (from {path}) is not peer or client")
        if mode == "client":
            if config.get_json("connect/endpoints") in ("[]", "null") and not p["scouting_multicast"]:
                raise ValueError("mode client needs connect endpoints (the router's), e.g. "
                                 "connect: ['tcp/203.0.113.7:7447']")
            config.insert_json5("connect/timeout_ms", "-1")  # keep trying: the router may start later
        return config, mode

    def _endpoints(self, which: str) -> str:
        value = json.loads(self._config.get_json(f"{which}/endpoints") or "null")
        if isinstance(value, dict):  # Zenoh's per-mode defaults
            value = value.get(self._mode, [])
        return ", ".join(value or []) or "none"

    def _open_in_background(self) -> None:
        while not self._closing:
            try:
                session = zenoh.open(self._config)
            except Exception as exc:
                self.get_logger().error(f"cannot open the Zenoh session, retrying in {CLIENT_RETRY_S:.0f} s: "
                                        f"{zenoh_error(exc)}", throttle_duration_sec=60.0)
                time.sleep(CLIENT_RETRY_S)
                continue
            if self._closing:
                session.close()
                return
            try:
                self._attach(session)
            except Exception as exc:
                self.get_logger().fatal(f"cannot declare the bridge's Zenoh routes: {exc}")
            return

    def _attach(self, session: zenoh.Session) -> None:
        self._session = session
        try:
            self._session_entities.append(
                session.info.declare_transport_events_listener(self._on_transport, history=True))
            for route in self.out_routes + self.in_routes:
                route.attach(session)
        except zenoh.ZError as exc:
            session.close()
            raise ValueError(f"cannot declare the bridge's Zenoh routes: {zenoh_error(exc)}") from None
        self.get_logger().info(f"Zenoh {self._mode} session {session.zid()} open ({self._where})")

    def _on_transport(self, event) -> None:
        up = event.kind == zenoh.SampleKind.PUT
        line = self._links.event(up, str(event.transport.zid), str(event.transport.whatami))
        if line and up:
            self.get_logger().info(line)
        elif line:
            self.get_logger().warning(line)
        if up:
            for route in self.in_routes:
                if route.route.latched:
                    route.fetch_latched()

    def _log_links(self) -> None:
        line = self._links.flush()
        if line and self._links.up:
            self.get_logger().info(line)
        elif line:
            self.get_logger().warning(line)

    def _log_stats(self) -> None:
        now = time.monotonic()
        seconds, self._stats_time = now - self._stats_time, now
        for route in self.out_routes + self.in_routes:
            total = route.counters.snapshot()
            delta = total.minus(self._stats_prev[id(route)])
            self._stats_prev[id(route)] = total
            if delta.any():
                self.get_logger().info(format_counters(route.route, delta, total, seconds))
        if self._session is not None and not self._links.up:
            self.get_logger().warning("no Zenoh link: nothing is bridged until the other side is reachable",
                                      throttle_duration_sec=60.0)

    def destroy_node(self):
        self._closing = True
        for route in self.out_routes + self.in_routes:
            route.stop()
        session, self._session = self._session, None
        if session is not None:
            # Bounded: Ctrl-C must end the node even when Zenoh's close waits on a congested peer.
            closer = threading.Thread(target=_close_quietly, args=(session,), name="zenoh close", daemon=True)
            closer.start()
            closer.join(CLOSE_TIMEOUT_S)
            if closer.is_alive():
                self.get_logger().warning(f"the Zenoh session did not close within {CLOSE_TIMEOUT_S:g} s; "
                                          "exiting without waiting for it")
        return super().destroy_node()


def _close_quietly(session: zenoh.Session) -> None:
    try:
        session.close()
    except Exception:   # closing after the peer or the runtime went away
        pass


def main(args=None):
    run(ZenohBridgeNode, args)
