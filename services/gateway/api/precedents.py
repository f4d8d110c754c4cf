"""Precedents while a case is registered: ``GET /api/v1/precedents?matter=&text=``.

The registration form asks as its description is typed; the case view asks the same of reporting
for ``similar_cases`` (services/gateway/case_view.py). Who sees what of another site's case is
reporting's rule (services/reporting/precedents.py): the front door names the viewer's site.
"""

from nameko.web.handlers import http

from services.common.auth import sees_all_sites
from services.common.errors import InvalidField
from services.common.web import json_response
from services.gateway import validation
from services.gateway.api.openapi import BEARER, LIMIT, errors
from services.gateway.base import GatewayBase
from services.gateway.http import api
from services.gateway.roles import CASE_WORKERS

# the registration form's description holds at most this much
MAX_TEXT = 2000


def viewer_site(user: dict) -> str | None:
    """The site whose cases ``user`` sees in full (None: every site)."""
    return None if sees_all_sites(user) else user.get("site") or ""


def similar_cases(gateway, user: dict, text, matter, exclude=None, limit=None) -> list[dict]:
    """Reporting's precedents like ``text`` as ``user`` may see them."""
    return gateway.reporting.similar_cases(text, matter, viewer_site(user), exclude, limit)


class PrecedentRoutes(GatewayBase):
    @http("GET", "/api/v1/precedents")
    @api("/api/v1/precedents")
    def precedents(self, request):
        user = self._user(request, *CASE_WORKERS)
        text = request.args.get("text") or ""
        if len(text) > MAX_TEXT:
            raise InvalidField(f"text 最多 {MAX_TEXT} 个字符", "text")
        matter = request.args.get("matter") or None
        limit = validation.page_limit(request.args.get("limit"))
        return json_response({"items": similar_cases(self, user, text, matter, None, limit)})


PRECEDENT = {
    "type": "object",
    "required": ["case_no", "similarity", "type", "outcome", "summary", "practice"],
    "properties": {
        "case_no": {
            "type": "string",
            "nullable": True,
            "description": "事项编号；窗口工作人员看其他场所的先例时为 null（只显示办理经验）",
        },
        "site": {"type": "string", "nullable": True},
        "similarity": {"type": "number", "minimum": 0, "maximum": 1},
        "same_matter": {"type": "boolean"},
        "matter": {"type": "string", "nullable": True},
        "type": {"type": "string", "nullable": True},
        "type_name": {"type": "string", "nullable": True},
        "outcome": {"type": "string", "nullable": True},
        "outcome_name": {"type": "string", "nullable": True},
        "summary": {
            "type": "string",
            "nullable": True,
            "description": "办结情况（已隐去证件号与电话）",
        },
        "practice": {"type": "string", "nullable": True, "description": "由此形成的常态化做法"},
        "description": {"type": "string", "nullable": True},
    },
}

OPENAPI_PATHS = {
    "/api/v1/precedents": {
        "get": {
            "summary": "相似先例：登记时按事项与描述查找已办结的相似事项（同一事项优先）",
            "security": BEARER,
            "parameters": [
                {"name": "matter", "in": "query", "required": False, "schema": {"type": "string"}},
                {
                    "name": "text",
                    "in": "query",
                    "required": False,
                    "description": "正在填写的反映事项描述（只比较前 200 个字）；少于 2 个字时返回空列表",
                    "schema": {"type": "string", "maxLength": MAX_TEXT},
                },
                LIMIT,
            ],
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["items"],
                                "properties": {"items": {"type": "array", "items": PRECEDENT}},
                            }
                        }
                    },
                },
                **errors(401, 403, 422),
            },
        }
    }
}
