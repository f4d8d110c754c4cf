"""The baseline: a bare nameko HTTP → RPC → event loop with three consumers, nothing else.

Each consumer only announces that it ran (``pg_notify``), exactly as the benchmark hears that
Bancheng's consumers are done, so both sides are timed the same way.
"""

from nameko.events import EventDispatcher, event_handler
from nameko.rpc import RpcProxy, rpc
from nameko.web.handlers import http

from services.common.postgres import DatabaseProvider


class _Healthy:
    """Answers /healthz once the container runs, so the benchmark knows it may start."""

    @http("GET", "/healthz")
    def healthz(self, request):
        return 200, "ok"


class BaselineGateway(_Healthy):
    name = "baseline_gateway"
    intake = RpcProxy("baseline_intake")

    @http("POST", "/register")
    def register(self, request):
        return 201, self.intake.register(request.get_data(as_text=True))


class BaselineIntake(_Healthy):
    name = "baseline_intake"
    dispatch = EventDispatcher()

    @rpc
    def register(self, body: str) -> str:
        key = body.strip()
        self.dispatch("registered", {"key": key})
        return key


class _Consumer(_Healthy):
    db = DatabaseProvider()

    def _done(self, payload):
        with self.db.transaction() as cur:
            cur.execute("SELECT pg_notify('bench_done', %s)", (f"{self.name}:{payload['key']}",))


class BaselineConsumerA(_Consumer):
    name = "baseline_consumer_a"

    @event_handler("baseline_intake", "registered")
    def on_registered(self, payload):
        self._done(payload)


class BaselineConsumerB(_Consumer):
    name = "baseline_consumer_b"

    @event_handler("baseline_intake", "registered")
    def on_registered(self, payload):
        self._done(payload)


class BaselineConsumerC(_Consumer):
    name = "baseline_consumer_c"

    @event_handler("baseline_intake", "registered")
    def on_registered(self, payload):
        self._done(payload)
