"""A RabbitMQ node and a PostgreSQL cluster of one's own, in a temporary directory.

Drills stop brokers and restart databases. Doing that to the machine's shared RabbitMQ
(5672) and PostgreSQL (5432) would break every other test running there, so a drill brings up
its own: a RabbitMQ node with its own node name, ports, data, logs, plugins and Erlang cookie
(never the shared node's ``/etc/rabbitmq`` files), and a PostgreSQL cluster made by ``initdb``
with its own port and socket directory. Both are removed afterwards. Several nodes can share
one cookie directory, which is what clustering them takes.

    with tempfile.TemporaryDirectory() as base:
        ports = free_port_block(8)
        node = RabbitNode(f"bancheng-x-{os.getpid()}@localhost", ports[0], ports[1], ...)
        node.start(); node.stop_app(); node.start_app(); node.stop()
"""

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
# below Linux's ephemeral range (32768+), and apart from the test systems (20000-29999) and
# the benchmarks (10000-19999)
PORT_RANGE = (30000, 32700)


def free_port_block(size: int, port_range: tuple[int, int] = PORT_RANGE) -> list[int]:
    """``size`` consecutive ports on 127.0.0.1 that nobody listens on right now."""
    rng = random.Random()
    low, high = port_range
    for _ in range(200):
        first = rng.randrange(low, high - size)
        sockets = []
        try:
            for port in range(first, first + size):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return list(range(first, first + size))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {size} free consecutive ports in {low}-{high}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def wait_until(condition, timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``condition`` until it is true; RuntimeError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f}s")
        time.sleep(interval)


# -- RabbitMQ -----------------------------------------------------------------------------


def make_cookie_home(directory: Path) -> Path:
    """A HOME holding a fresh Erlang cookie: the nodes and CLI calls that share it can talk."""
    directory.mkdir(parents=True, exist_ok=True)
    cookie = directory / ".erlang.cookie"
    if not cookie.exists():
        cookie.write_text(secrets.token_hex(20).upper())
        cookie.chmod(0o400)  # Erlang refuses a cookie others can read
    return directory


