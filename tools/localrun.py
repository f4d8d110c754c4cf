"""Run the whole system on one machine with the real ``nameko run`` (what ``make up`` does).

``python -m tools.localrun up`` migrates, seeds the demo district, starts every
service (intake twice, to show that instances share the work) under a supervisor that
restarts any process that exits (``tools.supervisor``), and waits until each answers
``/healthz``; ``status`` shows each process; ``down`` stops the supervisor and every process.
The end-to-end tests, the benchmarks and the drills start the system through the same
functions with their own database, vhost and ports, so their system is supervised too.

Every system started here is a demo (``BANCHENG_DEMO=1`` unless the caller's environment says
otherwise): development secrets and the demo logins are allowed (services.common.secrets).

No service talks to the broker as ``guest``: :func:`start` makes (or updates) each service's
broker user on the vhost of ``AMQP_URI`` with its permissions (services.common.broker_users),
through the management API as the administrator of ``RABBITMQ_ADMIN_URI`` (in demo mode, when
unset: ``RABBIT_MANAGEMENT_URL``'s, guest by default), and gives each service process its own
``AMQP_URI``; passwords are ``RABBITMQ_PASSWORD_<SERVICE>``, known demo ones when unset in demo
mode. Each service logs in to PostgreSQL as its own role too (services.common.config).
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from services.common import broker_users
from services.common.config import REPO_ROOT, load_config
from services.common.secrets import DEMO_ENVIRONMENT_VARIABLE, checked, demo_mode
from tools import supervisor
from tools.supervision import format_duration

CONFIG_FILE = supervisor.CONFIG_FILE
NAMEKO = supervisor.NAMEKO
# eventlet's and pkg_resources' deprecation notices would bury what the logs say
QUIET_WARNINGS = "ignore::DeprecationWarning,ignore::UserWarning"
START_TIMEOUT_SECONDS = 15.0
# a supervisor gives its children 10 s to stop; it gets a little more to do that
SUPERVISOR_STOP_SECONDS = supervisor.STOP_GRACE_SECONDS + 10.0
DEMO = "BANCHENG_DEMO"


def demo_environment(env: dict) -> dict:
    """``env`` in demo mode, unless it says ``BANCHENG_DEMO`` itself (a test of the refusal)."""
    return {DEMO: "1", **env}


@dataclass(frozen=True)
class Process:
    name: str
    module: str  # what ``nameko run`` runs: ``package.module:ServiceClass``
    port: int
    # settings of its own on top of the system's environment (its broker user's AMQP_URI)
    env: dict = field(default_factory=dict, compare=False)

    @property
    def service(self) -> str | None:
        """The Bancheng service it runs (``services.<service>.service:...``), else None."""
        parts = self.module.partition(":")[0].split(".")
        if len(parts) == 3 and parts[0] == "services" and parts[2] == "service":
            return parts[1] if parts[1] in broker_users.SERVICES else None
        return None


def processes(base_port: int = 8100, gateway_port: int = 8000) -> list[Process]:
    return [
        Process("intake-1", "services.intake.service:IntakeService", base_port + 1),
        Process("intake-2", "services.intake.service:IntakeService", base_port + 2),
        Process("coordination", "services.coordination.service:CoordinationService", base_port + 3),
        Process(
            "accountability", "services.accountability.service:AccountabilityService", base_port + 4
        ),
        Process("reporting", "services.reporting.service:ReportingService", base_port + 5),
        Process("gateway", "services.gateway.service:GatewayService", gateway_port),
    ]


def start(
    run_dir: Path,
    env: dict,
    base_port: int = 8100,
    gateway_port: int = 8000,
    plan: list[Process] | None = None,
) -> list[Process]:
    """Start every process of ``plan`` (default: the whole system) under a detached supervisor
    of its own; returns once each has a pid (in ``run_dir/<name>.pid``, logs beside it)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    plan = plan or processes(base_port, gateway_port)
    taken = [process for process in plan if _port_taken(process.port)]
    if taken:
        # another system answering there would pass our health checks and get our requests
        raise RuntimeError(
            "ports already in use: " + ", ".join(f"{p.name} {p.port}" for p in taken)
        )
    for process in plan:  # left by a system that is no longer running
        for suffix in (".pid", ".state.json"):
            (run_dir / f"{process.name}{suffix}").unlink(missing_ok=True)
    env = demo_environment(env)
    plan = with_broker_users(plan, env)
    token = uuid.uuid4().hex[:8]
    plan_file = run_dir / f"supervisor-{token}.plan.json"
    plan_file.write_text(json.dumps([asdict(process) for process in plan]))
    with open(run_dir / supervisor.LOG_FILE, "ab") as output:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.localrun",
                "supervise",
                "--run-dir",
                str(run_dir),
                "--plan",
                str(plan_file),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives the shell (and the make) that started it
        )
    (run_dir / f"supervisor-{token}.pid").write_text(str(child.pid))
    _wait_for_pids(run_dir, plan, child.pid)
    return plan


