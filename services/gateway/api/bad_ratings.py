"""The 差评 loop of a case a bad rating opened: 核实, 申诉 and its decision, 整改, 反馈, 再评价.

Each route is one of coordination's RPCs, which checks again who may take the step (the
roles below only keep others from the door): officers verify, rectify, answer and record
the re-rating; the rated staff member appeals (coordination checks it is them; a window
staff member reaches only their own site's cases); a supervisor decides the appeal. Every
route answers the loop as ``GET /api/v1/cases/{case_no}`` shows it in ``bad_rating``.
"""

from nameko.web.handlers import http

from services.common.web import json_response
from services.gateway.api.openapi import BEARER, errors, ok
from services.gateway.base import GatewayBase
from services.gateway.http import api
from services.gateway.roles import CASE_WORKERS

# step of the URL -> (the RPC, the roles let through the door)
STEPS = {
    "verify": ("verify_bad_rating", ("officer",)),
    "appeal": ("appeal_bad_rating", CASE_WORKERS),
    "appeal-decision": ("decide_bad_rating_appeal", ("supervisor",)),
    "rectify": ("rectify_bad_rating", ("officer",)),
    "answer": ("answer_bad_rating", ("officer",)),
    "re-rating": ("re_rate_bad_rating", ("officer",)),
}


class BadRatingRoutes(GatewayBase):
    def _loop_step(self, request, case_no: str, step: str):
        rpc_name, roles = STEPS[step]
        user = self._user(request, *roles)
        body = self._body(request)
        if user["role"] == "window_staff":
            self.intake.get_case(case_no, user)  # another site's case is 403 before anything
        return json_response(getattr(self.coordination, rpc_name)(case_no, body, user))

    @http("POST", "/api/v1/cases/<string:case_no>/bad-rating/verify")
    @api("/api/v1/cases/{case_no}/bad-rating/verify")
    def verify_bad_rating(self, request, case_no):
        return self._loop_step(request, case_no, "verify")

    @http("POST", "/api/v1/cases/<string:case_no>/bad-rating/appeal")
    @api("/api/v1/cases/{case_no}/bad-rating/appeal")
    def appeal_bad_rating(self, request, case_no):
        return self._loop_step(request, case_no, "appeal")

    @http("POST", "/api/v1/cases/<string:case_no>/bad-rating/appeal-decision")
    @api("/api/v1/cases/{case_no}/bad-rating/appeal-decision")
    def decide_bad_rating_appeal(self, request, case_no):
        return self._loop_step(request, case_no, "appeal-decision")

    @http("POST", "/api/v1/cases/<string:case_no>/bad-rating/rectify")
    @api("/api/v1/cases/{case_no}/bad-rating/rectify")
    def rectify_bad_rating(self, request, case_no):
        return self._loop_step(request, case_no, "rectify")

    @http("POST", "/api/v1/cases/<string:case_no>/bad-rating/answer")
    @api("/api/v1/cases/{case_no}/bad-rating/answer")
    def answer_bad_rating(self, request, case_no):
        return self._loop_step(request, case_no, "answer")

    @http("POST", "/api/v1/cases/<string:case_no>/bad-rating/re-rating")
    @api("/api/v1/cases/{case_no}/bad-rating/re-rating")
    def re_rate_bad_rating(self, request, case_no):
        return self._loop_step(request, case_no, "re-rating")


STRING = {"type": "string"}
LEVEL = {"type": "integer", "minimum": 1, "maximum": 5}


def _object(required: list[str], **properties) -> dict:
    return {"type": "object", "required": required, "properties": properties}


BODIES = {
    "verify": (
        "核实差评：属实（genuine）或不属实（恶意差评 malicious、误评 mistaken、与政务服务无关 "
        "unrelated），属实的开始计算整改期限",
        _object(
            ["finding", "reason"],
            finding={"enum": ["genuine", "malicious", "mistaken", "unrelated"]},
            reason=STRING,
        ),
    ),
    "appeal": (
        "被评价的工作人员本人对核实结果申诉（整改前，一次；整改期限暂停）",
        _object(["reason"], reason=STRING),
    ),
    "appeal-decision": (
        "督查人员决定申诉（非申诉人、非核实人）：成立则差评不予认定，驳回则继续计时整改",
        _object(["upheld", "reason"], upheld={"type": "boolean"}, reason=STRING),
    ),
    "rectify": ("记录整改措施（是否在整改期限内）", _object(["measures"], measures=STRING)),
    "answer": ("向评价人反馈", _object(["summary"], summary=STRING)),
    "re-rating": (
        "记录评价人的再评价（1–5 级，回访后，可选）",
        _object(["level"], level=LEVEL, text=STRING),
    ),
}
OPENAPI_PATHS = {
    f"/api/v1/cases/{{case_no}}/bad-rating/{step}": {
        "post": {
            "summary": summary,
            "security": BEARER,
            "parameters": [{"name": "case_no", "in": "path", "required": True, "schema": STRING}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            },
            "responses": {**ok(), **errors(400, 401, 403, 404, 409, 422)},
        }
    }
    for step, (summary, schema) in BODIES.items()
}
