"""Two test hosts (network namespaces) joined by a veth pair, with link cut and bandwidth cap."""
from __future__ import annotations

import os
import shutil
import subprocess


class NetnsUnavailable(RuntimeError):
    pass


class HostPair:
    """Namespaces `<tag>e` (edge, 10.78.0.1) and `<tag>c` (cloud, 10.78.0.2) on a /30 veth link."""

    EDGE_IP, CLOUD_IP = "10.78.0.1", "10.78.0.2"
    RTO_MAX = "/proc/sys/net/ipv4/tcp_rto_max_ms"     # Linux >= 6.15, per network namespace, >= 1000

    def __init__(self, tag: str | None = None, tcp_rto_max_ms: int | None = 1000):
        """`tcp_rto_max_ms`: cap on TCP's retransmission back-off in both hosts, as the bridge's
        README recommends (None: the kernel default, 120 s)."""
        tag = tag or f"seg{os.getpid() % 100000}"
        self.tcp_rto_max_ms = tcp_rto_max_ms
        self.edge, self.cloud = f"{tag}e", f"{tag}c"
        self.edge_if, self.cloud_if = f"{tag}ve", f"{tag}vc"

    @staticmethod
    def _run(*args: str) -> None:
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip()}")

    def create(self) -> "HostPair":
        if os.geteuid() != 0 or not shutil.which("ip"):
            raise NetnsUnavailable("network-namespace fault tests need root and iproute2 (ip)")
        try:
            self._run("ip", "netns", "add", self.edge)
        except RuntimeError as exc:
            raise NetnsUnavailable(f"cannot create network namespaces here: {exc}") from exc
        self._run("ip", "netns", "add", self.cloud)
        self._run("ip", "link", "add", self.edge_if, "type", "veth", "peer", "name", self.cloud_if)
        for ns, ifname, ip in ((self.edge, self.edge_if, self.EDGE_IP), (self.cloud, self.cloud_if, self.CLOUD_IP)):
            self._run("ip", "link", "set", ifname, "netns", ns)
            self._run("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", ifname)
            self._run("ip", "-n", ns, "link", "set", ifname, "up")
            self._run("ip", "-n", ns, "link", "set", "lo", "up")
            if self.tcp_rto_max_ms is not None and os.path.exists(self.RTO_MAX):
                self._run("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv4.tcp_rto_max_ms={self.tcp_rto_max_ms}")
        return self

    def prefix(self, side: str) -> list[str]:
        return ["ip", "netns", "exec", self.edge if side == "edge" else self.cloud]

    def cut(self) -> None:
        self._run("ip", "-n", self.edge, "link", "set", self.edge_if, "down")

    def restore(self) -> None:
        self._run("ip", "-n", self.edge, "link", "set", self.edge_if, "up")

    def cap(self, kbit: int) -> None:
        """Limit edge->cloud bandwidth with a token bucket (tc tbf)."""
        self._run("ip", "netns", "exec", self.edge, "tc", "qdisc", "replace", "dev", self.edge_if, "root",
                  "tbf", "rate", f"{kbit}kbit", "burst", "16kbit", "latency", "100ms")

    def uncap(self) -> None:
        self._run("ip", "netns", "exec", self.edge, "tc", "qdisc", "del", "dev", self.edge_if, "root")

    def delete(self) -> None:
        for ns in (self.edge, self.cloud):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
