"""The smallest process a supervisor can run: a nameko service answering ``/healthz``
(HTTP only, so it needs no broker). The supervisor tests kill it and watch it come back."""

from nameko.timer import timer
from nameko.web.handlers import http


class ProbeService:
    name = "probe"

    @http("GET", "/healthz")
    def healthz(self, request):
        return 200, {"Content-Type": "application/json"}, '{"status": "ok"}'

    @timer(interval=0.5)
    def tick(self):
        # nameko's SIGTERM handler only schedules the stop; a hub with nothing else to wake it
        # would sleep on (the real services have heartbeats and the outbox poll for that)
        return None
