"""HTTP pieces every service shares: ``/healthz``, ``/metrics`` and JSON responses."""

import json
import socket
import time
from datetime import date, datetime

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.web.handlers import http
from nameko.web.server import WebServer
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from werkzeug.wrappers import Response

from services.common.config import service_setting

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


class Observable:
    """Mixin giving a nameko service ``GET /healthz`` and ``GET /metrics``.

    The service must have a ``db`` dependency (a :class:`~services.common.postgres.Database`).
    """

    config = Config()

    @http("GET", "/healthz")
    def healthz(self, request):
        config = self.config
        body = {
            "service": self.name,
            "instance": service_setting(config, "INSTANCE"),
            "site": service_setting(config, "SITE"),
        }
        try:
            self.db.ping()
        except Exception as exc:  # a health check reports; it does not raise
            return json_response({**body, "status": "unhealthy", "database": str(exc)}, 503)
        return json_response({**body, "status": "ok", "database": "ok"})

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
