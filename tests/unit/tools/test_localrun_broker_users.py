"""tools.localrun gives each service process its own broker user (issue 12), never guest."""

import pytest

from services.common.secrets import DevelopmentSecretError
from tools import localrun


def test_a_process_knows_the_service_it_runs():
    services = {process.name: process.service for process in localrun.processes()}
    assert services == {
        "intake-1": "intake",
        "intake-2": "intake",
        "coordination": "coordination",
        "accountability": "accountability",
        "reporting": "reporting",
        "gateway": "gateway",
    }
    assert localrun.Process("probe", "tests.drills.probe_service:Probe", 1).service is None


@pytest.mark.parametrize(
    "uri, vhost",
    [
        ("amqp://guest:guest@127.0.0.1:5672/", "/"),
        ("amqp://guest:guest@127.0.0.1:5672", "/"),
        ("amqp://guest:guest@127.0.0.1:5672/bancheng_test_1", "bancheng_test_1"),
        ("amqp://guest:guest@127.0.0.1:5672/%2Fodd", "/odd"),
    ],
)
def test_the_vhost_of_an_amqp_uri(uri, vhost):
    assert localrun.vhost_of(uri) == vhost


def test_each_service_process_gets_its_own_users_uri(monkeypatch):
    applied = []
    monkeypatch.setattr(localrun.broker_users, "apply", lambda *args: applied.append(args))
    env = {"BANCHENG_DEMO": "1", "AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/v1"}
    plan = [*localrun.processes(), localrun.Process("probe", "tests.probe:Probe", 9)]
    given = {
        process.name: process.env.get("AMQP_URI")
        for process in localrun.with_broker_users(plan, env)
    }
    assert (
        given["intake-2"] == "amqp://bancheng-intake:demo-broker-password-intake@127.0.0.1:5672/v1"
    )
    assert given["gateway"].startswith("amqp://bancheng-gateway:")
    assert given["probe"] is None  # the system's AMQP_URI, as before
    [(admin, vhost, passwords)] = applied
    assert vhost == "v1" and set(passwords) == set(localrun.broker_users.SERVICES)


def test_outside_demo_mode_the_admin_and_every_password_must_be_given(monkeypatch):
    monkeypatch.setattr(localrun.broker_users, "apply", lambda *args: None)
    env = {"BANCHENG_DEMO": "0", "AMQP_URI": "amqp://admin:x@127.0.0.1:5672/v1"}
    with pytest.raises(DevelopmentSecretError, match="RABBITMQ_PASSWORD_GATEWAY is not set"):
        localrun.with_broker_users(localrun.processes(), env)
    passwords = {
        f"RABBITMQ_PASSWORD_{s.upper()}": f"{s}-password-of-its-own"
        for s in localrun.broker_users.SERVICES
    }
    with pytest.raises(DevelopmentSecretError, match="RABBITMQ_ADMIN_URI is not set"):
        localrun.with_broker_users(localrun.processes(), {**env, **passwords})
