"""The benchmarks' running system: up and reachable inside the block, gone after it however
the block ends (its processes stopped, its database and vhost dropped)."""

import os
import urllib.request
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from bench import harness
from bench.deadline_scan import coordination_only
from tools import sandbox

pytestmark = pytest.mark.e2e


class Stop(Exception):
    pass


def test_a_failing_benchmark_leaves_nothing_running_or_behind():
    with pytest.raises(Stop):
        with harness.running_system("harness", processes=coordination_only, seed=False) as system:
            port, pid = system.port("coordination"), system.pid("coordination")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                assert answer.status == 200
            with psycopg.connect(system.database_url) as conn:
                assert conn.execute("SELECT count(*) FROM coordination.deadlines").fetchone()
            database_url, vhost = system.database_url, system.box.name
            raise Stop
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with psycopg.connect(sandbox.with_path(database_url, "/postgres")) as conn:
        name = database_url.rsplit("/", 1)[1]
        assert (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
        )
    management = urlsplit(system.box.config["RABBIT_MANAGEMENT_URL"])
    answer = requests.get(
        f"{management.scheme}://{management.hostname}:{management.port}/api/vhosts/{vhost}",
        auth=(management.username or "guest", management.password or "guest"),
        timeout=5,
    )
    assert answer.status_code == 404
