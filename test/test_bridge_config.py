"""The Zenoh bridge's ROS-free logic: route entries, key mapping, rate limiter, link log, Zenoh overrides."""
import json

import pytest

from seg_bridge.routes import (
    Counters,
    LinkLog,
    Route,
    TokenBucket,
    announce_key,
    announce_pattern,
    format_counters,
    key_to_topic,
    normalize_key_prefix,
    normalize_type,
    parse_announce,
    parse_entry,
    parse_routes,
    schema_of,
    topic_to_key,
    zenoh_overrides,
)

H264 = "seg_interfaces/msg/H264Packet"


class FakeClock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def test_key_mapping_drops_the_leading_slash_and_prepends_the_prefix():
    assert topic_to_key("/camera/image_raw/h264", "seg") == "seg/camera/image_raw/h264"
    assert topic_to_key("/camera/image_raw/h264", "robots/r1") == "robots/r1/camera/image_raw/h264"
    assert topic_to_key("/tf", "") == "tf"
    assert key_to_topic("seg/camera/image_raw/h264", "seg") == "/camera/image_raw/h264"
    assert key_to_topic("tf", "") == "/tf"
    with pytest.raises(ValueError, match="not under the prefix"):
        key_to_topic("other/tf", "seg")


@pytest.mark.parametrize("prefix,expected", [("seg", "seg"), ("/seg/", "seg"), ("a/b-c.d", "a/b-c.d"), ("", "")])
def test_key_prefix_is_normalized(prefix, expected):
    assert normalize_key_prefix(prefix) == expected


@pytest.mark.parametrize("prefix", ["se*g", "a//b", "a/$b", "a/**", "x?y", "a#b"])
def test_key_prefix_with_wildcards_or_empty_chunks_is_refused(prefix):
    with pytest.raises(ValueError, match="key_prefix"):
        normalize_key_prefix(prefix)


@pytest.mark.parametrize("topic", ["camera/image_raw", "/camera/", "//camera", "/1camera", "/cam era",
                                   "/camera/*", "/a__b", "~/x", "/"])
def test_bad_topic_names_are_refused(topic):
    with pytest.raises(ValueError, match="not an absolute ROS topic name"):
        topic_to_key(topic, "seg")


def test_type_names_are_normalized_or_refused():
    assert normalize_type("seg_interfaces/H264Packet") == H264
    assert normalize_type(H264) == H264
    for bad in ["H264Packet", "seg_interfaces/srv/Foo", "Seg/msg/Foo", "seg_interfaces/msg/h264", "a/msg/B/C"]:
        with pytest.raises(ValueError, match="not a message type"):
            normalize_type(bad)


def test_entry_defaults():
    route = parse_entry(f"/camera/image_raw/h264 {H264}", "outgoing", "seg")
    assert route == Route(direction="outgoing", topic="/camera/image_raw/h264", type_name=H264,
                          key="seg/camera/image_raw/h264", rate=None, priority="data", reliable=True,
                          latched=False, express=False, depth=10)


def test_entry_options():
    route = parse_entry(f"  /camera/image_raw/h264   {H264} rate=7.5 priority=interactive_high best_effort "
                        "express depth=3 ", "outgoing", "seg")
    assert (route.rate, route.priority, route.reliable, route.express, route.depth) == \
        (7.5, "interactive_high", False, True, 3)
    assert parse_entry(f"/a {H264} priority=1", "incoming", "seg").priority == "real_time"
    assert parse_entry(f"/a {H264} priority=DATA_LOW", "incoming", "seg").priority == "data_low"
    latched = parse_entry("/segmentation/label_info seg_interfaces/msg/LabelInfo latched", "outgoing", "seg")
    assert latched.latched and latched.reliable and latched.depth == 1
    assert "latched" in latched.describe() and "seg/segmentation/label_info" in latched.describe()


