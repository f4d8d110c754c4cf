"""HTTP pieces every service shares: ``/healthz``, ``/metrics`` and JSON responses."""

import json
import socket
import time
from datetime import date, datetime

import kombu
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.web.handlers import http
from nameko.web.server import WebServer
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from werkzeug.wrappers import Response

from services.common.config import service_setting
from services.common.rpc import rpc

BROKER_CHECK_SECONDS = 2.0

ENTRYPOINT_SECONDS = Histogram(
    "bancheng_entrypoint_seconds",
    "Time a worker took, by service, entrypoint kind (Rpc, EventHandler, HttpRequestHandler), method and outcome",
    ["service", "kind", "method", "outcome"],
)


_serve_connection = WebServer.process_request


def _serve_without_nagle(self, sock, address):
    # eventlet's WSGI server sends headers and body in separate writes; with Nagle's
    # algorithm on, a response larger than a segment then waits for the client's delayed
    # ACK (40 ms on Linux): every /metrics scrape took 48 ms whatever its size.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return _serve_connection(self, sock, address)


WebServer.process_request = _serve_without_nagle


def json_default(value):
    """JSON for what RPC hands back: times as ISO 8601 with their offset."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False, default=json_default),
        status=status,
        headers=headers or {},
        mimetype="application/json",
    )


def broker_reachable(amqp_uri: str) -> bool:
    """True when a fresh AMQP connection to ``amqp_uri`` opens within a couple of seconds."""
    try:
        with kombu.Connection(amqp_uri, connect_timeout=BROKER_CHECK_SECONDS) as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_CHECK_SECONDS)
        return True
    except Exception:  # a health check reports; it does not raise
        return False


def health_response(service: str, config: dict, dependencies: dict[str, bool]) -> Response:
    """``/healthz``: 200 when every dependency answers, else 503 naming the ones that do not
    (never an exception's text: that is for the logs)."""
    healthy = all(dependencies.values())
    return json_response(
        {
            "service": service,
            "instance": service_setting(config, "INSTANCE"),
            "site": service_setting(config, "SITE"),
            "status": "ok" if healthy else "unhealthy",
            "dependencies": {
                name: "ok" if up else "unavailable" for name, up in dependencies.items()
            },
        },
        200 if healthy else 503,
    )


class Observable:
    """Mixin giving a nameko service ``GET /healthz``, ``GET /metrics`` and a ``ping`` RPC.

    The service must have a ``uow`` (a :class:`~services.common.unit_of_work.UnitOfWork`) or a
    ``db`` dependency (a :class:`~services.common.postgres.Database`).
    """

    config = Config()

    def _database_reachable(self) -> bool:
        try:
            return (getattr(self, "uow", None) or self.db).ping()
        except Exception:  # a health check reports; it does not raise
            return False

    @http("GET", "/healthz")
    def healthz(self, request):
        return health_response(
            self.name,
            self.config,
            {
                "database": self._database_reachable(),
                "broker": broker_reachable(self.config["AMQP_URI"]),
            },
        )

    @rpc
    def ping(self) -> dict:
        """Liveness over the broker, for the front door's ``/healthz``."""
        return {"service": self.name, "database": self._database_reachable()}

    @http("GET", "/metrics")
    def metrics(self, request):
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


class EntrypointMetrics(DependencyProvider):
    """Times every worker of the service (RPC, event handler, HTTP) by entrypoint."""

    def setup(self):
        self._started = {}

    def worker_setup(self, worker_ctx):
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._started.pop(worker_ctx, None)
        if started is None:
            return
        entrypoint = worker_ctx.entrypoint
        outcome = "error" if exc_info else "ok"
        ENTRYPOINT_SECONDS.labels(
            self.container.service_name,
            type(entrypoint).__name__,
            entrypoint.method_name,
            outcome,
        ).observe(time.perf_counter() - started)
