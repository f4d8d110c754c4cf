"""RPC on real RabbitMQ: every call ends within its deadline, and no lost reply kills a service."""

import logging
import time

import eventlet
import psycopg
import pytest
from kombu.exceptions import OperationalError
from nameko import rpc as nameko_rpc
from nameko.containers import ServiceContainer
from nameko.exceptions import RpcTimeout
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.container import ResilientContainer
from services.common.errors import NotFound, ServiceFault, ServiceUnavailable
from services.common.rpc import ServiceRpc, SignedClusterRpcProxy, rpc
from tests.conftest import BASE_CONFIG
from tests.integration.helpers import private_vhost, running, wait_for

pytestmark = pytest.mark.integration

DEADLINE = 0.5
EXECUTED = []


class Target:
    name = "rpc_target"

    @rpc
    def slow(self, seconds):
        eventlet.sleep(seconds)
        return "late"

    @rpc
    def bug(self):
        raise ValueError("a bug in the service")

    @rpc
    def database_lost(self):
        raise psycopg.OperationalError("connection to server at 127.0.0.1 failed")

    @rpc(expected_exceptions=NotFound)
    def domain_error(self):
        raise NotFound("事项不存在", "case_no")

    @rpc
    def record(self, token):
        EXECUTED.append(token)
        return token


class Caller:
    name = "rpc_caller"
    target = ServiceRpc("rpc_target", timeout=DEADLINE)
    nobody = ServiceRpc("rpc_nobody", timeout=DEADLINE)

    @rpc
    def call(self, method, *args):
        return getattr(self.target, method)(*args)

    @rpc
    def call_nobody(self):
        return self.nobody.anything()

    @rpc
    def pending_replies(self):
        return len(type(self).target.rpc_reply_listener._reply_events)


@pytest.fixture(scope="module")
def config():
    """A vhost of its own: these tests start and stop services other tests never see."""
    with private_vhost({**BASE_CONFIG, "WEB_SERVER_ADDRESS": "127.0.0.1:0"}, "rpc") as private:
        yield private


def call(config, method, *args):
    with SignedClusterRpcProxy(config, timeout=10) as proxy:
        return proxy.rpc_caller.call(method, *args)


def test_a_slow_service_is_unavailable_at_the_deadline_and_leaves_no_reply_slot(config):
    with running(config, Target, Caller):
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable) as refused:
            call(config, "slow", 3)
        assert time.monotonic() - started < DEADLINE + 1.0
        assert "rpc_target" in refused.value.message
        with SignedClusterRpcProxy(config, timeout=10) as proxy:
            assert proxy.rpc_caller.pending_replies() == 0


def test_a_service_with_no_instance_is_unavailable_at_once(config):
    with running(config, Caller):
        started = time.monotonic()
        with SignedClusterRpcProxy(config, timeout=10) as proxy:
            with pytest.raises(ServiceUnavailable):
                proxy.rpc_caller.call_nobody()
        assert time.monotonic() - started < DEADLINE + 1.0


def test_a_bug_is_a_fault_whose_error_id_is_logged_with_the_traceback(config, caplog):
    caplog.set_level(logging.ERROR, logger="services.common.rpc")
    with running(config, Target, Caller):
        with pytest.raises(ServiceFault) as fault:
            call(config, "bug")
    error_id = fault.value.code
    assert error_id in fault.value.message and "a bug" not in fault.value.message
    logged = [record for record in caplog.records if error_id in record.getMessage()]
    assert logged and logged[0].exc_info[0] is ValueError


def test_a_lost_database_is_unavailable_and_a_domain_error_stays_itself(config):
    with running(config, Target, Caller):
        with pytest.raises(ServiceUnavailable):
            call(config, "database_lost")
        with pytest.raises(NotFound) as not_found:
            call(config, "domain_error")
        assert not_found.value.field == "case_no"


def test_a_request_nobody_answered_in_time_is_never_executed_later(config):
    EXECUTED.clear()
    with running(config, Target):
        pass  # its queue stays, with no consumer
    with running(config, Caller):
        with pytest.raises(ServiceUnavailable):
            call(config, "record", "given up")
        eventlet.sleep(DEADLINE * 2)  # the request expires in the queue
    with running(config, Target, Caller):
        assert call(config, "record", "answered") == "answered"
    assert EXECUTED == ["answered"]


@pytest.fixture
def replies_fail_once(monkeypatch):
    """The broker connection lost just while a reply is sent (what a broker restart does)."""
    send = nameko_rpc.Responder.send_response
    failed = []

    def send_or_fail(responder, result, exc_info):
        if not failed:
            failed.append(True)
            raise OperationalError("[Errno 111] ECONNREFUSED")
        return send(responder, result, exc_info)

    monkeypatch.setattr(nameko_rpc.Responder, "send_response", send_or_fail)
    return failed


class PlainNamekoTarget:
    """nameko's own RPC entrypoint: a lost reply raises out of the worker."""

    name = "rpc_plain_target"

    @nameko_rpc.rpc
    def record(self, token):
        EXECUTED.append(token)
        return token


def test_a_lost_reply_neither_kills_the_service_nor_blocks_the_caller(config, replies_fail_once):
    container = ResilientContainer(Target, config)
    container.start()
    try:
        with SignedClusterRpcProxy(config, timeout=DEADLINE * 2) as proxy:
            with pytest.raises(RpcTimeout):  # no reply: the caller's own timeout ends the wait
                proxy.rpc_target.record("reply lost")
            assert replies_fail_once
            assert proxy.rpc_target.record("next") == "next"
        assert not container._died.ready()
    finally:
        container.stop()


@pytest.mark.parametrize(
    "container_class, survives", [(ResilientContainer, True), (ServiceContainer, False)]
)
def test_a_worker_that_lost_its_connection_ends_only_itself(
    config, replies_fail_once, container_class, survives
):
    container = container_class(PlainNamekoTarget, config)
    container.start()
    try:
        with ClusterRpcProxy(config, timeout=DEADLINE * 2) as proxy:
            with pytest.raises(RpcTimeout):
                proxy.rpc_plain_target.record("reply lost")
        if survives:
            eventlet.sleep(0.2)
            assert not container._died.ready()
        else:  # nameko's own container dies of it: what took the services down
            wait_for(container._died.ready, timeout=5)
    finally:
        if not container._died.ready():
            container.stop()
