"""Registering, listing and reading cases."""

import uuid

from nameko.web.handlers import http

from services.common.errors import NotFound
from services.common.web import json_response
from services.gateway import case_view, validation
from services.gateway.base import GatewayBase
from services.gateway.http import api

PAGE_SIZE = 50
CASE_FILTERS = ("site", "status", "type", "department", "overdue", "month", "q", "limit", "cursor")


class CaseRoutes(GatewayBase):
    @http("POST", "/api/v1/cases")
    @api("/api/v1/cases")
    def register_case(self, request):
        user = self._user(request)
        body = self._body(request)
        # Without the client's key, one of the request's own: should the broker hand the RPC to
        # intake twice (a reply lost with its connection), the second run replays the first.
        key = request.headers.get("Idempotency-Key") or f"request:{uuid.uuid4()}"
        case = self.intake.register_case(body, user, key)
        return json_response(case, status=200 if case["replayed"] else 201)

    @http("GET", "/api/v1/cases")
    @api("/api/v1/cases")
    def list_cases(self, request):
        user = self._user(request)
        filters = {name: request.args.get(name) for name in CASE_FILTERS if request.args.get(name)}
        limit = filters["limit"] = validation.page_limit(filters.get("limit")) or PAGE_SIZE
        items = self.intake.list_cases(filters, user)
        next_cursor = items[-1]["case_no"] if items and len(items) == limit else None
        return json_response({"items": items, "next_cursor": next_cursor})

    @http("GET", "/api/v1/cases/<string:case_no>")
    @api("/api/v1/cases/{case_no}")
    def get_case(self, request, case_no):
        user = self._user(request)
        detail = case_view.case_detail(self, case_no, user)
        try:
            # coordination's view of its flow; asked after the timelines, so that when they show
            # coordination's entry, this shows its record too
            detail["coordination"] = self.coordination.case_summary(case_no)
        except NotFound:
            detail["coordination"] = None  # its case_registered event is still on the way
        return json_response(detail)
