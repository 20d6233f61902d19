"""Starts node groups as separate processes, the way `ros2 launch` would, without launch installed.

    python -m seg_bringup.runner edge cloud --set camera.rate=15 --duration 30
    python -m seg_bringup.runner edge cloud --profile cloudseg   # low-resolution stream + super-resolution
    python -m seg_bringup.runner edge edge_bridge      # on the robot, talking to the cloud over Zenoh
    python -m seg_bringup.runner edge cloud record --set bag_recorder.output=bags/run1   # ... recorded
    python -m seg_bringup.runner replay --set bag_player.bag=bags/run1                  # labels again

Same executables, parameter files (config/<group>.yaml, with a profile's laid over them) and
remappings as launch/<side>.launch.py (both read graph.py).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ament_index_python.packages import get_package_prefix, get_package_share_directory

from .graph import DEFAULT_PROFILE, GRAPHS, NodeSpec, group_nodes, profile_params_file


def config_dir() -> Path:
    return Path(get_package_share_directory("seg_bringup")) / "config"


ORPHAN_GUARD = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []


def default_params_file(group: str) -> Path:
    return config_dir() / f"{group}.yaml"


def profile_file(group: str, profile: str) -> Path | None:
    """The parameter file ``profile`` lays over the group's (None: nothing to lay over)."""
    return profile_params_file(config_dir(), profile, group)


def node_command(spec: NodeSpec, params_files: Path | list[Path], overrides: dict[str, str] | None = None,
                 log_level: str = "info") -> list[str]:
    """The node's command line; several parameter files are read in order (later ones win)."""
    exe = Path(get_package_prefix(spec.package)) / "lib" / spec.package / spec.executable
    if not exe.exists():
        raise FileNotFoundError(f"executable {exe} not found; build the workspace (scripts/setup.sh)")
    cmd = [str(exe), "--ros-args", "-r", f"__node:={spec.name}"]
    for path in params_files if isinstance(params_files, list) else [params_files]:
        cmd += ["--params-file", str(path)]
    cmd += ["--log-level", log_level]
    for src, dst in spec.remappings:
        cmd += ["-r", f"{src}:={dst}"]
    for key, value in (overrides or {}).items():
        cmd += ["-p", f"{key}:={value}"]
    return cmd


def parse_overrides(items: list[str]) -> dict[str, dict[str, str]]:
    """'node.param=value' strings -> {node: {param: value}}."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        node, dot, param = key.partition(".")
        if not (sep and dot and node and param):
            raise ValueError(f"override '{item}' is not of the form node.param=value")
        out.setdefault(node, {})[param] = value
    return out


@dataclass
class Host:
    """Where a group's processes run: a command prefix (e.g. `ip netns exec NAME`) and extra environment."""
    prefix: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


class Graph:
    """The processes of one or more groups; output lines are prefixed with the node name.

    Nothing runs until start(); leaving a `with Graph(...)` block stops every node. `hosts` maps a
    node name or a group name to the Host its processes run on (a node's own entry wins).
    `profile` lays config/profiles/<profile>/<group>.yaml over each group's parameter file.
    """

    def __init__(self, groups: list[str], overrides: dict[str, dict[str, str]] | None = None,
                 params_files: dict[str, Path] | None = None, log_level: str = "info",
                 env: dict[str, str] | None = None, output=sys.stdout,
                 hosts: dict[str, Host] | None = None, profile: str = DEFAULT_PROFILE):
        overrides = overrides or {}
        known = {spec.name for group in groups for spec in group_nodes(group)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"overrides name unknown nodes {sorted(unknown)}; nodes: {sorted(known)}")
        base_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self._launch: dict[str, tuple[list[str], dict[str, str]]] = {}
        def group_files(group: str) -> list[Path]:   # the group's file and its profile's over it
            own = (params_files or {}).get(group) or default_params_file(group)
            return [own] + [f for f in [profile_file(group, profile)] if f is not None]

        for group in groups:
            for spec in group_nodes(group):
                host = (hosts or {}).get(spec.name) or (hosts or {}).get(group) or Host()
                files = (group_files(spec.params_from) if spec.params_from else []) + group_files(group)
                cmd = node_command(spec, files, overrides.get(spec.name), log_level)
                self._launch[spec.name] = (host.prefix + cmd, {**base_env, **host.env})
        self._output = output
        self.processes: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def start(self, name: str | None = None) -> None:
        """Start every node (or the one named); a node already running is left alone.

        Each node gets SIGTERM when the thread that started it ends (setpriv --pdeathsig, where
        util-linux has it), so a runner or test killed outright leaves no node behind."""
        for node, (cmd, env) in self._launch.items():
            if name not in (None, node) or (node in self.processes and self.processes[node].poll() is None):
                continue
            proc = subprocess.Popen(ORPHAN_GUARD + cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, start_new_session=True)
            self.processes[node] = proc
            threading.Thread(target=self._pump, args=(node, proc), daemon=True).start()

    def _pump(self, node: str, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            with self._lock:
                self._output.write(f"[{node}] {line}")
                self._output.flush()

    def stop(self, name: str | None = None, sig: int = signal.SIGINT, timeout: float = 10.0) -> dict[str, int]:
        """Stop every node (or the one named): SIGINT, then SIGKILL after `timeout`. Returns exit codes."""
        targets = {n: p for n, p in self.processes.items() if name in (None, n)}
        for proc in targets.values():
            if proc.poll() is None:
                os.killpg(proc.pid, sig)
        codes = {}
        for node, proc in targets.items():
            try:
                codes[node] = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                codes[node] = proc.wait()
        return codes

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}

    def __enter__(self) -> "Graph":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("groups", nargs="+", choices=list(GRAPHS))
    parser.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                        help="override a parameter of one node (repeatable)")
    parser.add_argument("--params-file", action="append", default=[], metavar="GROUP=PATH",
                        help="use another parameter file for a group")
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help="parameter profile laid over the groups' files, e.g. cloudseg")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to run; 0 = until Ctrl-C")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    try:
        files = {k: Path(v) for k, _, v in (item.partition("=") for item in args.params_file)}
        graph = Graph(args.groups, parse_overrides(args.set), files, args.log_level, profile=args.profile)
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with graph:
        graph.start()
        deadline = time.monotonic() + args.duration if args.duration > 0 else None
        while not stop.wait(0.2):
            if deadline and time.monotonic() > deadline:
                break
            if len(graph.exited()) == len(graph.processes):
                break
    failed = {n: c for n, c in graph.exited().items() if c not in (0, -signal.SIGINT)}
    for node, code in failed.items():
        print(f"runner: {node} exited with {code}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
