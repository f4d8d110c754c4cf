"""The running system for end-to-end and browser tests: real processes, as ``make up`` starts
them (under the same supervisor), once per test session (a pytest plugin, so every folder
shares the one fixture). A process that had to be restarted during the session is reported as
a warning with the supervisor's log: a test may have passed on a crash."""

import os
import warnings

import pytest
import requests

from tools import localrun

# ports of their own per test run, so parallel runs on one machine do not collide; below the
# ephemeral range (32768+), where an outgoing connection could hold one of them
BASE_PORT = 20000 + (os.getpid() % 1000) * 10
GATEWAY_PORT = BASE_PORT + 9
API = f"http://127.0.0.1:{GATEWAY_PORT}/api/v1"


@pytest.fixture(scope="session")
def system(service_config, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    env = {
        **os.environ,
        "DATABASE_URL": service_config["DATABASE_URL"],
        "AMQP_URI": service_config["AMQP_URI"],
        "PYTHONWARNINGS": localrun.QUIET_WARNINGS,
        # six processes beside the in-process tests: stay well under max_connections
        "DB_POOL_MIN": os.environ.get("DB_POOL_MIN", "1"),
        "DB_POOL_MAX": os.environ.get("DB_POOL_MAX", "4"),
        # every test client comes from 127.0.0.1: the fuzzer's failed logins would lock them all
        # out (the per-address rule has unit tests; the per-account one an e2e test of its own)
        "LOGIN_FAILURES_PER_ADDRESS": "1000000",
        # a "reverse proxy" at 127.0.0.2 (tests/e2e/test_login_behind_proxy.py); the other tests'
        # clients (127.0.0.1) are direct, and a forwarded address they send is ignored
        "TRUSTED_PROXIES": "127.0.0.2/32",
    }
    started = localrun.start(run_dir, env, base_port=BASE_PORT, gateway_port=GATEWAY_PORT)
    try:
        localrun.wait_healthy(started, timeout=60)
        yield started
    finally:
        restarted = restarts(run_dir)
        localrun.stop(run_dir)
        if restarted:
            log = (run_dir / "supervisor.log").read_text(errors="replace")
            warnings.warn(
                f"processes of the test system exited and were restarted: {restarted}; "
                f"their logs are in {run_dir}/\n{log[-2000:]}",
                stacklevel=1,
            )


def restarts(run_dir) -> dict[str, int]:
    """How often the supervisor restarted each process of the system in ``run_dir``."""
    return {
        state["name"]: state["restarts"]
        for state in localrun.process_states(run_dir)
        if state["restarts"]
    }


def login(username: str) -> dict:
    """Authorization headers of a demo user (password ``demo``)."""
    response = requests.post(
        f"{API}/auth/login", json={"username": username, "password": "demo"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
