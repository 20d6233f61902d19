"""Fast DDS shared-memory leftovers: the port files a killed process leaves in /dev/shm.

A graph started in a domain where earlier, killed processes left their shared-memory ports can
find its own large messages handed to ports nobody reads. Whoever starts a graph in a domain (the
demo, the adaptation report, each test module) removes them first.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

SHM_DIR = Path("/dev/shm")


def _files_in_use() -> set[str]:
    """Paths under /dev/shm that some process has open or mapped."""
    used: set[str] = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/maps") as maps:
                used.update(line.split(None, 5)[-1].strip() for line in maps if " /dev/shm/" in line)
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("/dev/shm/"):
                    used.add(target)
        except OSError:  # the process ended, or is not ours to read
            continue
    return used


def remove_leftovers(domain: int) -> list[str]:
    """Remove the Fast DDS shared-memory ports of `domain` that no process uses any more (left by
    killed processes; Fast DDS maps its ports to the same port numbers as its UDP ports:
    7400 + 250 * domain + offset), and the zombie per-process segments (`fastdds shm clean`)."""
    if not SHM_DIR.is_dir():
        return []
    first = 7400 + 250 * domain
    ports = {str(p) for p in range(first, first + 250)}
    used = _files_in_use()
    removed = []
    for path in SHM_DIR.glob("fastdds_port*"):
        port = path.name.removeprefix("fastdds_port").split("_")[0]
        if port in ports and str(path) not in used:
            for leftover in (path, SHM_DIR / f"sem.fastdds_port{port}_mutex"):
                leftover.unlink(missing_ok=True)
                removed.append(leftover.name)
    try:
        subprocess.run(["fastdds", "shm", "clean"], capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):  # no fastdds tool on PATH: the port files are gone anyway
        pass
    return removed
