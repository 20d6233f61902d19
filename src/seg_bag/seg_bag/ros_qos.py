"""QoS between rclpy and a bag: what publishers offered is recorded, and replayed the same way."""
from __future__ import annotations

from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

from seg_ros import qos

# A recorder may fall this many messages behind on a topic, and a player's subscribers as many
# (the offered depth is not known from discovery): as deep as the pipeline's H.264 packets, where
# one lost sample loses a whole GOP.
DEPTH = qos.PACKETS.depth


def _time(duration: Duration) -> QosTime:
    return QosTime(*divmod(duration.nanoseconds, 1_000_000_000))   # infinite stays rmw's {9223372036, 854775807}


def bag_qos(profile: QoSProfile) -> Qos:
    """rclpy's QoS of a publisher (from get_publishers_info_by_topic) as rosbags records it.

    rclpy's policy enums and rosbags' share their numbering (both are rmw's)."""
    return Qos(QosHistory(int(profile.history)), profile.depth, QosReliability(int(profile.reliability)),
               QosDurability(int(profile.durability)), _time(profile.deadline), _time(profile.lifespan),
               QosLiveliness(int(profile.liveliness)), _time(profile.liveliness_lease_duration),
               profile.avoid_ros_namespace_conventions)


def recording_profile(offered: list[QoSProfile]) -> QoSProfile:
    """What a recorder requests so it matches every publisher and gets latched messages.

    Reliable unless some publisher is best effort; transient local only when every publisher is
    (a transient-local request does not match a volatile publisher)."""
    reliable = all(p.reliability == ReliabilityPolicy.RELIABLE for p in offered)
    latched = bool(offered) and all(p.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in offered)
    return QoSProfile(depth=DEPTH, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


def replay_profile(offered: list[Qos]) -> QoSProfile:
    """What a player offers for a recorded topic: reliable unless every recorded publisher was
    best effort, transient local when every one was (so label_info replays latched)."""
    best_effort = bool(offered) and all(q.reliability == QosReliability.BEST_EFFORT for q in offered)
    latched = bool(offered) and all(q.durability == QosDurability.TRANSIENT_LOCAL for q in offered)
    return QoSProfile(depth=DEPTH, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
