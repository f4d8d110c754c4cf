"""Staff records, investigations, findings, sanctions, appeals, department scores, audit."""

from nameko.web.handlers import http

from services.common.errors import InvalidField
from services.common.web import json_response
from services.gateway import validation
from services.gateway.api.openapi import BEARER, ID_CURSOR, LIMIT, errors, ok
from services.gateway.base import GatewayBase
from services.gateway.http import api
from services.gateway.roles import APPEAL_DECIDERS, SANCTION_DECIDERS


def _page(request) -> tuple[int | None, int | None]:
    """``limit`` and ``cursor`` (the last id of the previous page), checked."""
    args = request.args
    return validation.page_limit(args.get("limit")), validation.id_cursor(args.get("cursor"))


class AccountabilityRoutes(GatewayBase):
    @http("GET", "/api/v1/staff/<string:staff_id>/record")
    @api("/api/v1/staff/{id}/record")
    def staff_record(self, request, staff_id):
        user = self._user(request)
        return json_response(self.accountability.staff_record(staff_id, user))

    @http("GET", "/api/v1/investigations")
    @api("/api/v1/investigations")
    def list_investigations(self, request):
        self._user(request, "supervisor")
        limit, cursor = _page(request)
        return json_response(
            self.accountability.investigations(request.args.get("status"), limit, cursor)
        )

    @http("POST", "/api/v1/investigations/<int:investigation_id>/finding")
    @api("/api/v1/investigations/{id}/finding")
    def record_finding(self, request, investigation_id):
        user = self._user(request, "supervisor")
        body = self._body(request)
        staff_id = body.get("staff_id")
        if staff_id is not None and not isinstance(staff_id, str):
            raise InvalidField("staff_id 应为工作人员编号（文本）", "staff_id")
        if staff_id and staff_id not in {member["id"] for member in self.intake.staff()}:
            raise InvalidField(f"工作人员 {staff_id} 不存在", "staff_id")
        finding = self.accountability.record_finding(investigation_id, body, user)
        return json_response(finding, status=201)

    @http("POST", "/api/v1/sanctions/<int:sanction_id>/confirm")
    @api("/api/v1/sanctions/{id}/confirm")
    def confirm_sanction(self, request, sanction_id):
        user = self._user(request, *SANCTION_DECIDERS)
        return json_response(self.accountability.confirm_sanction(sanction_id, user))

    @http("POST", "/api/v1/sanctions/<int:sanction_id>/reject")
    @api("/api/v1/sanctions/{id}/reject")
    def reject_sanction(self, request, sanction_id):
        user = self._user(request, *SANCTION_DECIDERS)
        body = self._body(request)
        return json_response(self.accountability.reject_sanction(sanction_id, body, user))

    @http("POST", "/api/v1/findings/<int:finding_id>/appeal")
    @api("/api/v1/findings/{id}/appeal")
    def file_appeal(self, request, finding_id):
        user = self._user(request)  # the staff member found responsible, or a supervisor
        body = self._body(request)
        return json_response(self.accountability.file_appeal(finding_id, body, user), status=201)

    @http("POST", "/api/v1/appeals/<int:appeal_id>/decision")
    @api("/api/v1/appeals/{id}/decision")
    def decide_appeal(self, request, appeal_id):
        user = self._user(request, *APPEAL_DECIDERS)
        body = self._body(request)
        return json_response(self.accountability.decide_appeal(appeal_id, body, user))

    @http("GET", "/api/v1/departments/scores")
    @api("/api/v1/departments/scores")
    def department_scores(self, request):
        self._user(request, "supervisor", "bureau")
        year = request.args.get("year")
        if not year:
            raise InvalidField("缺少考核年度 year", "year")
        return json_response(self.accountability.department_scores(year, self.intake.departments()))

    @http("POST", "/api/v1/deductions/<int:deduction_id>/withdraw")
    @api("/api/v1/deductions/{id}/withdraw")
    def withdraw_deduction(self, request, deduction_id):
        user = self._user(request, "supervisor")
        body = self._body(request)
        return json_response(self.accountability.withdraw_deduction(deduction_id, body, user))

    @http("GET", "/api/v1/audit")
    @api("/api/v1/audit")
    def audit_trail(self, request):
        self._user(request, "supervisor")
        limit, cursor = _page(request)
        return json_response(
            self.accountability.audit_entries(request.args.get("case_no"), limit, cursor)
        )


