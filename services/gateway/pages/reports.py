"""The month's summary and its downloads, and the report of every `cannot` answer (否定答复)."""

from datetime import datetime, timedelta
from urllib.parse import urlencode

from nameko.web.handlers import http

from services.common import errors
from services.common.auth import sees_all_sites, visible_site
from services.gateway.pages.common import PAGE_SIZE, PageBase, names, page, render, this_month


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
        """Every `cannot` answer with its basis; window staff see their own site's."""
        user = self._user(request)
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
            active="/refusals",
            items=items,
            filters=filters,
            sites=self.intake.sites() if sees_all_sites(user) else [],
            departments=departments,
            department_names=names(departments),
            matter_names=names(self.intake.matters(None)),
            staff_names=self._staff_names(),
            next_page=next_page,
        )
