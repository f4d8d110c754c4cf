"""RPC that neither hangs nor kills: a deadline for callers, a safe reply for servers.

Calling: :class:`ServiceRpc` is nameko's ``RpcProxy`` whose calls end within a deadline
(``RPC_TIMEOUT_SECONDS``). When the broker cannot take the request, or no reply comes in
time (no instance of the service is there, say), the call raises :class:`ServiceUnavailable`
(the front door's 503). Requests and replies are published without publisher confirms
(a round trip to the broker each): a lost one ends at the deadline. Requests are transient and expire with their deadline, so one that
nobody answered in time is not executed later — after a broker restart, say — behind the
back of a caller who was already told to retry.

Serving: :func:`rpc` is nameko's entrypoint reading ``rpc-<service>`` as a quorum queue
(:class:`QuorumRpcConsumer`: replicated on the district cluster's nodes; reply queues stay
classic), with two more changes. A reply that cannot be sent
because the broker connection was lost is logged and dropped (nameko lets that error kill
the whole service; the caller has its deadline). And an unexpected exception leaves the
service as :class:`ServiceFault` carrying an error id that the service logged with its
traceback, while a lost database or broker leaves it as :class:`ServiceUnavailable`: the
front door can tell a bug (500) from a dependency that is down (503).

The broker is a trust boundary (DESIGN §7, :mod:`services.common.signing`): every request
:class:`ServiceRpc` sends is sealed (arguments encrypted, so no ID number is readable on the
wire) and carries a caller assertion in the ``bancheng-assertion`` header naming the calling
service and the acting user (set by :meth:`_DeadlineServiceProxy.act_as`; the gateway does it
for the signed-in user). :func:`rpc` opens and verifies both before the method runs: a request
without a valid, unexpired assertion for this very call is refused as :class:`Unauthorized`, and
one whose ``actor`` argument is not the asserted user as :class:`Forbidden`, and so is one whose
assertion this process accepted before (a request copied off the broker and published again:
:data:`SEEN_ASSERTIONS`); each is counted (``bancheng_rpc_calls_refused_total``) and logged. Results travel back sealed as well.
"""

import inspect
import logging
import time
import uuid
from contextlib import contextmanager

import amqp.exceptions
import eventlet
import kombu.exceptions
import psycopg
import psycopg_pool
from kombu import Queue
from nameko.amqp.publish import Publisher, UndeliverableMessage
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    NON_PERSISTENT,
    SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import UnknownService, deserialize_to_instance
from nameko.rpc import (
    MethodProxy,
    Responder,
    Rpc,
    RpcConsumer,
    RpcProxy,
    ServiceProxy,
    get_rpc_exchange,
)
from nameko.standalone.rpc import ClusterProxy, ClusterRpcProxy
from prometheus_client import Counter

