"""Registering a case, the lists of cases, one case's page with its action forms, its print.

The pages call the same RPCs with the same user as the API, so the services' role and site
rules hold here too; an invalid form comes back with what was typed and the message next to
the field the service named.
"""

import uuid
from datetime import datetime
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from nameko.web.handlers import http

from services.common import errors
from services.common.auth import sees_all_sites
from services.gateway import case_view
from services.gateway.forms import error_field, registration_payload
from services.gateway.pages.case_actions import CASE_ACTIONS, offered_actions
from services.gateway.pages.common import (
    FORM_REFUSALS,
    PAGE_SIZE,
    PageBase,
    local_time,
    names,
    page,
    redirect,
    refused,
    render,
)
from services.gateway.roles import REGISTRARS

LIST_FILTERS = ("site", "status", "type", "overdue", "department", "month", "q")


class CasePages(PageBase):
    # -- registration ----------------------------------------------------------------------

    def _registration_form(self, user: dict, values: dict, form_errors: dict, status=200):
        site = None if sees_all_sites(user) else user["site"]
        sites = self.intake.sites()
        if site:
            sites = [s for s in sites if s["code"] == site]
        return render(
            "cases/new.html",
            user,
            status=status,
            active="/cases/new",
            sites=sites,
            matters=self.intake.matters(site),
            departments=self.intake.departments(),
            staff=[s for s in self.intake.staff(site) if s.get("site")],
            values=values,
            errors=form_errors,
        )

    @http("GET", "/cases/new")
    @page("/cases/new")
    def registration_form(self, request):
        user = self._user(request, *REGISTRARS)
        values = {
            "site": user["site"] or "",
            "channel": "window",
            "applicant.kind": "person",
            "first_receiver": user["id"],
            "idempotency_key": uuid.uuid4().hex,
        }
        return self._registration_form(user, values, {})

    @http("POST", "/cases/new")
    @page("/cases/new")
    def registration_submit(self, request):
        user = self._user(request, *REGISTRARS)
        form = request.form
        values = {name: form.get(name, "") for name in form}
        try:
            case = self.intake.register_case(
                registration_payload(form, self._tz), user, form.get("idempotency_key") or None
            )
        except (errors.InvalidField, errors.Forbidden) as error:
            if error.field is None:
                raise
            field = error_field(error.field)
            return self._registration_form(
                user, values, {field: error.message}, status=error.status
            )
        return redirect(f"/cases/{quote(case['case_no'])}?registered=1")

    # -- lists ---------------------------------------------------------------------------

    def _case_list(self, request, user: dict, filters: dict, title: str, path: str):
        filters = {**filters, "limit": PAGE_SIZE}
        if request.args.get("cursor"):
            filters["cursor"] = request.args["cursor"]
        items = self.intake.list_cases(filters, user)
        shown = {name: request.args.get(name, "") for name in LIST_FILTERS}
        next_page = None
        if len(items) == PAGE_SIZE:
            query = {k: v for k, v in shown.items() if v}
            next_page = f"{path}?{urlencode({**query, 'cursor': items[-1]['case_no']})}"
        return render(
            "cases/list.html",
            user,
            title=title,
            path=path,
            active=path,
            items=items,
            filters=shown,
            sites=self.intake.sites() if sees_all_sites(user) else [],
            departments=self.intake.departments(),
            next_page=next_page,
        )

    @http("GET", "/cases")
    @page("/cases")
    def case_list(self, request):
        user = self._user(request)
        filters = {name: request.args[name] for name in LIST_FILTERS if request.args.get(name)}
        title = "全部事项" if sees_all_sites(user) else "本场所事项"
        return self._case_list(request, user, filters, title, "/cases")

    @http("GET", "/cases/mine")
    @page("/cases/mine")
    def my_cases(self, request):
        user = self._user(request)
        filters = {name: request.args[name] for name in LIST_FILTERS if request.args.get(name)}
        filters["first_receiver"] = user["id"]
        return self._case_list(request, user, filters, "我首接的事项", "/cases/mine")

    # -- one case ------------------------------------------------------------------------

    def _render_case(self, user, case_no, forms=None, status=200, notice=None):
        case = case_view.case_page(self, case_no, user)
        departments = self.intake.departments()
        offered = offered_actions(user, case, case["flow"])
        return render(
            "cases/detail.html",
            user,
            status=status,
            case=case,
            flow=case["flow"],
            staff_names=self._staff_names(),
            departments=departments,
            department_names=names(departments),
            notice=notice,
            actions={name: CASE_ACTIONS[name] for name in offered},
            forms=forms or {},
        )

    @http("GET", "/cases/<string:case_no>")
    @page("/cases/{case_no}")
    def case_page(self, request, case_no):
        user = self._user(request)
        notice = None
        if request.args.get("registered") == "1":
            notice = "registered"
        elif request.args.get("done") in CASE_ACTIONS:
            notice = CASE_ACTIONS[request.args["done"]].label + "：已完成"
        return self._render_case(user, case_no, notice=notice)

    @http("POST", "/cases/<string:case_no>/<string:action>")
    @page("/cases/{case_no}/{action}")
    def case_action(self, request, case_no, action):
        """One of the case page's forms; a refused one comes back filled in, with its error."""
        if action not in CASE_ACTIONS:
            raise errors.NotFound(f"没有“{action}”这项操作", "action")
        handler = CASE_ACTIONS[action]
        user = self._user(request, *handler.roles)
        try:
            handler.call(self, case_no, request.form, user)
        except FORM_REFUSALS as error:
            return self._render_case(user, case_no, **refused(request.form, error, action))
        return redirect(f"/cases/{quote(case_no)}?done={action}")

    @http("GET", "/cases/<string:case_no>/print")
    @page("/cases/{case_no}/print")
    def case_print(self, request, case_no):
        user = self._user(request)
        case = self.intake.get_case(case_no, user)
        return render(
            "cases/print.html",
            user,
            case=case,
            staff_names=self._staff_names(),
            printed_at=local_time(datetime.now(ZoneInfo(self._tz)), tz=self._tz),
        )
