"""RPC that neither hangs nor kills: a deadline for callers, a safe reply for servers.

Calling: :class:`ServiceRpc` is nameko's ``RpcProxy`` whose calls end within a deadline
(``RPC_TIMEOUT_SECONDS``). When the broker cannot take the request, no instance of the
service is there, or no reply comes in time, the call raises :class:`ServiceUnavailable`
(the front door's 503). Requests are transient and expire with their deadline, so one that
nobody answered in time is not executed later — after a broker restart, say — behind the
back of a caller who was already told to retry.

Serving: :func:`rpc` is nameko's entrypoint with two changes. A reply that cannot be sent
because the broker connection was lost is logged and dropped (nameko lets that error kill
the whole service; the caller has its deadline). And an unexpected exception leaves the
service as :class:`ServiceFault` carrying an error id that the service logged with its
traceback, while a lost database or broker leaves it as :class:`ServiceUnavailable`: the
front door can tell a bug (500) from a dependency that is down (503).
"""

import logging
import time
import uuid
from contextlib import contextmanager

import amqp.exceptions
import eventlet
import kombu.exceptions
import psycopg
import psycopg_pool
from nameko.amqp.publish import UndeliverableMessage
from nameko.constants import NON_PERSISTENT
from nameko.exceptions import UnknownService, deserialize_to_instance
from nameko.rpc import MethodProxy, Rpc, RpcProxy, ServiceProxy
from prometheus_client import Counter

from services.common.config import service_setting
from services.common.errors import ERRORS_BY_NAME, BanchengError, ServiceFault, ServiceUnavailable

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0

# What a lost broker connection raises, depending on where kombu and amqp notice it.
BROKER_ERRORS = (kombu.exceptions.OperationalError, amqp.exceptions.AMQPError, OSError)
# What a lost or overloaded database raises inside a service.
DATABASE_ERRORS = (psycopg.OperationalError, psycopg_pool.PoolTimeout)
DEPENDENCY_ERRORS = BROKER_ERRORS + DATABASE_ERRORS

RPC_CALLS_FAILED = Counter(
    "bancheng_rpc_calls_failed_total",
    "RPC calls that ended without a reply, by target service and reason",
    ["target", "reason"],
)
RPC_REPLIES_LOST = Counter(
    "bancheng_rpc_replies_lost_total",
    "RPC replies that could not be sent because the broker connection was lost",
    ["service"],
)

# Domain errors cross RPC as themselves (not as RemoteError), so callers can map them.
for _error_class in ERRORS_BY_NAME.values():
    deserialize_to_instance(_error_class)


class Rpc(Rpc):
    """nameko's RPC entrypoint; see the module docstring for what it changes."""

    def handle_result(self, message, worker_ctx, result, exc_info):
        if exc_info is not None and not isinstance(exc_info[1], BanchengError):
            exc_info = _as_domain_error(self.container.service_name, self.method_name, exc_info)
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except BROKER_ERRORS as error:
            # The request stays unacknowledged and its channel is gone: the broker drops it
            # (transient, expired) or hands it to another instance; the caller has a deadline.
            RPC_REPLIES_LOST.labels(self.container.service_name).inc()
            log.warning(
                "reply of %s.%s lost with the broker connection: %s",
                self.container.service_name,
                self.method_name,
                error,
            )
            return result, exc_info


rpc = Rpc.decorator


def _as_domain_error(service: str, method: str, exc_info):
    error = exc_info[1]
    if isinstance(error, DEPENDENCY_ERRORS):
        log.warning("%s.%s: a dependency is unavailable: %s", service, method, error)
        replacement = ServiceUnavailable("服务暂时不可用，请稍后重试")
    else:
        error_id = uuid.uuid4().hex[:12]
        log.error("error id %s in %s.%s", error_id, service, method, exc_info=exc_info)
        replacement = ServiceFault(f"系统内部错误，错误编号 {error_id}", code=error_id)
    return (type(replacement), replacement, None)


