"""The month's summary and its downloads, and the report of every `cannot` answer (否定答复)."""

from datetime import datetime, timedelta
from urllib.parse import urlencode

from nameko.web.handlers import http

from services.common import errors
from services.common.auth import sees_all_sites, visible_site
from services.gateway import refusal_report
from services.gateway.api.reporting import report_site
from services.gateway.forms import text_value
from services.gateway.pages.common import (
    FORM_REFUSALS,
    PAGE_SIZE,
    PageBase,
    names,
    page,
    redirect,
    refused,
    render,
    this_month,
)

REVIEW_DONE = {"upheld": "已维持该“不能办”答复", "sent_back": "已退回，事项回到办理中，待重新说明"}


def review_payload(form) -> dict:
    """The review form as the API's body: ``result`` and ``reason``."""
    return {"result": text_value(form, "result"), "reason": text_value(form, "reason") or None}


def month_bounds(month: str) -> tuple[str, str]:
    """``2026-11`` → (``2026-11-01``, ``2026-11-30``); InvalidField for anything else."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise errors.InvalidField("月份应为 YYYY-MM", "month") from None
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first.isoformat(), (following - timedelta(days=1)).isoformat()


def report_links(month: str, first: str, last: str, site: str | None) -> dict:
    """The month's printable page, its CSV/XLSX and the month's ledger, for one site or all."""
    scope = {"site": site} if site else {}
    month_query = urlencode({"month": month, **scope})
    ledger_query = urlencode({"from": first, "to": last, **scope})
    return {
        "page": f"/reports/monthly?{month_query}",
        "csv": f"/api/v1/reports/monthly.csv?{month_query}",
        "xlsx": f"/api/v1/reports/monthly.xlsx?{month_query}",
        "ledger_csv": f"/api/v1/reports/ledger.csv?{ledger_query}",
        "ledger_xlsx": f"/api/v1/reports/ledger.xlsx?{ledger_query}",
    }


class ReportPages(PageBase):
    @http("GET", "/reports")
    @page("/reports")
    def reports_page(self, request):
        """The month's summary page and its downloads (CSV/XLSX, and the month's ledger)."""
        user = self._user(request)
        month = request.args.get("month") or this_month(self._tz)
        first, last = month_bounds(month)
        site = visible_site(user, request.args.get("site") or None)
        return render(
            "reports_index.html",
            user,
            active="/reports",
            month=month,
            site=site or "",
            first=first,
            last=last,
            links=report_links(month, first, last, site),
            sites=self.intake.sites() if sees_all_sites(user) else [],
        )

    @http("GET", "/refusals")
    @page("/refusals")
    def refusals_page(self, request):
        """Each case's latest `cannot` answer with its basis and review; window staff see their
        own site's; the approval bureau reviews the ones awaiting it here."""
        return self._refusals(request, self._user(request))

    def _refusals(self, request, user: dict, status: int = 200, forms=None) -> object:
        filters = {n: request.args[n] for n in ("site", "department") if request.args.get(n)}
        site = visible_site(user, filters.get("site"))
        query = {**filters, "site": site, "limit": PAGE_SIZE}
        if request.args.get("cursor"):
            query["cursor"] = request.args["cursor"]
        items = self.coordination.refusals(query)
        next_page = None
        if len(items) == PAGE_SIZE:
            next_page = f"/refusals?{urlencode({**filters, 'cursor': items[-1]['case_no']})}"
        departments = self.intake.departments()
        return render(
            "coordination/refusals.html",
            user,
            status=status,
            forms=forms or {},
            active="/refusals",
            items=items,
            filters=filters,
            sites=self.intake.sites() if sees_all_sites(user) else [],
            departments=departments,
            department_names=names(departments),
            matter_names=names(self.intake.matters(None)),
            staff_names=self._staff_names(),
            next_page=next_page,
            reviewer=user["role"] == "bureau",
            done=REVIEW_DONE.get(request.args.get("done", "")),
            month=this_month(self._tz),
        )

    @http("POST", "/refusals/<string:case_no>/review")
    @page("/refusals/{case_no}/review")
    def review_submit(self, request, case_no):
        """The bureau's review from the refusals page (coordination checks the role again)."""
        user = self._user(request, "bureau")
        payload = review_payload(request.form)
        try:
            self.coordination.review_refusal(case_no, payload, user)
        except FORM_REFUSALS as error:
            return self._refusals(request, user, **refused(request.form, error, case_no))
        return redirect(f"/refusals?done={payload['result']}#refusal-{case_no}")

    @http("GET", "/refusals/report")
    @page("/refusals/report")
    def refusal_report_page(self, request):
        """The month's 否定答复 report, printable: totals, by department, by matter, each answer."""
        user = self._user(request)
        month = request.args.get("month") or this_month(self._tz)
        site = report_site(user, request.args.get("site") or None)
        department = request.args.get("department") or None
        report = self.coordination.refusal_report(month, {"site": site, "department": department})
        reference = {}
        for items in (self.intake.sites(), self.intake.departments(), self.intake.matters(None)):
            reference.update(names(items))
        tables = refusal_report.report_tables(report, reference, self._staff_names(), self._tz)
        query = urlencode({"month": month, **({"site": site} if site else {})})
        return render(
            "reports/refusals.html",
            user,
            active="/refusals",
            report=report,
            tables=tables,
            scope=tables[0][2][1][1],
            csv_link=f"/api/v1/refusals/report.csv?{query}",
            xlsx_link=f"/api/v1/refusals/report.xlsx?{query}",
            sites=self.intake.sites() if sees_all_sites(user) else [],
        )
