"""The service container every Bancheng process runs in (``SERVICE_CONTAINER_CLS``).

nameko kills the whole container — and ``nameko run`` exits — when any worker thread ends
with an exception, even one raised by an entrypoint after the service's own code returned:
acknowledging, requeuing or replying on a connection the broker has just dropped. Those are
transient: the consumers reconnect by themselves and the broker redelivers what was not
acknowledged. This container logs and counts such a worker instead of dying. Any other
error ends the container as before (a supervisor restarts the process).
"""

import logging

from nameko.containers import ServiceContainer
from prometheus_client import Counter

from services.common import secrets
from services.common.rpc import DEPENDENCY_ERRORS

log = logging.getLogger(__name__)

WORKERS_LOST = Counter(
    "bancheng_workers_lost_connection_total",
    "Workers whose result could not be handed to a lost broker or database connection",
    ["service", "entrypoint"],
)


class ResilientContainer(ServiceContainer):
    def __init__(self, service_cls, config):
        # no development secret outside demo mode: stop before anything starts
        secrets.refuse_development_secrets(config)
        super().__init__(service_cls, config)

    def _handle_worker_thread_exited(self, gt, worker_ctx):
        self._worker_threads.pop(worker_ctx, None)
        try:
            gt.wait()
        except DEPENDENCY_ERRORS as error:
            WORKERS_LOST.labels(self.service_name, worker_ctx.entrypoint.method_name).inc()
            log.warning(
                "worker for %s lost its connection (%s); the message will be redelivered",
                worker_ctx.entrypoint.method_name,
                error,
            )
            return
        except BaseException:
            # nameko's own handling: re-raises into the container, which then dies
            pass
        self._handle_thread_exited(gt)
