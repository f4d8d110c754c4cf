"""A service outside demo mode stops at start on a missing or development secret (the real
``nameko run``, the real config file); with secrets of its own, or in demo mode, it serves."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.config import REPO_ROOT
from services.common.signing import EVENT_SOURCES, public_key_text
from tests.integration.helpers import wait_for

NAMEKO = Path(sys.executable).with_name("nameko")
CONFIG = REPO_ROOT / "deploy" / "config" / "bancheng.yaml"
INTAKE = "services.intake.service:IntakeService"
OWN_SECRETS = {
    "TOKEN_SECRET": "token-secret-of-our-own-0001",
    "ID_NUMBER_KEYS": "k2:second-id-key-of-our-own2,k1:first-id-key-of-our-own01",
    "AUDIT_KEY": "audit-key-of-our-own-000001",
    "SERVICE_ASSERTION_KEY": "service-assertion-key-of-our-own",
    "EVENT_SIGNING_KEY_INTAKE": "SKZlk3qjtUQvmRxJ47Xg-mmxgKBJvAl0B5fx6gnN5Jg",
    # intake's database role (trust auth here: the test database accepts any password)
    "DB_PASSWORD_INTAKE": "db-password-of-our-own-intake",
    # the public keys of the services whose events intake consumes
    "EVENT_PUBLIC_KEYS": ",".join(
        f"{source}:{public_key_text(Ed25519PrivateKey.generate())}" for source in EVENT_SOURCES
    ),
}
SECRET_SETTINGS = (
    "TOKEN_SECRET",
    "ID_NUMBER_KEY",
    "ID_NUMBER_KEYS",
    "ID_LOOKUP_KEY",
    "AUDIT_KEY",
    "SERVICE_ASSERTION_KEY",
    "EVENT_SIGNING_KEY_INTAKE",
    "EVENT_PUBLIC_KEYS",
    "DB_PASSWORD_INTAKE",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(service_config, **settings) -> dict:
    """A deployment's environment: no demo mode and none of the secrets unless given."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SECRET_SETTINGS and key != "BANCHENG_DEMO"
    }
    return {
        **env,
        "AMQP_URI": service_config["AMQP_URI"],
        "DATABASE_URL": service_config["DATABASE_URL"],
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": "2",
        "PYTHONWARNINGS": "ignore",
        **settings,
    }


def nameko_run(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(NAMEKO), "run", "--config", str(CONFIG), INTAKE],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "settings, named",
    [
        ({}, "TOKEN_SECRET is a development value"),
        ({**OWN_SECRETS, "TOKEN_SECRET": ""}, "TOKEN_SECRET is not set"),
        ({**OWN_SECRETS, "AUDIT_KEY": "demo-audit-key-change-me"}, "AUDIT_KEY is a development"),
        ({**OWN_SECRETS, "ID_NUMBER_KEYS": ""}, "ID_NUMBER_KEY is a development value"),
        ({**OWN_SECRETS, "ID_NUMBER_KEYS": "k2:too-short"}, r"ID_NUMBER_KEYS[k2] is shorter"),
        ({**OWN_SECRETS, "ID_NUMBER_KEYS": "k2:second-id-key-of-our-own2"}, "ID_LOOKUP_KEY"),
        ({**OWN_SECRETS, "SERVICE_ASSERTION_KEY": ""}, "SERVICE_ASSERTION_KEY is not set"),
        ({**OWN_SECRETS, "EVENT_SIGNING_KEY_INTAKE": ""}, "EVENT_SIGNING_KEY_INTAKE is not set"),
        ({**OWN_SECRETS, "EVENT_PUBLIC_KEYS": ""}, "EVENT_PUBLIC_KEYS has no key of"),
        ({**OWN_SECRETS, "DB_PASSWORD_INTAKE": ""}, "DB_PASSWORD_INTAKE is not set"),
        (
            {**OWN_SECRETS, "DB_PASSWORD_INTAKE": "demo-db-password-intake"},
            "DB_PASSWORD_INTAKE is a development value",
        ),
    ],
)
def test_nameko_run_exits_non_zero_naming_the_setting(service_config, settings, named):
    finished = nameko_run(environment(service_config, **settings))
    assert finished.returncode != 0
    assert "DevelopmentSecretError: " + named in finished.stderr, finished.stderr[-2000:]


@pytest.mark.parametrize("settings", [OWN_SECRETS, {"BANCHENG_DEMO": "1"}], ids=["own", "demo"])
def test_with_secrets_of_its_own_or_in_demo_mode_the_service_serves(service_config, settings):
    env = environment(service_config, **settings)
    process = subprocess.Popen(
        [str(NAMEKO), "run", "--config", str(CONFIG), INTAKE],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://{env['WEB_SERVER_ADDRESS']}/healthz"

    def healthy():
        assert process.poll() is None, process.stderr.read()[-2000:]
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(healthy, timeout=45, interval=0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
