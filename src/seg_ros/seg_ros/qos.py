"""QoS profiles used across the pipeline.

Publishers are reliable so that both reliable and best-effort subscribers can connect.
Frame subscribers keep only the newest frames (a slow stage works on fresh data instead of a queue)
and are reliable: with Fast DDS between processes, a best-effort reader gets only some of the
frames larger than a shared-memory segment (512 kB; 13 % of 640x480 rgb8 frames at 30 Hz here,
none of the 4K ones), a reliable one gets them all. A node subscribing to a best-effort camera
driver takes `qos_overrides.<topic>.subscription.reliability: best_effort` (see
PipelineNode.subscribe_frames).
H.264 packets are reliable at both ends with a deep history (publisher and subscribers), since an
inter-frame codec loses a whole GOP per lost packet: a reliable KEEP_LAST writer drops a sample
that not every reader has acknowledged once `depth` newer ones are queued behind it, so the depth
is what a reader may fall behind (a stalled CPU, a busy callback) before a packet is lost.
"""
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

PUBLISH = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
LATEST_FRAME = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
# Frames where every one counts (the arbiter pairs each with a result): a few queued.
QUEUED_FRAMES = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
# 10 s of video at 30 fps (a few MB of packets at most).
PACKETS = QoSProfile(depth=300, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
# Segmentation results: reliable (their publishers are), so a restarted cloud node is always matched again.
RESULTS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
# Link probes and replies: best effort (a lost probe must show as lost), a few in flight.
PROBES = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
