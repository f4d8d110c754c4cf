"""The local supervisor with real processes: what is killed comes back, what is stopped is gone.

The supervised process is a tiny HTTP-only nameko service (``probe_service``), so these tests
need neither the broker nor the database and disturb no one's system.
"""

import os
import re
import signal
import time
from pathlib import Path

import pytest

from tools import localrun
from tools.private_infra import free_port_block

pytestmark = pytest.mark.e2e

PROBE = "tests.drills.probe_service:ProbeService"


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what} within {timeout}s"
        time.sleep(0.1)
    return result


def gone(pid: int) -> bool:
    """Exited (a zombie nobody reaped yet counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def pid_of(run_dir: Path, name: str) -> int | None:
    pid_file = run_dir / f"{name}.pid"
    try:
        return int(pid_file.read_text())
    except (FileNotFoundError, ValueError):
        return None


@pytest.fixture
def supervised(tmp_path):
    """A probe process under a supervisor of its own; stopped afterwards whatever happened."""
    plan = [localrun.Process("probe", PROBE, free_port_block(1)[0])]
    env = {**os.environ, "PYTHONWARNINGS": localrun.QUIET_WARNINGS}
    localrun.start(tmp_path, env, plan=plan)
    try:
        localrun.wait_healthy(plan, timeout=60)
        yield tmp_path, plan[0]
    finally:
        localrun.stop(tmp_path)


def supervisor_pid(run_dir: Path) -> int:
    (pid_file,) = run_dir.glob("supervisor-*.pid")
    return int(pid_file.read_text())


def test_a_killed_process_is_restarted_logged_and_counted(supervised):
    run_dir, probe = supervised
    first = pid_of(run_dir, "probe")

    os.kill(first, signal.SIGKILL)
    second = wait_for(
        lambda: (pid := pid_of(run_dir, "probe")) not in (None, first) and pid,
        20,
        "a new probe process",
    )
    localrun.wait_healthy([probe], timeout=30)

    (state,) = localrun.process_states(run_dir)
    assert (state["pid"], state["state"], state["restarts"]) == (second, "up", 1)
    assert state["last_exit"]["how"] == "killed by SIGKILL"
    log = (run_dir / "supervisor.log").read_text()
    assert "probe exited (killed by SIGKILL)" in log and "restart 1 in 0.5s" in log
    assert f"probe restarted as pid {second} (restart 1)" in log
    row = localrun.status_table([state], {"probe": "ok"}, now=time.time())[1]
    assert row.split()[:5] == ["probe", str(second), str(probe.port), "up", "1"]
    assert row.endswith("ok")


def test_stop_ends_the_supervisor_and_every_child(supervised):
    run_dir, probe = supervised
    supervisor, child = supervisor_pid(run_dir), pid_of(run_dir, "probe")

    assert localrun.stop(run_dir) == ["probe"]

    wait_for(lambda: gone(supervisor) and gone(child), 20, "supervisor and child gone")
    assert not list(run_dir.glob("*.pid")) and not list(run_dir.glob("*.state.json"))
    assert localrun.process_states(run_dir) == []


def test_a_supervisor_that_dies_takes_its_children_along(supervised):
    run_dir, _ = supervised
    supervisor, child = supervisor_pid(run_dir), pid_of(run_dir, "probe")

    os.kill(supervisor, signal.SIGKILL)

    wait_for(lambda: gone(child), 20, "the orphaned child gone (PR_SET_PDEATHSIG)")
    (state,) = localrun.process_states(run_dir)
    assert state["supervised"] is False  # make status shows it down, not up


def test_a_crash_loop_is_restarted_ever_more_slowly(tmp_path):
    plan = [
        localrun.Process("broken", "tests.drills.no_such_module:Nothing", free_port_block(1)[0])
    ]
    localrun.start(tmp_path, {**os.environ, "PYTHONWARNINGS": localrun.QUIET_WARNINGS}, plan=plan)
    try:
        log = tmp_path / "supervisor.log"
        wait_for(lambda: "restart 3 in 2.0s" in log.read_text(), 30, "the third restart")
        text = log.read_text()
        assert text.index("restart 1 in 0.5s") < text.index("restart 2 in 1.0s")
        # nameko run reports an unimportable module and exits (with status 0, as it happens)
        assert re.search(r"broken exited \(exit code \d+\) after \d+\.\ds", text)
    finally:
        localrun.stop(tmp_path)
