"""The short drill inside ``make test``: a broker restart and a ``kill -9`` under load.

It runs as ``make drill`` does, in a process of its own (the test process is patched by
eventlet; the drill's load clients must be real threads), on a private RabbitMQ node and
PostgreSQL cluster, so the machine's shared ones are never restarted.
"""

import json
import subprocess
import sys

import pytest

from services.common.config import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_a_broker_restart_and_a_killed_service_lose_and_duplicate_nothing(tmp_path):
    results = tmp_path / "drill.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "tools.drill",
            "--short",
            "--json",
            str(results),
            "--run-dir",  # the drilled system's logs stay with the test, not in run/drills/
            str(tmp_path / "run"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    drills = {row["drill"]: row for row in json.loads(results.read_text())["drills"]}
    assert set(drills) == {"broker-restart", "kill-9 coordination"}
    for row in drills.values():
        assert row["acknowledged"] > 0, row
        assert (row["lost"], row["duplicated"], row["other_5xx"], row["hung"]) == (0, 0, 0, 0), row
        assert row["alive"] and row["passed"], row["problems"]
