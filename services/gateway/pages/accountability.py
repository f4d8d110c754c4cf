"""Accountability's pages: investigations of `refused` cases and their findings, a staff
member's record and appeals, the sanctions to confirm, and the departments' scores."""

from urllib.parse import quote

from nameko.web.handlers import http

from services.gateway.forms import appeal_decision_payload, finding_payload, text_value
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
from services.gateway.roles import (
    ACCOUNTABILITY_DESK,
    APPEAL_DECIDERS,
    SANCTION_DECIDERS,
    SCORE_READERS,
)


def awaiting_decision(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """From staff records: every appeal (pending ones first, newest first), which a
    supervisor decides on, and every recommended sanction, which HR confirms or rejects."""
    appeals, sanctions = [], []
    for record in records:
        for finding in record["findings"]:
            if finding.get("appeal"):
                appeals.append({**finding["appeal"], "finding": finding})
        sanctions += [s for s in record["sanctions"] if s["status"] == "recommended"]
    appeals.sort(key=lambda a: (a["status"] != "pending", -a["id"]))
    return appeals, sanctions


class AccountabilityPages(PageBase):
    # -- investigations --------------------------------------------------------------------

    def _investigations(self, request, user, forms=None, status=200, done=None):
        shown = request.args.get("status", "open")
        result = self.accountability.investigations(shown or None, PAGE_SIZE, None)
        staff = self.intake.staff(None)
        return render(
            "accountability/investigations.html",
            user,
            status=status,
            active="/investigations",
            items=result["items"],
            shown=shown,
            staff=staff,
            staff_names=names(staff, key="id"),
            forms=forms or {},
            done=done,
        )

    @http("GET", "/investigations")
    @page("/investigations")
    def investigations_page(self, request):
        user = self._user(request, "supervisor")
        return self._investigations(request, user, done=request.args.get("done"))

    @http("POST", "/investigations/<int:investigation_id>/finding")
    @page("/investigations/{id}/finding")
    def finding_submit(self, request, investigation_id):
        user = self._user(request, "supervisor")
        try:
            self.accountability.record_finding(
                investigation_id, finding_payload(request.form), user
            )
        except FORM_REFUSALS as error:
            again = refused(request.form, error, investigation_id)
            return self._investigations(request, user, **again)
        return redirect(f"/investigations?status=closed&done={investigation_id}")

    # -- a staff member's record -------------------------------------------------------------

    def _staff_record(self, user, staff_id, forms=None, status=200, done=None):
        record = self.accountability.staff_record(staff_id, user)
        return render(
            "accountability/staff_record.html",
            user,
            status=status,
            active=f"/staff/{staff_id}/record",
            record=record,
            staff_name=self._staff_names().get(staff_id, staff_id),
            may_appeal=user["role"] == "supervisor" or user["id"] == staff_id,
            forms=forms or {},
            done=done,
        )

    @http("GET", "/staff/<string:staff_id>/record")
    @page("/staff/{id}/record")
    def staff_record_page(self, request, staff_id):
        user = self._user(request)
        return self._staff_record(user, staff_id, done=request.args.get("done"))

    @http("POST", "/findings/<int:finding_id>/appeal")
    @page("/findings/{id}/appeal")
    def appeal_submit(self, request, finding_id):
        """The staff member found responsible (or a supervisor) appeals a finding."""
        user = self._user(request)
        staff_id = text_value(request.form, "staff_id") or user["id"]
        try:
            self.accountability.file_appeal(
                finding_id, {"reason": text_value(request.form, "reason")}, user
            )
        except FORM_REFUSALS as error:
            return self._staff_record(user, staff_id, **refused(request.form, error, finding_id))
        return redirect(f"/staff/{quote(staff_id)}/record?done=appeal")

    # -- departments' scores -----------------------------------------------------------------

    def _scores(self, user, year, forms=None, status=200, done=None):
        scores = self.accountability.department_scores(year, self.intake.departments())
        return render(
            "accountability/scores.html",
            user,
            status=status,
            active="/departments/scores",
            scores=scores,
            forms=forms or {},
            done=done,
        )

    @http("GET", "/departments/scores")
    @page("/departments/scores")
    def department_scores_page(self, request):
        user = self._user(request, *SCORE_READERS)
        year = request.args.get("year") or this_month(self._tz)[:4]
        return self._scores(user, year, done=request.args.get("done"))

    @http("POST", "/deductions/<int:deduction_id>/withdraw")
    @page("/deductions/{id}/withdraw")
    def deduction_withdraw_submit(self, request, deduction_id):
        user = self._user(request, "supervisor")
        year = text_value(request.form, "year") or this_month(self._tz)[:4]
        try:
            self.accountability.withdraw_deduction(
                deduction_id, {"reason": text_value(request.form, "reason")}, user
            )
        except FORM_REFUSALS as error:
            return self._scores(user, year, **refused(request.form, error, deduction_id))
        return redirect(f"/departments/scores?year={quote(year)}&done={deduction_id}")

    # -- appeals and sanctions to confirm ------------------------------------------------------

    def _appeals(self, user, forms=None, status=200, done=None):
        """Pending appeals and recommended sanctions, gathered from every staff record."""
        staff = self.intake.staff(None)
        # accountability has no list of what awaits a decision yet: one record per member
        replies = [self.accountability.staff_record.call_async(m["id"], user) for m in staff]
        appeals, sanctions = awaiting_decision([reply.result() for reply in replies])
        return render(
            "accountability/appeals.html",
            user,
            status=status,
            active="/appeals",
            appeals=appeals,
            sanctions=sanctions,
            decides_appeals=user["role"] in APPEAL_DECIDERS,
            decides_sanctions=user["role"] in SANCTION_DECIDERS,
            staff_names=names(staff, key="id"),
            forms=forms or {},
            done=done,
        )

    @http("GET", "/appeals")
    @page("/appeals")
    def appeals_page(self, request):
        user = self._user(request, *ACCOUNTABILITY_DESK)
        return self._appeals(user, done=request.args.get("done"))

    @http("POST", "/appeals/<int:appeal_id>/decision")
    @page("/appeals/{id}/decision")
    def appeal_decision_submit(self, request, appeal_id):
        user = self._user(request, *APPEAL_DECIDERS)
        try:
            self.accountability.decide_appeal(
                appeal_id, appeal_decision_payload(request.form), user
            )
        except FORM_REFUSALS as error:
            return self._appeals(user, **refused(request.form, error, f"appeal-{appeal_id}"))
        return redirect(f"/appeals?done=appeal-{appeal_id}")

    @http("POST", "/sanctions/<int:sanction_id>/confirm")
    @page("/sanctions/{id}/confirm")
    def sanction_confirm_submit(self, request, sanction_id):
        """HR confirms a recommended dismissal."""
        user = self._user(request, *SANCTION_DECIDERS)
        try:
            self.accountability.confirm_sanction(sanction_id, user)
        except FORM_REFUSALS as error:
            return self._appeals(user, **refused(request.form, error, f"sanction-{sanction_id}"))
        return redirect(f"/appeals?done=sanction-{sanction_id}")

    @http("POST", "/sanctions/<int:sanction_id>/reject")
    @page("/sanctions/{id}/reject")
    def sanction_reject_submit(self, request, sanction_id):
        """HR rejects a recommended dismissal, with the reason."""
        user = self._user(request, *SANCTION_DECIDERS)
        try:
            self.accountability.reject_sanction(
                sanction_id, {"reason": text_value(request.form, "reason")}, user
            )
        except FORM_REFUSALS as error:
            return self._appeals(user, **refused(request.form, error, f"sanction-{sanction_id}"))
        return redirect(f"/appeals?done=rejected-{sanction_id}")
