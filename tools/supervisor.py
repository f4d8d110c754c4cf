"""The local system's supervisor: keeps every ``nameko run`` process of a plan running.

``tools.localrun`` starts one detached supervisor per plan. It starts each process,
and when one exits — ``kill -9``, a crash, anything — it logs why, counts the restart and starts
it again after :class:`~tools.supervision.RestartBackoff`'s delay. What it manages is
on disk in the run directory, for ``make status`` and for the drills:

* ``<name>.pid``: the pid of the process now running (absent while it is down);
* ``<name>.state.json``: port, pid, up/restarting, restarts, when it started, its last exit;
* ``<name>.log``: the process's own output; ``supervisor.log``: every start, exit and restart.

SIGTERM (``make down``) stops every child — SIGTERM, then SIGKILL after a grace period — and
removes those files. The children also get SIGTERM from the kernel if the supervisor itself
dies (``PR_SET_PDEATHSIG``), so none is left orphaned and unsupervised.
"""

import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from services.common.config import REPO_ROOT
from tools.supervision import RestartBackoff

CONFIG_FILE = REPO_ROOT / "deploy" / "config" / "bancheng.yaml"
NAMEKO = Path(sys.executable).with_name("nameko")
TICK_SECONDS = 0.1
STOP_GRACE_SECONDS = 10.0
LOG_FILE = "supervisor.log"

log = logging.getLogger("bancheng.supervisor")


@dataclass
class Child:
    """One supervised process: what to run and what happened to it so far."""

    name: str
    module: str  # what ``nameko run`` runs: ``package.module:ServiceClass``
    port: int
    position: int = 0  # in the plan: ``make status`` lists processes in this order
    env: dict = field(default_factory=dict)  # its own settings (its broker user's AMQP_URI)
    popen: subprocess.Popen | None = None
    started_at: float | None = None  # wall clock, for the status; monotonic below for timing
    started_monotonic: float = 0.0
    restarts: int = 0
    failures: int = 0  # exits in a row without a stable run in between
    restart_due: float | None = None  # monotonic time of the next start while down
    last_exit: dict | None = field(default=None)

    def state(self, supervisor_pid: int) -> dict:
        return {
            "name": self.name,
            "position": self.position,
            "module": self.module,
            "port": self.port,
            "supervisor": supervisor_pid,
            "pid": self.popen.pid if self.popen else None,
            "state": "up" if self.popen else "restarting",
            "started_at": self.started_at if self.popen else None,
            "restarts": self.restarts,
            "restart_in": (
                max(0.0, self.restart_due - time.monotonic())
                if self.restart_due is not None
                else None
            ),
            "last_exit": self.last_exit,
        }


def describe_exit(returncode: int) -> str:
    """``exit code 1`` or ``killed by SIGKILL``: how a process ended, in the log's words."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _die_with_parent(parent_pid: int):
    """In the child before exec: take SIGTERM when the supervisor goes, however it goes."""

    def set_death_signal():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return  # not Linux: the supervisor's own SIGTERM handling still stops children
        if os.getppid() != parent_pid:
            os._exit(1)  # the supervisor was already gone before the signal was armed

    return set_death_signal


class Supervisor:
    """Runs the plan's processes in ``run_dir`` until told to stop."""

    def __init__(self, run_dir: Path, plan: list[dict], backoff: RestartBackoff | None = None):
        self.run_dir = run_dir
        self.backoff = backoff or RestartBackoff()
        self.children = [
            Child(item["name"], item["module"], int(item["port"]), position, item.get("env") or {})
            for position, item in enumerate(plan)
        ]
        self.stopping = False

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._request_stop)
        log.info("supervising %s", ", ".join(child.name for child in self.children))
        for child in self.children:
            self._start(child)
        while not self.stopping:
            now = time.monotonic()
            for child in self.children:
                if child.popen is not None and child.popen.poll() is not None:
                    self._exited(child, now)
                elif child.popen is None and child.restart_due is not None:
                    if now >= child.restart_due:
                        child.restarts += 1
                        self._start(child)
            time.sleep(TICK_SECONDS)
        self._stop_all()
        log.info("stopped")
        return 0

    def _request_stop(self, signum, frame):
        self.stopping = True

    # -- one child --------------------------------------------------------------------------

    def _start(self, child: Child) -> None:
        output = open(self.run_dir / f"{child.name}.log", "ab")
        try:
            child.popen = subprocess.Popen(
                [str(NAMEKO), "run", "--config", str(CONFIG_FILE), child.module],
                cwd=REPO_ROOT,
                env={
                    **os.environ,
                    **child.env,
                    "WEB_SERVER_ADDRESS": f"127.0.0.1:{child.port}",
                    "INSTANCE": child.name,
                },
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: signals reach it alone
                preexec_fn=_die_with_parent(os.getpid()),
            )
        except OSError as error:
            # nothing started: count it as an immediate exit, so the backoff applies
            log.error("%s could not be started: %s", child.name, error)
            child.popen = None
            self._schedule_restart(child, ran_for=0.0, how=str(error))
            return
        finally:
            output.close()
        child.started_at = time.time()
        child.started_monotonic = time.monotonic()
        child.restart_due = None
        if child.restarts:
            log.info(
                "%s restarted as pid %d (restart %d)", child.name, child.popen.pid, child.restarts
            )
        else:
            log.info("%s started as pid %d on port %d", child.name, child.popen.pid, child.port)
        (self.run_dir / f"{child.name}.pid").write_text(str(child.popen.pid))
        self._write_state(child)

    def _exited(self, child: Child, now: float) -> None:
        ran_for = now - child.started_monotonic
        how = describe_exit(child.popen.returncode)
        child.last_exit = {"how": how, "at": time.time(), "ran_for": round(ran_for, 3)}
        child.popen = None
        (self.run_dir / f"{child.name}.pid").unlink(missing_ok=True)
        self._schedule_restart(child, ran_for, how)

    def _schedule_restart(self, child: Child, ran_for: float, how: str) -> None:
        child.failures, delay = self.backoff.after_exit(child.failures, ran_for)
        child.restart_due = time.monotonic() + delay
        log.warning(
            "%s exited (%s) after %.1fs; restart %d in %.1fs",
            child.name,
            how,
            ran_for,
            child.restarts + 1,
            delay,
        )
        self._write_state(child)

    def _write_state(self, child: Child) -> None:
        path = self.run_dir / f"{child.name}.state.json"
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(child.state(os.getpid())))
        partial.replace(path)  # readers never see half a file

    # -- stopping ---------------------------------------------------------------------------

    def _stop_all(self) -> None:
        running = [child for child in self.children if child.popen is not None]
        for child in running:
            _signal_group(child.popen.pid, signal.SIGTERM)
            _signal_group(child.popen.pid, signal.SIGCONT)  # a stopped one must see its SIGTERM
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in running:
            try:
                child.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM for %.0fs: SIGKILL", child.name, STOP_GRACE_SECONDS)
                _signal_group(child.popen.pid, signal.SIGKILL)
                child.popen.wait()
        for child in self.children:
            for suffix in (".pid", ".state.json"):
                (self.run_dir / f"{child.name}{suffix}").unlink(missing_ok=True)


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass


def supervise(run_dir: Path, plan_file: Path) -> int:
    """The detached supervisor's main: log to ``supervisor.log`` and run the plan."""
    logging.basicConfig(
        filename=run_dir / LOG_FILE,
        level=logging.INFO,
        format=f"%(asctime)s supervisor[{os.getpid()}] %(levelname)s %(message)s",
    )
    plan = json.loads(plan_file.read_text())
    return Supervisor(run_dir, plan).run()
