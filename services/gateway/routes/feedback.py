"""The other channels: 好差评 ratings (one by one and in batches), hotline, comment book."""

from nameko.web.handlers import http

from services.common.web import json_response
from services.gateway.base import GatewayBase
from services.gateway.http import api
from services.gateway.openapi import APPLICANT, IDEMPOTENCY_KEY, errors, ok

BATCH_ROLES = ("officer", "bureau", "supervisor", "operator")


class FeedbackRoutes(GatewayBase):
    @http("POST", "/api/v1/feedback")
    @api("/api/v1/feedback")
    def submit_feedback(self, request):
        user = self._user(request)
        body = self._body(request)
        result = self.intake.submit_feedback(body, user, request.headers.get("Idempotency-Key"))
        return json_response(result, status=200 if result["replayed"] else 201)

    # werkzeug treats ":" in a rule as a literal character (only <...> is a converter)
    @http("POST", "/api/v1/feedback/ratings:batch")
    @api("/api/v1/feedback/ratings:batch")
    def submit_ratings_batch(self, request):
        """The province-scale feed: district-wide roles only (a street centre sends one by one)."""
        user = self._user(request, *BATCH_ROLES)
        body = self._body(request)
        result = self.intake.submit_ratings_batch(
            body, user, request.headers.get("Idempotency-Key")
        )
        # 207: some rows were refused (each named in ``rejected``) while the others were kept
        return json_response(result, status=207 if result["rejected"] else 200)


FEEDBACK = {
    "type": "object",
    "required": ["channel", "site"],
    "properties": {
        "channel": {"enum": ["rating", "hotline", "comment_book"]},
        "site": {"type": "string"},
        "window": {"type": "string", "description": "rating: required; others default ESC"},
        "matter": {"type": "string"},
        "staff": {"type": "string", "description": "被评价/被投诉的工作人员 id"},
        "level": {
            "type": "integer",
            "minimum": 1,
            "maximum": 5,
            "description": "5 非常满意 4 满意 3 基本满意 2 不满意 1 非常不满意",
        },
        "text": {"type": "string", "maxLength": 1900},
        "reports_failure": {"type": "boolean", "description": "comment_book: 反映办事失败"},
        "at": {"type": "string", "format": "date-time"},
        "applicant": {**APPLICANT, "required": []},
    },
}
IDEMPOTENCY = [IDEMPOTENCY_KEY]

OPENAPI_PATHS = {
    "/api/v1/feedback": {
        "post": {
            "summary": "好差评、监督投诉电话、意见留言簿：差评与投诉立案",
            "security": [{"bearer": []}],
            "parameters": IDEMPOTENCY,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": FEEDBACK}},
            },
            "responses": {
                **ok(201, "recorded: {feedback_id, case_no?, requires_return_visit?}"),
                **ok(200, "replayed"),
                **errors(400, 401, 403, 413, 422),
            },
        }
    },
    "/api/v1/feedback/ratings:batch": {
        "post": {
            "summary": "批量接收好差评（每批约 5,000 条以内，受 1 MiB 请求体上限约束）",
            "security": [{"bearer": []}],
            "parameters": IDEMPOTENCY,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["ratings"],
                            "properties": {
                                "ratings": {"type": "array", "maxItems": 10000, "items": FEEDBACK}
                            },
                        }
                    }
                },
            },
            "responses": {
                **ok(200, "all kept: {batch_id, accepted, rejected: [], cases_opened}"),
                **ok(207, "some rows refused: rejected [{index, field, message}]"),
                **errors(400, 401, 403, 413, 422),
            },
        }
    },
}