from services.common import event_queues, signing
from services.common.config import service_setting
from services.common.errors import (
    ERRORS_BY_NAME,
    BanchengError,
    Forbidden,
    ServiceFault,
    ServiceUnavailable,
    Unauthorized,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0

# What a lost broker connection raises, depending on where kombu and amqp notice it.
BROKER_ERRORS = (kombu.exceptions.OperationalError, amqp.exceptions.AMQPError, OSError)
# What a lost or overloaded database raises inside a service.
DATABASE_ERRORS = (psycopg.OperationalError, psycopg_pool.PoolTimeout)
DEPENDENCY_ERRORS = BROKER_ERRORS + DATABASE_ERRORS
ASSERTION_HEADER = "bancheng-assertion"
# an assertion outlives its request's deadline by this much (clock differences between hosts)
ASSERTION_GRACE_SECONDS = 5.0

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
RPC_CALLS_REFUSED = Counter(
    "bancheng_rpc_calls_refused_total",
    "RPC requests refused before the method ran: no valid caller assertion, a foreign actor or "
    "a replayed assertion",
    ["service", "reason"],
)

# the assertion ids this process accepted, until they expire: a copied request is refused
SEEN_ASSERTIONS = signing.ReplayGuard()

# Domain errors cross RPC as themselves (not as RemoteError), so callers can map them.
for _error_class in ERRORS_BY_NAME.values():
    deserialize_to_instance(_error_class)


class QuorumRpcConsumer(RpcConsumer):
    """nameko's RPC consumer reading ``rpc-<service>`` as a durable quorum queue (replicated on
    the district cluster's nodes), not a classic one; the reply queues stay classic
    (:mod:`services.common.event_queues` says how an old classic queue is replaced)."""

    def setup(self):
        if self.queue is None:
            super().setup()
            # nameko's classic queue is replaced before anything declares it: the queue
            # consumer reads self.queue only when it connects
            self.queue = Queue(
                self.queue.name,
                exchange=self.queue.exchange,
                routing_key=self.queue.routing_key,
                durable=True,
                auto_delete=False,
                exclusive=False,
                queue_arguments=dict(event_queues.RPC_QUEUE_ARGUMENTS),
            )

    def handle_result(self, message, result, exc_info):
        """Reply and acknowledge as nameko does, but a reply the broker does not take — the
        connection lost, or the reply refused (its caller's reply queue was on a cluster node
        that stopped) — is logged and dropped instead of killing the service: nameko calls this
        directly, outside the entrypoint's guard, for a request refused before a worker ran
        (its caller unverified, or a replayed assertion). The request is
        acknowledged if its channel still can; its caller has a deadline."""
        try:
            return self._reply(message, result, exc_info)
        except BROKER_ERRORS as error:
            RPC_REPLIES_LOST.labels(self.container.service_name).inc()
            log.warning("reply of %s lost: %s", self.container.service_name, error)
            try:
                self.queue_consumer.ack_message(message)
            except Exception as gone:  # the channel died with the connection: redelivered
                log.debug("request not acknowledged: %s", gone)
            return result, exc_info

    def _reply(self, message, result, exc_info):
        """nameko's ``RpcConsumer.handle_result``, replying without a publisher confirm."""
        config = self.container.config
        responder = _UnconfirmedResponder(
            config[AMQP_URI_CONFIG_KEY],
            get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER),
            message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
        )
        result, exc_info = responder.send_response(result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info


class _UnconfirmedPublisher(Publisher):
    """Requests and replies go without publisher confirms: a confirm is a round trip to the
    broker per call (about a third of the front door's CPU), and a request or reply the
    broker loses ends as its caller's deadline, exactly like a reply lost with a connection."""

    use_confirms = False

    def publish(self, payload, **kwargs):
        # without a confirm an unroutable request cannot be told apart (nameko would warn)
        kwargs["mandatory"] = False
        return super().publish(payload, **kwargs)


class _UnconfirmedResponder(Responder):
    publisher_cls = _UnconfirmedPublisher


class Rpc(Rpc):
    """nameko's RPC entrypoint; see the module docstring for what it changes."""

    rpc_consumer = QuorumRpcConsumer()

    def setup(self):
        super().setup()
        # a missing or development key outside demo mode stops the service here, at start
        self.assertion_key = signing.assertion_key(self.container.config)
        self.actor_position = _actor_parameter(self.container.service_cls, self.method_name)

    def handle_message(self, body, message):
        """Open and verify the request, then run it as nameko does (raising refuses it: the
        RPC consumer replies with the error)."""
        args, kwargs = self._verified_arguments(body, message)
        super().handle_message({"args": args, "kwargs": kwargs}, message)

    def unpack_message_headers(self, message):
        context_data = super().unpack_message_headers(message)
        context_data.pop(ASSERTION_HEADER, None)  # used up here, never passed on
        return context_data

    def _verified_arguments(self, body, message) -> tuple[list, dict]:
        service = self.container.service_name
        target = f"{service}.{self.method_name}"
        sealed = (body.get("kwargs") or {}).get(signing.SEALED) if isinstance(body, dict) else None
        try:
            if not isinstance(sealed, str) or body.get("args"):
                raise signing.InvalidSeal("request body is not sealed")
            caller = signing.verify_assertion(
                self.assertion_key,
                (message.headers or {}).get(ASSERTION_HEADER),
                target=target,
                body_digest=signing.digest(sealed),
            )
            opened = signing.unseal(self.assertion_key, sealed)
        except (signing.InvalidAssertion, signing.InvalidSeal) as refusal:
            self._refuse("unauthenticated", target, refusal)
            raise Unauthorized("调用方身份无法验证，请求被拒绝") from None
        args, kwargs = list(opened.get("args") or []), dict(opened.get("kwargs") or {})
        self.check_signature(args, kwargs)
        actor = _actor_argument(self.actor_position, args, kwargs)
        if not signing.actor_matches(caller.get("user"), actor):
            self._refuse("actor_mismatch", target, f"caller {caller.get('svc')!r}")
            raise Forbidden("操作人与调用方身份不符，请求被拒绝")
        try:
            SEEN_ASSERTIONS.admit(caller, redelivered=_redelivered(message))
        except signing.ReplayedAssertion as replay:
            self._refuse("replayed", target, f"caller {caller.get('svc')!r}: {replay}")
            raise Forbidden("重复的请求（调用方身份凭证已用过），已拒绝") from None
        return args, kwargs

    def _refuse(self, reason: str, target: str, detail) -> None:
        RPC_CALLS_REFUSED.labels(self.container.service_name, reason).inc()
        log.warning("rpc %s refused (%s): %s", target, reason, detail)

    def handle_result(self, message, worker_ctx, result, exc_info):
        if exc_info is not None and not isinstance(exc_info[1], BanchengError):
            exc_info = _as_domain_error(self.container.service_name, self.method_name, exc_info)
        if exc_info is None:
            result = {signing.SEALED: signing.seal(self.assertion_key, result)}
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


def _redelivered(message) -> bool:
    """Whether the broker hands this request out again (set by the broker, never by a client)."""
    return bool((getattr(message, "delivery_info", None) or {}).get("redelivered"))


def _actor_parameter(service_cls, method_name: str) -> tuple[int, str] | None:
    """Where a method takes its ``actor``: (position after ``self``, name), or None."""
    parameters = list(inspect.signature(getattr(service_cls, method_name)).parameters)[1:]
    if "actor" not in parameters:
        return None
    return parameters.index("actor"), "actor"


def _actor_argument(position: tuple[int, str] | None, args: list, kwargs: dict):
    if position is None:
        return None
    index, name = position
    if name in kwargs:
        return kwargs[name]
    return args[index] if index < len(args) else None


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
        self.signer = _CallSigner(
            signing.assertion_key(self.container.config),
            self.container.service_name,
            self.deadline + ASSERTION_GRACE_SECONDS,
        )

    def get_dependency(self, worker_ctx):
        return _DeadlineServiceProxy(
            worker_ctx,
            self.target_service,
            self.rpc_reply_listener,
            deadline=self.deadline,
            signer=self.signer,
            # a request the caller has given up on must not be executed afterwards
            expiration=self.deadline,
            **self.options,
        )


ACTING_USER_ATTRIBUTE = "bancheng_acting_user"


class _CallSigner:
    """Seals a request and asserts who makes it (:mod:`services.common.signing`)."""

    def __init__(self, key: bytes, caller: str, ttl: float):
        self.key, self.caller, self.ttl = key, caller, ttl

    def request(self, target: str, user: dict | None, args, kwargs) -> tuple[str, str]:
        """The sealed body and its assertion for one call to ``target``."""
        sealed = signing.seal(self.key, {"args": list(args), "kwargs": kwargs})
        assertion = signing.sign_assertion(
            self.key,
            caller=self.caller,
            target=target,
            body_digest=signing.digest(sealed),
            user=user,
            ttl=self.ttl,
        )
        return sealed, assertion

    def result(self, reply):
        """A reply's result, opened (a reply that is not sealed is not trusted)."""
        if not signing.is_sealed(reply):
            raise ServiceFault("服务应答未加密封装，已拒绝", code="unsealed_reply")
        return signing.unseal(self.key, reply[signing.SEALED])


class _SignedMethod(MethodProxy):
    """A method proxy whose requests are sealed and asserted, and whose results are opened,
    published without a confirm (:class:`_UnconfirmedPublisher`)."""

    publisher_cls = _UnconfirmedPublisher

    signer: _CallSigner

    def acting_user(self) -> dict | None:
        return getattr(self.worker_ctx, ACTING_USER_ATTRIBUTE, None)

    def _call(self, *args, **kwargs):
        target = f"{self.service_name}.{self.method_name}"
        sealed, self._assertion = self.signer.request(target, self.acting_user(), args, kwargs)
        return _OpenedReply(super()._call(**{signing.SEALED: sealed}), self.signer)

    def get_message_headers(self, worker_ctx):
        headers = super().get_message_headers(worker_ctx)
        headers[ASSERTION_HEADER] = self._assertion
        return headers


class _OpenedReply:
    def __init__(self, reply, signer: _CallSigner):
        self.reply, self.signer = reply, signer

    def result(self):
        return self.signer.result(self.reply.result())


class _DeadlineServiceProxy(ServiceProxy):
    def __init__(self, worker_ctx, service_name, reply_listener, deadline, signer, **options):
        super().__init__(worker_ctx, service_name, reply_listener, **options)
        self.deadline = deadline
        self.signer = signer

    def act_as(self, user: dict | None) -> None:
        """Assert ``user`` (id, role, site) as the acting user of every call this worker makes
        from now on, through any of its proxies (the gateway: the signed-in user)."""
        setattr(self.worker_ctx, ACTING_USER_ATTRIBUTE, signing.acting_user(user))

    def __getattr__(self, name):
        return _DeadlineMethodProxy(
            self.worker_ctx,
            self.service_name,
            name,
            _TrackedReplies(self.reply_listener),
            deadline=self.deadline,
            signer=self.signer,
            **self.options,
        )


class _DeadlineMethodProxy(_SignedMethod):
    def __init__(
        self, worker_ctx, service_name, method_name, reply_listener, deadline, signer, **options
    ):
        super().__init__(worker_ctx, service_name, method_name, reply_listener, **options)
        self.deadline = deadline
        self.signer = signer

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


class SignedClusterRpcProxy(ClusterRpcProxy):
    """nameko's standalone ``ClusterRpcProxy`` for tools and tests that hold the services' key:
    requests sealed and asserted as service ``caller``; each call's acting user is the first
    argument that is a user (a dict with ``id`` and ``role``), else none."""

    def __init__(self, config, caller: str = "tools", **options):
        super().__init__(config, **options)
        signer = _CallSigner(
            signing.assertion_key(config),
            caller,
            float(options.get("timeout") or DEFAULT_TIMEOUT_SECONDS) + ASSERTION_GRACE_SECONDS,
        )
        self._proxy = _SignedClusterProxy(self._worker_ctx, self._reply_listener, signer)


class _SignedClusterProxy(ClusterProxy):
    def __init__(self, worker_ctx, reply_listener, signer):
        super().__init__(worker_ctx, reply_listener)
        self._signer = signer

    def __getattr__(self, name):
        if name not in self._proxies:
            self._proxies[name] = _SignedServiceProxy(
                self._worker_ctx, name, self._reply_listener, self._signer
            )
        return self._proxies[name]


class _SignedServiceProxy(ServiceProxy):
    def __init__(self, worker_ctx, service_name, reply_listener, signer, **options):
        super().__init__(worker_ctx, service_name, reply_listener, **options)
        self.signer = signer

    def __getattr__(self, name):
        method = _StandaloneMethod(
            self.worker_ctx, self.service_name, name, self.reply_listener, **self.options
        )
        method.signer = self.signer
        return method


class _StandaloneMethod(_SignedMethod):
    def _call(self, *args, **kwargs):
        users = [value for value in (*args, *kwargs.values()) if _is_user(value)]
        self._user = users[0] if users else None
        return super()._call(*args, **kwargs)

    def acting_user(self):
        return signing.acting_user(self._user)


def _is_user(value) -> bool:
    return isinstance(value, dict) and {"id", "role"} <= set(value)
