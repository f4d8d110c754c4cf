"""否定答复: the approval bureau's review of a `cannot` answer and the month's report of them
(JSON, CSV, XLSX). Coordination keeps the answers and checks the reviewer's role itself; the
report is scoped as every report is (:func:`services.gateway.api.reporting.report_site`)."""

import tempfile

from nameko.web.handlers import http
from werkzeug.wrappers import Response

from services.common.config import service_setting
from services.common.errors import InvalidField
from services.common.web import json_response
from services.gateway import refusal_report
from services.gateway.api.openapi import BEARER, errors, ok
from services.gateway.api.reporting import XLSX, _attachment, _stream_file, report_site
from services.gateway.base import GatewayBase
from services.gateway.http import api

DEFAULT_TZ = "Asia/Shanghai"


class RefusalRoutes(GatewayBase):
    def _refusal_report(self, request) -> dict:
        """The month's report for the caller's scope (``month`` required, ``site``,
        ``department`` optional)."""
        user = self._user(request)
        month = request.args.get("month")
        if not month:
            raise InvalidField("请指定月份（month=YYYY-MM）", "month")
        site = report_site(user, request.args.get("site") or None)
        filters = {"site": site, "department": request.args.get("department") or None}
        return self.coordination.refusal_report(month, filters)

    def _refusal_tables(self, report: dict) -> list:
        """The report's tables with sites, departments, matters and staff by name."""
        names = {}
        for items in (self.intake.sites(), self.intake.departments(), self.intake.matters()):
            names.update({item["code"]: item["name"] for item in items})
        staff = {member["id"]: member["name"] for member in self.intake.staff(None)}
        tz = service_setting(self.config, "TIMEZONE", DEFAULT_TZ)
        return refusal_report.report_tables(report, names, staff, tz)

    @http("POST", "/api/v1/refusals/<string:case_no>/review")
    @api("/api/v1/refusals/{case_no}/review")
    def review_refusal(self, request, case_no):
        user = self._user(request, "bureau")
        body = self._body(request)
        return json_response(self.coordination.review_refusal(case_no, body, user))

    @http("GET", "/api/v1/refusals/report")
    @api("/api/v1/refusals/report")
    def refusal_report(self, request):
        return json_response(self._refusal_report(request))

    @http("GET", "/api/v1/refusals/report.csv")
    @api("/api/v1/refusals/report.csv")
    def refusal_report_csv(self, request):
        report = self._refusal_report(request)
        text = refusal_report.report_csv(self._refusal_tables(report))
        return Response(
            text.encode("utf-8"),
            mimetype="text/csv",
            headers=_attachment(f"refusals-{report['month']}.csv"),
        )

    @http("GET", "/api/v1/refusals/report.xlsx")
    @api("/api/v1/refusals/report.xlsx")
    def refusal_report_xlsx(self, request):
        report = self._refusal_report(request)
        with tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False) as target:
            refusal_report.write_report_xlsx(self._refusal_tables(report), target)
        return Response(
            _stream_file(target.name),
            mimetype=XLSX,
            headers=_attachment(f"refusals-{report['month']}.xlsx"),
        )


STRING = {"type": "string"}
MONTH = {"name": "month", "in": "query", "required": True, "schema": STRING}
REPORT_QUERY = [
    MONTH,
    {"name": "site", "in": "query", "required": False, "schema": STRING},
    {"name": "department", "in": "query", "required": False, "schema": STRING},
]


def _report(summary: str, media: str) -> dict:
    return {
        "get": {
            "summary": summary,
            "security": BEARER,
            "parameters": REPORT_QUERY,
            "responses": {
                "200": {"description": "ok", "content": {media: {}}},
                **errors(401, 403, 422),
            },
        }
    }


OPENAPI_PATHS = {
    "/api/v1/refusals/{case_no}/review": {
        "post": {
            "summary": "区行政审批局审核“不能办”答复：维持（upheld）或退回重新说明（sent_back，须写明理由）",
            "security": BEARER,
            "parameters": [{"name": "case_no", "in": "path", "required": True, "schema": STRING}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["result"],
                            "properties": {
                                "result": {"enum": ["upheld", "sent_back"]},
                                "reason": STRING,
                            },
                        }
                    }
                },
            },
            "responses": {**ok(), **errors(400, 401, 403, 404, 409, 422)},
        }
    },
    "/api/v1/refusals/report": _report(
        "否定答复月报（JSON）：逐件依据与审核结果，按部门、事项统计", "application/json"
    ),
    "/api/v1/refusals/report.csv": _report("否定答复月报（CSV）", "text/csv"),
    "/api/v1/refusals/report.xlsx": _report("否定答复月报（XLSX）", XLSX),
}
