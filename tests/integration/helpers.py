"""Shared helpers for integration tests: running services in-process and waiting."""

import time
from contextlib import contextmanager

from nameko.containers import ServiceContainer


@contextmanager
def running(config: dict, *service_classes):
    """Run real nameko containers (real RabbitMQ, real PostgreSQL) for the block."""
    containers = [ServiceContainer(cls, config) for cls in service_classes]
    for container in containers:
        container.start()
    try:
        yield containers
    finally:
        for container in containers:
            container.stop()


def wait_for(condition, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@contextmanager
def private_vhost(config: dict, label: str = "private"):
    """``config`` on a RabbitMQ vhost of its own for the block: the session's running system
    (tests/system.py) shares the session vhost and would take the block's messages."""
    from tests.conftest import BASE_CONFIG
    from tools import sandbox

    name = sandbox.sandbox_name(label)
    management = BASE_CONFIG["RABBIT_MANAGEMENT_URL"]
    uri = sandbox.create_vhost(BASE_CONFIG["AMQP_URI"], management, name)
    try:
        yield {**config, "AMQP_URI": uri}
    finally:
        sandbox.delete_vhost(management, name)