def _id(name: str = "id") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def _query(*names: str) -> list[dict]:
    return [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in names
    ]


def _body(required: list[str], properties: dict) -> dict:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": required, "properties": properties}
            }
        },
    }


REASON = _body(["reason"], {"reason": {"type": "string"}})

OPENAPI_PATHS = {
    "/api/v1/staff/{id}/record": {
        "get": {
            "summary": "工作人员记录：首接事项、是否持续协助、调查结论、累计次数、处理",
            "security": BEARER,
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {**ok(), **errors(401, 403)},
        }
    },
    "/api/v1/investigations": {
        "get": {
            "summary": "不给办事项的责任调查（督查人员）",
            "security": BEARER,
            "parameters": [*_query("status"), LIMIT, ID_CURSOR],
            "responses": {**ok(), **errors(401, 403, 422)},
        }
    },
    "/api/v1/investigations/{id}/finding": {
        "post": {
            "summary": "认定调查结论并按规则处理（督查人员）",
            "security": BEARER,
            "parameters": [_id()],
            "requestBody": _body(
                ["finding"],
                {
                    "staff_id": {"type": "string", "description": "责任人；无过错时可省略"},
                    "cause": {"enum": ["unfamiliar", "process", "attitude"]},
                    "finding": {"type": "string", "description": "查明的事实"},
                    "no_fault": {"type": "boolean", "default": False},
                },
            ),
            "responses": {**ok(201, "recorded"), **errors(400, 401, 403, 404, 409, 422)},
        }
    },
    "/api/v1/sanctions/{id}/confirm": {
        "post": {
            "summary": "人事部门确认处理建议（辞退）",
            "security": BEARER,
            "parameters": [_id()],
            "responses": {**ok(), **errors(401, 403, 404, 409)},
        }
    },
    "/api/v1/sanctions/{id}/reject": {
        "post": {
            "summary": "人事部门驳回处理建议（辞退），说明理由",
            "security": BEARER,
            "parameters": [_id()],
            "requestBody": REASON,
            "responses": {**ok(), **errors(400, 401, 403, 404, 409, 422)},
        }
    },
    "/api/v1/findings/{id}/appeal": {
        "post": {
            "summary": "对调查结论申诉（本人或督查人员）",
            "security": BEARER,
            "parameters": [_id()],
            "requestBody": REASON,
            "responses": {**ok(201, "filed"), **errors(400, 401, 403, 404, 409, 422)},
        }
    },
    "/api/v1/appeals/{id}/decision": {
        "post": {
            "summary": "申诉决定；申诉成立则撤销该次认定并重新计算累计次数（督查人员，非申诉人）",
            "security": BEARER,
            "parameters": [_id()],
            "requestBody": _body(
                ["upheld", "reason"],
                {"upheld": {"type": "boolean"}, "reason": {"type": "string"}},
            ),
            "responses": {**ok(), **errors(400, 401, 403, 404, 409, 422)},
        }
    },
    "/api/v1/departments/scores": {
        "get": {
            "summary": "放管服考核：各部门得分及每项扣分的事项与原因",
            "security": BEARER,
            "parameters": [
                {"name": "year", "in": "query", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {**ok(), **errors(401, 403, 422)},
        }
    },
    "/api/v1/deductions/{id}/withdraw": {
        "post": {
            "summary": "撤销一项考核扣分并说明理由（督查人员）",
            "security": BEARER,
            "parameters": [_id()],
            "requestBody": REASON,
            "responses": {**ok(), **errors(400, 401, 403, 404, 409, 422)},
        }
    },
    "/api/v1/audit": {
        "get": {
            "summary": "审计记录（只增不改，哈希链）（督查人员）",
            "security": BEARER,
            "parameters": [*_query("case_no"), LIMIT, ID_CURSOR],
            "responses": {**ok(), **errors(401, 403, 422)},
        }
    },
}