@pytest.mark.parametrize("entry,message", [
    ("/a", "expected 'TOPIC TYPE"),
    (f"/a {H264} rate=0", "rate '0' must be a positive number"),
    (f"/a {H264} rate=-2", "rate '-2' must be a positive number"),
    (f"/a {H264} rate=fast", "rate 'fast' must be a positive number"),
    (f"/a {H264} rate=inf", "rate 'inf' must be a positive number"),
    (f"/a {H264} rate=nan", "rate 'nan' must be a positive number"),
    (f"/a {H264} rte=5", "unknown option 'rte=5'"),
    (f"/a {H264} fast", "unknown option 'fast'"),
    (f"/a {H264} latched=yes", "unknown option 'latched=yes'"),
    (f"/a {H264} priority=urgent", "priority 'urgent' is not one of"),
    (f"/a {H264} priority=8", "priority '8' is not one of"),
    (f"/a {H264} depth=0", "depth '0' must be an integer"),
    (f"/a {H264} depth=x", "depth 'x' must be an integer"),
    (f"/a {H264} reliable best_effort", "exclude each other"),
    (f"/a {H264} latched best_effort", "latched topics are reliable"),
    (f"/a {H264} rate=1 rate=2", "option 'rate' given twice"),
    (f"/a {H264} express express", "option 'express' given twice"),
    ("/a NotAType", "not a message type"),
])
def test_bad_entries_are_refused_with_the_reason(entry, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_entry(entry, "outgoing", "seg")


def test_rate_limits_belong_to_the_sending_side():
    with pytest.raises(ValueError, match="rate limits apply where messages enter the link"):
        parse_entry(f"/a {H264} rate=5", "incoming", "seg")


def test_routes_name_the_offending_entry():
    routes = parse_routes([f"/a {H264}", f"/b {H264}"], [f"/c {H264}"], "seg")
    assert [(r.direction, r.topic) for r in routes] == [("outgoing", "/a"), ("outgoing", "/b"), ("incoming", "/c")]
    with pytest.raises(ValueError, match=r"outgoing\[1\] '/a .*': topic /a is already listed in outgoing\[0\]"):
        parse_routes([f"/a {H264}", f"/a {H264} rate=3"], [], "seg")
    with pytest.raises(ValueError, match=r"incoming\[0\] '/a .*': topic /a is both outgoing and incoming"):
        parse_routes([f"/a {H264}"], [f"/a {H264}"], "seg")
    with pytest.raises(ValueError, match=r"incoming\[1\] '/x bogus': type 'bogus' is not a message type"):
        parse_routes([], [f"/c {H264}", "/x bogus"], "seg")


def test_token_bucket_limits_to_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(10.0, clock=clock)
    passed = 0
    for _ in range(300):  # 10 s of a 30 Hz stream
        passed += bucket.allow()
        clock.t += 1 / 30
    assert 99 <= passed <= 101
    clock.t += 5.0  # idle: at most `burst` tokens accumulate
    assert bucket.allow() and not bucket.allow()


def test_token_bucket_passes_everything_under_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(40.0, clock=clock)
    results = []
    for _ in range(100):
        results.append(bucket.allow())
        clock.t += 1 / 30
    assert all(results)


def test_zenoh_overrides():
    assert zenoh_overrides("", [], [], False, has_config_file=False) == [
        ("mode", '"peer"'), ("scouting/multicast/enabled", "false"), ("transport/shared_memory/enabled", "false")]
    # With a file, an empty mode keeps the file's.
    assert zenoh_overrides("", [], [], True, has_config_file=True) == [
        ("scouting/multicast/enabled", "true"), ("transport/shared_memory/enabled", "false")]
    out = dict(zenoh_overrides("client", ["tcp/10.0.0.2:7447"], ["tls/0.0.0.0:7447"], False, True))
    assert out["mode"] == '"client"'
    assert json.loads(out["connect/endpoints"]) == ["tcp/10.0.0.2:7447"]
    assert json.loads(out["listen/endpoints"]) == ["tls/0.0.0.0:7447"]
    with pytest.raises(ValueError, match="mode 'router' is not one of peer, client"):
        zenoh_overrides("router", [], [], False, False)
    with pytest.raises(ValueError, match="connect endpoint '10.0.0.2:7447' is not a Zenoh locator"):
        zenoh_overrides("peer", ["10.0.0.2:7447"], [], False, False)


def test_announcements_round_trip():
    key = announce_key("abc123", "seg/camera/image_raw/h264", H264)
    assert key.startswith("@seg_bridge/abc123/pub/") and key.count("/") == 4
    assert parse_announce(key) == ("abc123", "seg/camera/image_raw/h264", H264)
    assert announce_pattern("seg/camera/image_raw/h264") == "@seg_bridge/*/pub/seg§camera§image_raw§h264/*"
    with pytest.raises(ValueError):
        parse_announce("seg/camera/image_raw/h264")


def test_schema_of_encoding():
    assert schema_of(f"application/cdr;{H264}") == H264
    assert schema_of("application/cdr") is None
    assert schema_of("zenoh/bytes;") is None


def test_counters_report():
    route = parse_entry(f"/camera/image_raw/h264 {H264} rate=10", "outgoing", "seg")
    before = Counters(messages=10, bytes=10_000)
    now = Counters(messages=110, bytes=2_010_000, dropped_rate=200, dropped_queue=3)
    delta = now.minus(before)
    assert delta.any() and not Counters().any()
    line = format_counters(route, delta, now, 10.0)
    assert line == ("out /camera/image_raw/h264: sent 100 msgs 2.0 MB in 10.0 s (10.0 msg/s, 1.60 Mbit/s), "
                    "dropped 200 by rate limit + 3 by full send queue; total 110 msgs 2.0 MB, "
                    "dropped 200 by rate limit + 3 by full send queue")
    incoming = parse_entry(f"/x {H264}", "incoming", "seg")
    assert format_counters(incoming, Counters(messages=3, bytes=30), Counters(messages=3, bytes=30), 1.0) == (
        "in /x: received 3 msgs 30 B in 1.0 s (3.0 msg/s, 0.00 Mbit/s), dropped none; total 3 msgs 30 B, "
        "dropped none")


def test_link_log_throttles_flapping():
    clock = FakeClock()
    log = LinkLog(interval=5.0, clock=clock)
    assert log.event(True, "z1", "peer") == "link up: peer z1; open links: peer z1"
    clock.t += 1
    assert log.event(False, "z1", "peer") is None
    clock.t += 1
    assert log.event(True, "z1", "peer") is None
    assert log.flush() is None  # within the interval
    clock.t += 4
    line = log.flush()
    assert line == "link flapping (1 up / 1 down transitions since last report); open links: peer z1"
    assert log.flush() is None  # nothing new
    clock.t += 1
    assert log.event(False, "z1", "peer") is None
    clock.t += 5
    assert log.flush() == "link down; open links: none"
    clock.t += 10
    assert log.event(False, "z1", "peer") == "link down: peer z1; open links: none"
    assert not log.up
