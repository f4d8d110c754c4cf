"""The monthly summary (JSON, CSV, XLSX, a printable page) and the ledger (台账) exports.

Every role may read reports; window staff only their own site. The ledger is streamed: CSV goes
out batch by batch while reporting is asked for the next one; XLSX is written batch by batch to
a temporary file (openpyxl write-only) and that file is streamed back.
"""

import os
import tempfile
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from services.common.auth import sees_all_sites
from services.common.errors import Forbidden, InvalidField
from services.common.web import json_response
from services.gateway import exports, report_page, trend_chart
from services.gateway.api.openapi import BEARER, errors
from services.gateway.base import GatewayBase
from services.gateway.http import api

LEDGER_BATCH = 2000
MAX_LEDGER_BATCH = 10000
# a ledger covers at most a year of days (from and to inclusive): an export of the district's
# whole history would hold a worker, the broker and (XLSX) a temporary file for minutes
MAX_LEDGER_DAYS = 366


def check_ledger_range(date_from: str, date_to: str) -> None:
    """Refuse a ledger range that is not two YYYY-MM-DD days, ends before it starts or spans
    more than :data:`MAX_LEDGER_DAYS` days (422 naming the field)."""
    days = {}
    for name, value in (("from", date_from), ("to", date_to)):
        try:
            days[name] = date.fromisoformat(value)
        except ValueError:
            raise InvalidField("日期格式应为 YYYY-MM-DD", name) from None
    if days["to"] < days["from"]:
        raise InvalidField("结束日期早于开始日期", "to")
    if (days["to"] - days["from"]).days + 1 > MAX_LEDGER_DAYS:
        raise InvalidField(
            f"台账一次最多导出 {MAX_LEDGER_DAYS} 天（12 个月），请缩小日期范围", "to"
        )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _attachment(filename: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _stream_file(path: str, chunk: int = 1 << 16):
    """Yield a file's bytes, then remove it."""
    try:
        with open(path, "rb") as source:
            while block := source.read(chunk):
                yield block
    finally:
        os.unlink(path)


def report_site(user: dict, requested: str | None) -> str | None:
    """The site a report covers (every report's rule): the requested one (None: all) for the
    district-wide roles, window staff always their own; HR, bound to no site, none (403)."""
    if sees_all_sites(user):
        return requested
    if not user.get("site"):  # HR: bound to no site, so to no site's cases
        raise Forbidden("当前角色不查看事项报表")
    if requested not in (None, user["site"]):
        raise Forbidden("窗口工作人员只能查看本场所的报表", "site")
    return user["site"]


class ReportingRoutes(GatewayBase):
    def _report_site(self, request, user: dict) -> str | None:
        """The site a report covers: window staff always their own (:func:`report_site`)."""
        return report_site(user, request.args.get("site") or None)

    def _summary(self, request):
        user = self._user(request)
        month = request.args.get("month")
        if not month:
            raise InvalidField("请指定月份（month=YYYY-MM）", "month")
        return self.reporting.monthly_summary(month, self._report_site(request, user))

    def _names(self) -> dict:
        """Codes of sites, departments and matters with their Chinese names (for people)."""
        names = {}
        for items in (self.intake.sites(), self.intake.departments(), self.intake.matters()):
            names.update({item["code"]: item["name"] for item in items})
        return names

    @http("GET", "/api/v1/reports/monthly")
    @api("/api/v1/reports/monthly")
    def monthly_report(self, request):
        return json_response(self._summary(request))

    @http("GET", "/api/v1/reports/monthly.csv")
    @api("/api/v1/reports/monthly.csv")
    def monthly_report_csv(self, request):
        summary = self._summary(request)
        return Response(
            exports.summary_csv(summary, self._names()).encode("utf-8"),
            mimetype="text/csv",
            headers=_attachment(f"monthly-{summary['month']}.csv"),
        )

    @http("GET", "/api/v1/reports/monthly.xlsx")
    @api("/api/v1/reports/monthly.xlsx")
    def monthly_report_xlsx(self, request):
        summary = self._summary(request)
        with tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False) as target:
            exports.write_summary_xlsx(summary, target, self._names())
        return Response(
            _stream_file(target.name),
            mimetype=XLSX,
            headers=_attachment(f"monthly-{summary['month']}.xlsx"),
        )

    @http("GET", "/reports/monthly")
    @api("/reports/monthly")
    def monthly_report_page(self, request):
        summary = self._summary(request)
        trend = self.reporting.monthly_trend(summary["month"], summary["site"])
        names = self._names()
        windows = {
            (site["code"], window["code"]): window["name"]
            for site in self.intake.sites()
            for window in site.get("windows") or []
        }
        charts = {
            "types": exports.bars(
                [(exports.TYPE_LABELS[t], n) for t, n in summary["totals"]["by_type"].items()]
            ),
            "matters": exports.bars(
                [(names.get(i["matter"], i["matter"]), i["count"]) for i in summary["top_matters"]]
            ),
            "windows": exports.bars(
                [
                    (
                        f"{names.get(i['site'], i['site'])} "
                        f"{windows.get((i['site'], i['window']), i['window'])}",
                        i["count"],
                    )
                    for i in summary["top_windows"]
                ]
            ),
            "situations": exports.bars(
                [(f"{i['type_name']}·{i['cause']}", i["count"]) for i in summary["top_situations"]]
            ),
            "satisfaction": exports.bars(
                [
                    (f"{i['level']} {i['name']}", i["count"])
                    for i in summary["satisfaction"]["levels"]
                ]
            ),
        }
        tables = exports.summary_tables(summary, names)
        for title, _headings, rows in tables:  # on the page a window by its name, not its code
            if title == "窗口排行":
                for row, item in zip(rows, summary["top_windows"], strict=True):
                    row[1] = windows.get((item["site"], item["window"]), item["window"])
        html = TEMPLATES.get_template("reports/monthly.html").render(
            summary=summary,
            tables=report_page.page_tables(tables),
            charts=charts,
            trend=trend,
            trend_chart=trend_chart.trend_chart(trend),
            percent=report_page.percent,
            site_name=names.get(summary["site"], summary["site"])
            if summary["site"]
            else "全部场所",
        )
        return Response(html, mimetype="text/html")

    # -- the ledger ----------------------------------------------------------------------------

    def _ledger_query(self, request) -> tuple:
        user = self._user(request)
        date_from, date_to = request.args.get("from"), request.args.get("to")
        for name, value in (("from", date_from), ("to", date_to)):
            if not value:
                raise InvalidField(
                    f"请指定{'开始' if name == 'from' else '结束'}日期（YYYY-MM-DD）", name
                )
        check_ledger_range(date_from, date_to)
        site = self._report_site(request, user)
        size = request.args.get("batch", str(LEDGER_BATCH))
        if not size.isdigit() or not 1 <= int(size) <= MAX_LEDGER_BATCH:
            raise InvalidField(f"batch 应为 1 到 {MAX_LEDGER_BATCH} 之间的整数", "batch")
        # the first batch checks the query, so a bad one is a 4xx, not a broken download
        first = self.reporting.ledger_batch(date_from, date_to, site, None, int(size))
        return date_from, date_to, site, first, int(size)

    def _ledger_batches(self, date_from, date_to, site, first, size):
        """Batches of the ledger, each fetched only when the previous one has been written."""
        batch = first
        while batch:
            yield batch
            if len(batch) < size:
                return
            last = batch[-1]
            batch = self.reporting.ledger_batch(
                date_from, date_to, site, [last["received_at"], last["case_no"]], size
            )

    @http("GET", "/api/v1/reports/ledger.csv")
    @api("/api/v1/reports/ledger.csv")
    def ledger_csv(self, request):
        date_from, date_to, site, first, size = self._ledger_query(request)
        batches = self._ledger_batches(date_from, date_to, site, first, size)
        return Response(
            exports.ledger_csv(batches),
            mimetype="text/csv",
            headers=_attachment(f"ledger-{date_from}-{date_to}.csv"),
        )

    @http("GET", "/api/v1/reports/ledger.xlsx")
    @api("/api/v1/reports/ledger.xlsx")
    def ledger_xlsx(self, request):
        date_from, date_to, site, first, size = self._ledger_query(request)
        with tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False) as target:
            exports.write_ledger_xlsx(
                self._ledger_batches(date_from, date_to, site, first, size), target
            )
        return Response(
            _stream_file(target.name),
            mimetype=XLSX,
            headers=_attachment(f"ledger-{date_from}-{date_to}.xlsx"),
        )


def _report_get(summary: str, parameters: list[str], media: str = "application/json") -> dict:
    return {
        "get": {
            "summary": summary,
            "security": BEARER,
            "parameters": [
                {
                    "name": name,
                    "in": "query",
                    "required": name in ("month", "from", "to"),
                    "schema": {"type": "string"},
                }
                for name in parameters
            ],
            "responses": {
                "200": {"description": "ok", "content": {media: {}}},
                **errors(401, 403, 422),
            },
        }
    }


OPENAPI_PATHS = {
    "/api/v1/reports/monthly": _report_get("月度汇总（JSON）", ["month", "site"]),
    "/api/v1/reports/monthly.csv": _report_get("月度汇总（CSV）", ["month", "site"], "text/csv"),
    "/api/v1/reports/monthly.xlsx": _report_get("月度汇总（XLSX）", ["month", "site"], XLSX),
    "/api/v1/reports/ledger.csv": _report_get(
        "台账（CSV，流式）", ["from", "to", "site"], "text/csv"
    ),
    "/api/v1/reports/ledger.xlsx": _report_get(
        "台账（XLSX）", ["from", "to", "site", "batch"], XLSX
    ),
}
