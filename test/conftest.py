"""Suite-wide options: `--stress` runs the suite beside a CPU hog, like a busy CI machine."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def pytest_addoption(parser):
    parser.addoption("--stress", action="store_true",
                     help="run the tests with a busy loop pinned to one CPU core the whole time")


@pytest.fixture(scope="session", autouse=True)
def cpu_hog(request):
    if not request.config.getoption("--stress"):
        yield None
        return
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    os.sched_setaffinity(hog.pid, {sorted(os.sched_getaffinity(0))[0]})
    yield hog
    hog.kill()
    hog.wait()
