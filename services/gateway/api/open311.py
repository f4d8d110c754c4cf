"""Open311 GeoReport v2 at ``/open311/v2/`` (DESIGN §8), for 12345 platforms and city apps.

Every resource answers in JSON or XML by its extension (``services.json``, ``services.xml``).
Reading is public, as in the spec, and shows no personal data (intake returns only the spec's
fields of Open311 requests). Filing (``POST requests``) carries the integrating system's
``api_key``, which the front door passes on: intake checks it, and that it may file for the
``jurisdiction_id`` (a site code). ``expected_datetime`` is the case's current deadline, from
coordination. Errors are the spec's ``[{"code", "description"}]`` with 400, 403 or 404.
"""

import uuid

from nameko.web.handlers import http
from werkzeug.wrappers import Response

from services.common.config import service_setting
from services.common.errors import PayloadTooLarge
from services.gateway import open311_format
from services.gateway.base import GatewayBase
from services.gateway.http import handled, retry_after

ROOT = "/open311/v2"
FORMAT = "<any(json,xml):fmt>"
MAX_FORM_BYTES = 65536
# coordination answers at most this many cases' deadlines per call
DEADLINES_PER_CALL = 200
QUERY = ("service_request_id", "service_code", "start_date", "end_date", "status")


def error_answer(path: str, error) -> Response:
    """A domain error as the spec's errors, in the format of the resource at ``path``."""
    fmt = open311_format.format_of(path)
    body, content_type = open311_format.render("errors", open311_format.error_document(error), fmt)
    return Response(
        body,
        status=open311_format.error_status(error),
        headers=retry_after(error),
        content_type=content_type,
    )


def open311(route: str):
    """An Open311 route: every error as the spec's errors, in the resource's format."""
    return handled(route, lambda gateway, request, error: error_answer(request.path, error))


def answer(root: str, document, fmt: str, status: int = 200) -> Response:
    body, content_type = open311_format.render(root, document, fmt)
    return Response(body, status=status, content_type=content_type)


class Open311Routes(GatewayBase):
    @http("GET", f"{ROOT}/services.{FORMAT}")
    @open311(f"{ROOT}/services")
    def open311_services(self, request, fmt):
        services = self.intake.open311_services(request.args.get("jurisdiction_id"))
        return answer("services", services, fmt)

    @http("GET", f"{ROOT}/services/<string:service_code>.{FORMAT}")
    @open311(f"{ROOT}/services/{{service_code}}")
    def open311_service_definition(self, request, service_code, fmt):
        definition = self.intake.open311_service_definition(
            service_code, request.args.get("jurisdiction_id")
        )
        return answer("service_definition", definition, fmt)

    @http("POST", f"{ROOT}/requests.{FORMAT}")
    @open311(f"{ROOT}/requests")
    def open311_submit(self, request, fmt):
        limit = int(service_setting(self.config, "OPEN311_MAX_FORM_BYTES", MAX_FORM_BYTES))
        if request.content_length is not None and request.content_length > limit:
            raise PayloadTooLarge(f"请求体超过 {limit} 字节上限")
        request.max_form_memory_size = limit
        request.max_content_length = limit
        form = open311_format.read_form(request.form.items(multi=True))
        api_key = form.pop("api_key", None)
        # one key per request: should the broker hand the RPC to intake twice, it opens one case
        key = request.headers.get("Idempotency-Key") or f"request:{uuid.uuid4()}"
        filed = self.intake.open311_submit(form, api_key, key)
        filed.pop("replayed", None)
        return answer("service_requests", [filed], fmt, status=201)

    @http("GET", f"{ROOT}/requests.{FORMAT}")
    @open311(f"{ROOT}/requests")
    def open311_requests(self, request, fmt):
        filters = {name: request.args.get(name) for name in QUERY}
        filters["jurisdiction_id"] = request.args.get("jurisdiction_id")
        requests = self.intake.open311_requests(filters)
        return answer("service_requests", self._with_deadlines(requests), fmt)

    @http("GET", f"{ROOT}/requests/<string:service_request_id>.{FORMAT}")
    @open311(f"{ROOT}/requests/{{service_request_id}}")
    def open311_request(self, request, service_request_id, fmt):
        found = self.intake.open311_request(service_request_id)
        return answer("service_requests", self._with_deadlines([found]), fmt)

    def _with_deadlines(self, requests: list[dict]) -> list[dict]:
        """Each request with ``expected_datetime``: its case's current deadline, asked of
        coordination for up to 200 cases per call, the calls at once."""
        case_nos = [found["service_request_id"] for found in requests]
        pending = [
            self.coordination.deadlines_of_cases.call_async(case_nos[i : i + DEADLINES_PER_CALL])
            for i in range(0, len(case_nos), DEADLINES_PER_CALL)
        ]
        deadlines: dict[str, list] = {}
        for reply in pending:
            deadlines.update(reply.result())
        return [
            open311_format.with_local_times(
                {
                    **found,
                    "expected_datetime": open311_format.expected_datetime(
                        deadlines.get(found["service_request_id"], [])
                    ),
                }
            )
            for found in requests
        ]
