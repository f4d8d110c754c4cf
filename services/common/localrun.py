"""Run the whole system on one machine with the real ``nameko run`` (what ``make up`` does).

``python -m services.common.localrun up`` migrates, seeds the demo district, starts every
service (intake twice, to show that instances share the work) and waits until each answers
``/healthz``; ``down`` stops them. The end-to-end tests start the system through the same
functions with their own database, vhost and ports.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from services.common.config import REPO_ROOT

CONFIG_FILE = REPO_ROOT / "deploy" / "config" / "bancheng.yaml"
NAMEKO = Path(sys.executable).with_name("nameko")
# eventlet's and pkg_resources' deprecation notices would bury what the logs say
QUIET_WARNINGS = "ignore::DeprecationWarning,ignore::UserWarning"


@dataclass(frozen=True)
class Process:
    name: str
    module: str  # what ``nameko run`` runs: ``package.module:ServiceClass``
    port: int


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
    """Start every process of ``plan`` (default: the whole system) in the background;
    pids and logs go to ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    plan = plan or processes(base_port, gateway_port)
    taken = [process for process in plan if _port_taken(process.port)]
    if taken:
        # another system answering there would pass our health checks and get our requests
        raise RuntimeError(
            "ports already in use: " + ", ".join(f"{p.name} {p.port}" for p in taken)
        )
    started = []
    for process in plan:
        log = open(run_dir / f"{process.name}.log", "ab")
        child = subprocess.Popen(
            [str(NAMEKO), "run", "--config", str(CONFIG_FILE), process.module],
            cwd=REPO_ROOT,
            env={
                **env,
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{process.port}",
                "INSTANCE": process.name,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (run_dir / f"{process.name}.pid").write_text(str(child.pid))
        started.append(process)
    return started


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
    """True while ``pid`` runs; reaps it when it is our own exited child (else a zombie lingers)."""
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
    return True


def stop(run_dir: Path) -> list[str]:
    """Stop every process recorded in ``run_dir`` (SIGTERM, then SIGKILL after 10 s)."""
    stopped = []
    for pid_file in sorted(run_dir.glob("*.pid")):
        pid = int(pid_file.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pid_file.unlink()
            continue
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        pid_file.unlink()
        stopped.append(pid_file.stem)
    return stopped


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.localrun")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--run-dir", default=str(REPO_ROOT / "run"))
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)

    stop(run_dir)
    if args.command == "down":
        print("Bancheng stopped.")
        return 0

    env = {**os.environ, "PYTHONWARNINGS": QUIET_WARNINGS}
    for command in (["migrate"], ["seed", str(REPO_ROOT / "deploy" / "seed" / "xuanwu")]):
        subprocess.run([sys.executable, "-m", "services.common.cli", *command], check=True, env=env)
    started = start(run_dir, env)
    try:
        wait_healthy(started)
    except RuntimeError as error:
        print(f"{error}; logs are in {run_dir}/", file=sys.stderr)
        stop(run_dir)
        return 1
    print("\nBancheng is up:")
    for process in started:
        print(f"  {process.name:<15} http://127.0.0.1:{process.port}/healthz   /metrics")
    print("  pages            http://127.0.0.1:8000/")
    print("  API              http://127.0.0.1:8000/api/v1   (openapi: /api/v1/openapi.json)")
    print("  RabbitMQ UI      http://127.0.0.1:15672/ (guest/guest)")
    print(f"  logs             {run_dir}/*.log   — stop with: make down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