def demo_broker_password(service: str) -> str:
    """The known password of ``service``'s broker user in demo mode."""
    return f"demo-broker-password-{service}"


def broker_admin_url(env: dict) -> str:
    """The management API's URL as the broker's administrator: ``RABBITMQ_ADMIN_URI``; in demo
    mode, when unset, ``RABBIT_MANAGEMENT_URL`` (the config's, guest by default)."""
    demo = demo_mode({"BANCHENG": {"DEMO": env.get(DEMO_ENVIRONMENT_VARIABLE, "")}})
    if env.get("RABBITMQ_ADMIN_URI") or not demo:
        return checked("RABBITMQ_ADMIN_URI", env.get("RABBITMQ_ADMIN_URI"), demo)
    return env.get("RABBIT_MANAGEMENT_URL") or load_config()["RABBIT_MANAGEMENT_URL"]


def broker_passwords(env: dict, services) -> dict[str, str]:
    """Each service's broker password: ``RABBITMQ_PASSWORD_<SERVICE>``, a demo one when unset
    in demo mode (refused outside it, :func:`services.common.secrets.checked`)."""
    demo = demo_mode({"BANCHENG": {"DEMO": env.get(DEMO_ENVIRONMENT_VARIABLE, "")}})
    passwords = {}
    for service in services:
        name = f"RABBITMQ_PASSWORD_{service.upper()}"
        value = env.get(name) or (demo_broker_password(service) if demo else None)
        passwords[service] = checked(name, value, demo)
    return passwords


def vhost_of(amqp_uri: str) -> str:
    """The vhost an AMQP URI names (``/`` when it names none)."""
    # a cluster's URI list (tools.cluster) names the same vhost on every node: the first's
    return unquote(urlsplit(amqp_uri.split(";")[0]).path[1:]) or "/"


def with_broker_users(plan: list[Process], env: dict) -> list[Process]:
    """``plan`` with each service process given its own broker user's ``AMQP_URI``, after
    making the users and their permissions on ``env``'s vhost (see the module docstring).
    Processes that are no Bancheng service (probes) keep ``env``'s ``AMQP_URI``."""
    services = sorted({process.service for process in plan} - {None})
    if not services:
        return plan
    base_uri = env.get("AMQP_URI") or load_config()["AMQP_URI"]
    passwords = broker_passwords(env, broker_users.SERVICES)
    broker_users.apply(broker_admin_url(env), vhost_of(base_uri), passwords)
    return [
        replace(
            process,
            env={
                **process.env,
                "AMQP_URI": broker_users.amqp_uri_for(
                    base_uri, process.service, passwords[process.service]
                ),
            },
        )
        if process.service
        else process
        for process in plan
    ]


