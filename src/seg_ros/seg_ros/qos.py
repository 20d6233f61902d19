"""QoS profiles used across the pipeline.

Publishers are reliable so that both reliable and best-effort subscribers can connect.
Frame subscribers keep only the newest frames (a slow stage works on fresh data instead of a queue);
H.264 packet subscribers are reliable, since an inter-frame codec loses a whole GOP per lost packet.
"""
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

PUBLISH = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
LATEST_FRAME = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                          history=HistoryPolicy.KEEP_LAST)
PACKETS = QoSProfile(depth=30, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
