"""Case sub-routes of intake: helpers beside the first receiver, and the 回访 after a bad rating."""

from nameko.web.handlers import http

from services.common.web import json_response
from services.gateway.base import GatewayBase
from services.gateway.http import api
from services.gateway.openapi import errors, ok
from services.gateway.roles import CASE_WORKERS


class IntakeExtraRoutes(GatewayBase):
    @http("POST", "/api/v1/cases/<string:case_no>/helpers")
    @api("/api/v1/cases/{case_no}/helpers")
    def add_helper(self, request, case_no):
        user = self._user(request, *CASE_WORKERS)
        body = self._body(request)
        result = self.intake.add_helper(case_no, body.get("staff_id"), user)
        return json_response(result, status=201 if result["added"] else 200)

    @http("POST", "/api/v1/cases/<string:case_no>/return-visit")
    @api("/api/v1/cases/{case_no}/return-visit")
    def record_return_visit(self, request, case_no):
        user = self._user(request, *CASE_WORKERS)
        body = self._body(request)
        return json_response(self.intake.record_return_visit(case_no, body, user), status=201)


CASE_NO = {"name": "case_no", "in": "path", "required": True, "schema": {"type": "string"}}


def _post(summary: str, schema: dict) -> dict:
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": [CASE_NO],
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {**ok(201, "recorded"), **errors(400, 401, 403, 404, 409, 422)},
        }
    }


OPENAPI_PATHS = {
    "/api/v1/cases/{case_no}/helpers": _post(
        "添加协助人员（首接负责人不可移除、不可更换）",
        {
            "type": "object",
            "required": ["staff_id"],
            "properties": {"staff_id": {"type": "string"}},
        },
    ),
    "/api/v1/cases/{case_no}/return-visit": _post(
        "记录回访（实名差评结案前必须回访）",
        {
            "type": "object",
            "required": ["satisfied"],
            "properties": {
                "satisfied": {"type": "boolean"},
                "notes": {"type": "string", "maxLength": 1000},
            },
        },
    ),
}