class ServiceRpc(RpcProxy):
    """An ``RpcProxy`` whose calls end within a deadline (seconds; default from the config)."""

    def __init__(self, target_service: str, timeout: float | None = None, **options):
        super().__init__(target_service, delivery_mode=NON_PERSISTENT, **options)
        self.timeout = timeout

    def setup(self):
        self.deadline = self.timeout or float(
            service_setting(self.container.config, "RPC_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
        )

    def get_dependency(self, worker_ctx):
        return _DeadlineServiceProxy(
            worker_ctx,
            self.target_service,
            self.rpc_reply_listener,
            deadline=self.deadline,
            # a request the caller has given up on must not be executed afterwards
            expiration=self.deadline,
            **self.options,
        )


class _DeadlineServiceProxy(ServiceProxy):
    def __init__(self, worker_ctx, service_name, reply_listener, deadline, **options):
        super().__init__(worker_ctx, service_name, reply_listener, **options)
        self.deadline = deadline

    def __getattr__(self, name):
        return _DeadlineMethodProxy(
            self.worker_ctx,
            self.service_name,
            name,
            _TrackedReplies(self.reply_listener),
            deadline=self.deadline,
            **self.options,
        )


class _DeadlineMethodProxy(MethodProxy):
    def __init__(self, worker_ctx, service_name, method_name, reply_listener, deadline, **options):
        super().__init__(worker_ctx, service_name, method_name, reply_listener, **options)
        self.deadline = deadline

    def __call__(self, *args, **kwargs):
        return self.call_async(*args, **kwargs).result()

    def call_async(self, *args, **kwargs):
        """Send the request now; ``.result()`` waits for what is left of the deadline."""
        reply = _DeadlineReply(self, time.monotonic() + self.deadline)
        try:
            with reply.failures_as_unavailable():
                reply.pending = self._call(*args, **kwargs)
        except ServiceUnavailable:
            self.reply_listener.forget()
            raise
        return reply

    def unavailable(self, reason: str, detail: str) -> ServiceUnavailable:
        RPC_CALLS_FAILED.labels(self.service_name, reason).inc()
        log.warning("rpc %s.%s failed: %s", self.service_name, self.method_name, reason)
        return ServiceUnavailable(f"{self.service_name} 服务暂时不可用（{detail}），请稍后重试")


class _DeadlineReply:
    """One call's reply: waited for until the call's deadline, its slot forgotten after."""

    def __init__(self, method: _DeadlineMethodProxy, deadline: float):
        self.method = method
        self.deadline = deadline
        self.pending = None

    def result(self):
        try:
            with self.failures_as_unavailable():
                return self.pending.result()
        finally:
            self.method.reply_listener.forget()

    @contextmanager
    def failures_as_unavailable(self):
        method = self.method
        timeout = eventlet.Timeout(max(0.0, self.deadline - time.monotonic()))
        try:
            yield
        except eventlet.Timeout as expired:
            if expired is not timeout:
                raise
            raise method.unavailable("deadline", f"{method.deadline:g} 秒内未响应") from None
        except (UnknownService, UndeliverableMessage):
            raise method.unavailable("no_instance", "没有可用的实例") from None
        except BROKER_ERRORS:
            raise method.unavailable("broker", "消息服务器不可达") from None
        finally:
            timeout.cancel()


class _TrackedReplies:
    """The reply listener as one call sees it: forgets the call's reply slot when it ends,
    so calls that time out leave nothing behind."""

    def __init__(self, listener):
        self.listener = listener
        self.correlation_ids = []

    @property
    def routing_key(self):
        return self.listener.routing_key

    def get_reply_event(self, correlation_id):
        self.correlation_ids.append(correlation_id)
        return self.listener.get_reply_event(correlation_id)

    def forget(self):
        for correlation_id in self.correlation_ids:
            self.listener._reply_events.pop(correlation_id, None)
