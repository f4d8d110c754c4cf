"""The running test system's processes are connected as themselves (issue 12): each service to
RabbitMQ as its own broker user (``bancheng-<service>``, never guest) and to PostgreSQL as its
own login role (``bancheng_<service>``, never the owner).

Which process holds a connection is read from the kernel: the broker's management API
(``/api/connections``) and ``pg_stat_activity`` give each connection's client port, and
``/proc`` tells which process owns the socket on that port.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from tests.conftest import BASE_CONFIG
from tests.integration.helpers import wait_for
from tools import localrun
from tools.sandbox import _management

pytestmark = pytest.mark.e2e

SERVICES = {"gateway", "intake", "coordination", "accountability", "reporting"}
WITH_DATABASE = SERVICES - {"gateway"}


def tcp_sockets() -> list[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of every IPv4/IPv6 TCP socket of the machine."""
    sockets = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            sockets.append(
                (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16), state, inode)
            )
    return sockets


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def pid_listening_on(port: int, sockets) -> int:
    listening = {inode for local, _, state, inode in sockets if local == port and state == "0A"}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if socket_inodes(int(entry.name)) & listening:
                    return int(entry.name)
            except OSError:
                continue
    raise AssertionError(f"no process listens on {port}")


def client_ports_by_process(system, server_port: int) -> dict[str, set[int]]:
    """For each process of the system, the local ports of its connections to ``server_port``."""
    sockets = tcp_sockets()
    ports = {}
    for process in system:
        inodes = socket_inodes(pid_listening_on(process.port, sockets))
        ports[process.name] = {
            local
            for local, remote, state, inode in sockets
            if remote == server_port and state == "01" and inode in inodes
        }
    return ports


def service_of(process_name: str) -> str:
    return process_name.split("-")[0]  # intake-1 -> intake


def broker_users_by_process(system, service_config) -> dict[str, set[str]]:
    vhost = localrun.vhost_of(service_config["AMQP_URI"])
    api, auth = _management(BASE_CONFIG["RABBIT_MANAGEMENT_URL"])
    connections = requests.get(f"{api}/connections", auth=auth, timeout=10).json()
    user_by_port = {
        c["peer_port"]: c["user"]
        for c in connections
        if c.get("vhost") == vhost and c.get("peer_host") in ("127.0.0.1", "::1")
    }
    amqp_port = urlsplit(service_config["AMQP_URI"]).port or 5672
    return {
        name: {user_by_port[port] for port in ports if port in user_by_port}
        for name, ports in client_ports_by_process(system, amqp_port).items()
    }


def test_each_process_talks_to_the_broker_as_its_own_user(system, service_config):
    expected = {process.name: {f"bancheng-{service_of(process.name)}"} for process in system}
    # the management API lists a connection once its statistics were collected (every 5 s)
    seen = {}

    def listed():
        seen.update(broker_users_by_process(system, service_config))
        return all(seen.values())

    try:
        wait_for(listed, timeout=20, interval=1)
    except AssertionError:
        pass
    assert seen == expected, seen


def test_each_service_process_logs_in_to_the_database_as_its_own_role(
    system, service_config, database_url
):
    database = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT client_port, usename FROM pg_stat_activity "
            "WHERE datname = %s AND client_port IS NOT NULL",
            (database,),
        ).fetchall()
    user_by_port = dict(rows)
    db_port = urlsplit(database_url).port or 5432
    seen = {}
    for name, ports in client_ports_by_process(system, db_port).items():
        users = {user_by_port[port] for port in ports if port in user_by_port}
        if users:
            seen[name] = users
    assert seen == {
        process.name: {f"bancheng_{service_of(process.name)}"}
        for process in system
        if service_of(process.name) in WITH_DATABASE
    }, seen
