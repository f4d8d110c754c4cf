"""The front door's own routes: health (every dependency asked at once), metrics, OpenAPI."""

import eventlet
from nameko.web.handlers import http
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Response

from services.common.web import broker_reachable, health_response, json_response
from services.gateway.api import openapi
from services.gateway.base import GatewayBase
from services.gateway.site_mode import services_behind

HEALTH_SECONDS = 2.0


class FrontDoorRoutes(GatewayBase):
    """The front door's own: health, metrics and the OpenAPI document."""

    @http("GET", "/healthz")
    def healthz(self, request):
        """The broker and every service behind the front door, asked at once (2 s bound); on a
        site node that is intake alone."""
        names = services_behind(self.config)
        pool = eventlet.GreenPool(len(names) + 1)
        checks = {"broker": pool.spawn(broker_reachable, self.config["AMQP_URI"])}
        for name in names:
            checks[name] = pool.spawn(self._service_answers, getattr(self, name))
        return health_response(
            "gateway", self.config, {name: check.wait() for name, check in checks.items()}
        )

    @staticmethod
    def _service_answers(proxy) -> bool:
        try:
            with eventlet.Timeout(HEALTH_SECONDS):
                return bool(proxy.ping()["database"])
        except (Exception, eventlet.Timeout):  # a health check reports; it does not raise
            return False

    @http("GET", "/metrics")
    def metrics(self, request):
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    @http("GET", "/api/v1/openapi.json")
    def openapi_document(self, request):
        return json_response(openapi.document())