@dataclass
class RabbitNode:
    """One RabbitMQ node of our own; ``rabbitmqctl -n <name>`` controls it."""

    name: str  # e.g. bancheng-drill-1234@localhost
    amqp_port: int
    dist_port: int
    ctl_ports: tuple[int, int]  # the CLI's own distribution ports (first, last)
    base_dir: Path
    cookie_home: Path | None = None  # shared by the nodes of one cluster
    plugins: tuple[str, ...] = ()  # enabled at start (tools.cluster: management, federation…)
    config_lines: tuple[str, ...] = ()  # more rabbitmq.conf lines (e.g. the management port)

    def __post_init__(self):
        self.base_dir = Path(self.base_dir)
        self.cookie_home = make_cookie_home(Path(self.cookie_home or self.base_dir / "home"))
        self._server: subprocess.Popen | None = None

    @property
    def amqp_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    def environment(self) -> dict:
        """What ``rabbitmq-server`` and ``rabbitmqctl`` need to find this node and only it."""
        return {
            **os.environ,
            "HOME": str(self.cookie_home),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CTL_DIST_PORT_MIN": str(self.ctl_ports[0]),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(self.ctl_ports[1]),
            "RABBITMQ_MNESIA_BASE": str(self.base_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base_dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.base_dir / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base_dir / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base_dir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.base_dir / "rabbitmq.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def start(self, timeout: float = 90.0) -> None:
        """Start the node and wait until it accepts AMQP connections."""
        for folder in ("mnesia", "log"):
            (self.base_dir / folder).mkdir(parents=True, exist_ok=True)
        (self.base_dir / "rabbitmq.conf").write_text(
            "".join(
                f"{line}\n"
                for line in (f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}", *self.config_lines)
            )
        )
        (self.base_dir / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's
        (self.base_dir / "enabled_plugins").write_text(f"[{','.join(self.plugins)}].\n")
        with open(self.base_dir / "server.out", "ab") as output:
            self._server = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")],
                env=self.environment(),
                cwd=self.base_dir,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_until(
            lambda: self._server.poll() is not None or self._ctl_ok("ping"),
            timeout,
            f"RabbitMQ node {self.name} did not answer ping",
        )
        if self._server.poll() is not None:
            raise RuntimeError(f"RabbitMQ node {self.name} exited; see {self.base_dir}/server.out")
        self.ctl("await_startup", "--timeout", str(int(timeout)), timeout=timeout + 10)
        self._wait_amqp(timeout)

    def stop_app(self) -> None:
        """Stop RabbitMQ inside the running node: every connection drops, the port closes."""
        self.ctl("stop_app")

    def start_app(self, timeout: float = 60.0) -> None:
        self.ctl("start_app", timeout=timeout)
        self._wait_amqp(timeout)

    def stop(self, timeout: float = 60.0) -> None:
        """Halt the node (and the Erlang VM under it)."""
        if self._server is None or self._server.poll() is not None:
            return
        try:
            self.ctl("stop", timeout=timeout)
            self._server.wait(timeout=timeout)
        except (subprocess.SubprocessError, RuntimeError):
            os.killpg(self._server.pid, signal.SIGKILL)
            self._server.wait()

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """``rabbitmqctl -n <node> args…``; its output, or RuntimeError with it."""
        result = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.name, *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} on {self.name}: {result.stderr or result.stdout}"
            )
        return result.stdout

    def _ctl_ok(self, *args: str) -> bool:
        try:
            self.ctl(*args, timeout=30)
            return True
        except (RuntimeError, subprocess.TimeoutExpired):
            return False

    def _wait_amqp(self, timeout: float) -> None:
        wait_until(
            lambda: port_open(self.amqp_port),
            timeout,
            f"RabbitMQ node {self.name} did not listen on {self.amqp_port}",
        )


# -- PostgreSQL ---------------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL's programs (Debian keeps them off the PATH)."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if versions:
        return versions[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("no PostgreSQL server programs (initdb) installed")


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster of our own (trust auth, user ``postgres``, 127.0.0.1:``port``).

    Run as the ``postgres`` OS user when we are root: the server refuses to run as root.
    """

    port: int
    base_dir: Path
    max_connections: int = 200

    def __post_init__(self):
        self.base_dir = Path(self.base_dir)
        self.bin_dir = postgres_bin_dir()
        self.data_dir = self.base_dir / "data"
        self.log_file = self.base_dir / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> None:
        """Create the cluster on first use, then start it and wait until it accepts connections."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        _give_to_postgres(self.base_dir)
        if not self.data_dir.exists():
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",  # a cluster that lives for one drill
                timeout=timeout,
            )
        self._pg_ctl("start", timeout)

    def restart(self, down_for: float = 0.0, mode: str = "fast", timeout: float = 60.0) -> None:
        """Restart the server (``mode``: smart, fast or immediate), down for ``down_for`` s."""
        if down_for <= 0:
            self._pg_ctl("restart", timeout, "-m", mode)
            return
        self.stop(mode, timeout)
        time.sleep(down_for)
        self._pg_ctl("start", timeout)

    def stop(self, mode: str = "fast", timeout: float = 60.0) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", timeout=timeout)

    def _pg_ctl(self, action: str, timeout: float, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.base_dir} -c listen_addresses=127.0.0.1 "
            f"-c max_connections={self.max_connections}"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            str(int(timeout)),
            "-o",
            options,
            *extra,
            action,
            timeout=timeout + 10,
        )

    def _run(self, program: str, *args: str, timeout: float) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.base_dir
        )
        if result.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)}: {result.stderr or result.stdout}")


def _give_to_postgres(directory: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        directory.chmod(0o700)
