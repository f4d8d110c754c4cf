"""The joint-meeting board (联席会议): meetings with each case's reply deadline, the bureau's
forms to convene one and to minute it, and the tasks it handed out.

The meetings come in one call, their cases' deadlines in one more (:meth:`_deadlines_of`).
"""

from nameko.web.handlers import http

from services.gateway.forms import meeting_payload, minutes_payload
from services.gateway.pages.common import (
    FORM_REFUSALS,
    PAGE_SIZE,
    PageBase,
    names,
    page,
    redirect,
    refused,
    render,
)
from services.gateway.roles import ACTORS, MEETING_READERS

# the states of a `pending` case waiting for its joint meeting
AWAITING_MEETING = ("classified", "in_progress")


def meeting_board_row(meeting: dict, deadlines: dict) -> dict:
    """Add each of a meeting's cases' reply deadline, and whether anything is overdue."""
    replies = []
    for case_no in meeting["case_nos"]:
        reply = next((d for d in deadlines.get(case_no, []) if d.get("stage") == "reply"), None)
        replies.append({"case_no": case_no, "deadline": reply})
    meeting["replies"] = replies
    meeting["overdue"] = any(
        r["deadline"] and r["deadline"].get("breached") and not r["deadline"].get("met_at")
        for r in replies
    ) or any(a.get("breached") and not a.get("delivered_at") for a in meeting["assignments"])
    return meeting


class MeetingPages(PageBase):
    def _meetings(self, user, forms=None, status=200, done=None):
        meetings = self.coordination.list_meetings({"limit": PAGE_SIZE}, user)
        case_nos = list(dict.fromkeys(no for m in meetings for no in m["case_nos"]))
        deadlines = self._deadlines_of(case_nos)
        for meeting in meetings:
            meeting_board_row(meeting, deadlines)
        candidates = []
        if user["role"] == "bureau":
            waiting = [
                self.intake.list_cases.call_async(
                    {"type": "pending", "status": state, "limit": PAGE_SIZE}, user
                )
                for state in AWAITING_MEETING
            ]
            # a case already on the board has its meeting; the rest wait for one
            on_board = set(case_nos)
            candidates = [
                case
                for reply in waiting
                for case in reply.result()
                if case["case_no"] not in on_board
            ]
        departments = self.intake.departments()
        return render(
            "coordination/meetings.html",
            user,
            status=status,
            active="/meetings",
            meetings=meetings,
            candidates=candidates,
            departments=departments,
            department_names=names(departments),
            forms=forms or {},
            done=done,
        )

    @http("GET", "/meetings")
    @page("/meetings")
    def meetings_page(self, request):
        user = self._user(request, *MEETING_READERS)
        return self._meetings(user, done=request.args.get("done"))

    @http("POST", "/meetings")
    @page("/meetings")
    def convene_submit(self, request):
        user = self._user(request, "bureau")
        try:
            meeting = self.coordination.convene_meeting(
                meeting_payload(request.form, self._tz), user
            )
        except FORM_REFUSALS as error:
            return self._meetings(user, **refused(request.form, error, "convene"))
        return redirect(f"/meetings?done=convened#meeting-{meeting['id']}")

    @http("POST", "/meetings/<int:meeting_id>/minutes")
    @page("/meetings/{id}/minutes")
    def minutes_submit(self, request, meeting_id):
        user = self._user(request, "bureau")
        try:
            self.coordination.record_minutes(meeting_id, minutes_payload(request.form), user)
        except FORM_REFUSALS as error:
            return self._meetings(user, **refused(request.form, error, meeting_id))
        return redirect(f"/meetings?done=minuted#meeting-{meeting_id}")

    @http("POST", "/meetings/<int:meeting_id>/assignments/<int:assignment_id>/delivered")
    @page("/meetings/{id}/assignments/{assignment_id}/delivered")
    def assignment_delivered(self, request, meeting_id, assignment_id):
        user = self._user(request, *ACTORS)
        self.coordination.deliver_assignment(meeting_id, assignment_id, user)
        return redirect(f"/meetings?done=delivered#meeting-{meeting_id}")