def _wait_for_pids(run_dir: Path, plan: list[Process], supervisor_pid: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not all((run_dir / f"{process.name}.pid").exists() for process in plan):
        if not _alive(supervisor_pid):
            raise RuntimeError(f"the supervisor exited at once; see {run_dir}/supervisor.log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the supervisor started nothing; see {run_dir}/supervisor.log")
        time.sleep(0.05)


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_healthy(started: list[Process], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    for process in started:
        url = f"http://127.0.0.1:{process.port}/healthz"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{process.name} did not answer {url} within {timeout:.0f}s")
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; reaps it when it is our own exited child (else a zombie lingers).
    Someone else's exited child that its parent has not reaped yet counts as gone too."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # gone meanwhile, or no /proc: kill() above has answered
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _runs_bancheng(pid: int) -> bool:
    """Whether ``pid`` is still one of ours: a pid file outlives its process, and the number
    may since belong to someone else's (never signal that one)."""
    if not Path("/proc/self").exists():
        return _alive(pid)  # no /proc to ask: trust the file
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"nameko" in command or b"tools.localrun" in command


def stop(run_dir: Path) -> list[str]:
    """Stop every supervisor recorded in ``run_dir`` and with it every process it runs (SIGTERM,
    SIGKILL after 10 s); then anything still recorded there (a supervisor that was killed, or a
    system started before there were supervisors). Returns the names of the processes."""
    stopped = []
    for pid_file in sorted(run_dir.glob("supervisor-*.pid")):
        plan_file = pid_file.with_name(pid_file.stem + ".plan.json")
        if plan_file.exists():
            stopped += [item["name"] for item in json.loads(plan_file.read_text())]
        _terminate(int(pid_file.read_text()), SUPERVISOR_STOP_SECONDS, group=False)
        pid_file.unlink()
        plan_file.unlink(missing_ok=True)
    for pid_file in sorted(run_dir.glob("*.pid")):
        if _terminate(int(pid_file.read_text()), supervisor.STOP_GRACE_SECONDS, group=True):
            stopped.append(pid_file.stem)
        pid_file.unlink()
    for state_file in run_dir.glob("*.state.json"):
        state_file.unlink()
    return sorted(set(stopped))


def _terminate(pid: int, grace: float, group: bool) -> bool:
    """SIGTERM ``pid`` (its process group when ``group``), SIGKILL after ``grace`` seconds;
    False when it was not running."""
    if not _runs_bancheng(pid):
        _alive(pid)  # reap it if it is our exited child
        return False
    send = os.killpg if group else os.kill
    try:
        send(pid, signal.SIGTERM)
        send(pid, signal.SIGCONT)  # a stopped process must see its SIGTERM
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while _alive(pid):
        if time.monotonic() > deadline:
            try:
                send(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break
        time.sleep(0.1)
    return True


# -- what runs ----------------------------------------------------------------------------


def process_states(run_dir: Path) -> list[dict]:
    """What the supervisors of ``run_dir`` say about each process (``<name>.state.json``),
    with ``supervised``: whether the supervisor that wrote it still runs."""
    states = []
    for state_file in sorted(run_dir.glob("*.state.json")):
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            continue  # being replaced right now; the next look sees it
        state["supervised"] = _runs_bancheng(state["supervisor"])
        states.append(state)
    return sorted(states, key=lambda state: (state["supervisor"], state.get("position", 0)))


def health(port: int, timeout: float = 2.0) -> str:
    """``ok``, ``unhealthy (database)``, or ``no answer``: a process's ``/healthz`` in a word."""
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            body = json.loads(error.read())
        except ValueError:
            return f"HTTP {error.code}"
    except (OSError, ValueError):
        return "no answer"
    down = [name for name, value in (body.get("dependencies") or {}).items() if value != "ok"]
    if body.get("status") == "ok":
        return "ok"
    return f"unhealthy ({', '.join(down)})" if down else "unhealthy"


def status_table(states: list[dict], healths: dict[str, str], now: float) -> list[str]:
    """The lines ``make status`` prints: one per process, and how it last exited."""
    lines = [
        f"{'process':<15} {'pid':>8} {'port':>6}  {'state':<10} {'restarts':>8} {'uptime':>8}  health"
    ]
    for state in states:
        if not state["supervised"]:
            shown = "down"  # its supervisor is gone, and the children went with it
        else:
            shown = "up" if state["state"] == "up" else "restarting"
        uptime = format_duration(now - state["started_at"]) if shown == "up" else "-"
        lines.append(
            f"{state['name']:<15} {state['pid'] or '-':>8} {state['port']:>6}  {shown:<10} "
            f"{state['restarts']:>8} {uptime:>8}  {healths.get(state['name'], '-')}"
        )
        if state.get("last_exit"):
            last = state["last_exit"]
            lines.append(f"{'':<15} last exit: {last['how']} after {last['ran_for']:.1f}s")
    return lines


def print_status(run_dir: Path) -> int:
    states = process_states(run_dir)
    if not states:
        print(f"Bancheng is not running (nothing supervised in {run_dir}/). Start it: make up")
        return 1
    healths = {
        state["name"]: health(state["port"])
        for state in states
        if state["supervised"] and state["state"] == "up"
    }
    for line in status_table(states, healths, time.time()):
        print(line)
    print(f"logs: {run_dir}/*.log   restarts: {run_dir}/{supervisor.LOG_FILE}")
    return 0 if all(s["supervised"] and s["state"] == "up" for s in states) else 1


# -- the command line ---------------------------------------------------------------------


def prepare_database(env: dict) -> None:
    """Migrate every schema and seed the demo district (its demo logins too), in the database
    of ``env``."""
    env = demo_environment(env)
    for command in (["migrate"], ["seed", str(REPO_ROOT / "deploy" / "seed" / "xuanwu")]):
        subprocess.run(
            [sys.executable, "-m", "services.cli", *command],
            check=True,
            env=env,
            cwd=REPO_ROOT,
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.localrun")
    parser.add_argument("command", choices=["up", "down", "status", "supervise"])
    parser.add_argument("--run-dir", default=str(REPO_ROOT / "run"))
    parser.add_argument("--plan", help="supervise: the plan file written by start()")
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)

    if args.command == "supervise":
        return supervisor.supervise(run_dir, Path(args.plan))
    if args.command == "status":
        return print_status(run_dir)
    from tools import edge  # site nodes and the district cluster (EDGE_SITES=XJK,MY)

    edge.stop_all(run_dir)
    stop(run_dir)
    if args.command == "down":
        print("Bancheng stopped.")
        return 0

    env = {**os.environ, "PYTHONWARNINGS": QUIET_WARNINGS, DEMO: "1"}
    sites = edge.edge_sites(env.get(edge.EDGE_SITES))
    try:
        if sites:
            env = edge.district_environment(env, run_dir, sites)
        prepare_database(env)
        started = start(run_dir, env)
        wait_healthy(started)
        if sites:
            started += edge.start_sites(run_dir, env, sites)
            wait_healthy(started)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"{error}; logs are in {run_dir}/", file=sys.stderr)
        edge.stop_all(run_dir)
        stop(run_dir)
        return 1
    print("\nBancheng is up in DEMO MODE (BANCHENG_DEMO=1): development secrets and the demo")
    print("logins (password demo) are in use; never serve real cases this way.")
    print("Supervised: a process that exits is restarted.")
    for process in started:
        print(f"  {process.name:<15} http://127.0.0.1:{process.port}/healthz   /metrics")
    print("  pages            http://127.0.0.1:8000/")
    print("  API              http://127.0.0.1:8000/api/v1   (openapi: /api/v1/openapi.json)")
    print("  RabbitMQ UI      http://127.0.0.1:15672/ (guest/guest; each service connects as")
    print("                   bancheng-<service>, and logs in to PostgreSQL as bancheng_<service>)")
    print(f"  logs             {run_dir}/*.log   — see: make status   stop: make down")
    for line in edge.banner(run_dir, sites):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
