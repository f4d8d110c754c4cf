"""The escalation window's queue: unclassified and open cases, the most urgent deadline first.

The cases come from intake (one list per state shown, asked at once) and their deadlines from
coordination in one call for the whole page.
"""

from urllib.parse import urlencode

from nameko.web.handlers import http

from services.common import errors
from services.gateway import case_view
from services.gateway.pages.common import PAGE_SIZE, PageBase, page, render
from services.gateway.roles import ACTORS

# the states of a case still to be worked on (a resolved one waits to be closed)
QUEUE_STATES = ("registered", "classified", "in_progress", "replied", "resolved")


def queue_order(case: dict) -> tuple:
    """Unclassified first, then breached, then by working days left (no deadline last)."""
    deadline = case.get("deadline") or {}
    left = deadline.get("working_days_left")
    return (
        case["status"] != "registered",
        not deadline.get("breached"),
        left if left is not None else 10**6,
        str(case["received_at"]),
    )


def queue_rows(cases: list[dict], deadlines: dict[str, list[dict]]) -> list[dict]:
    """The listed cases, each with the deadline to watch, in :func:`queue_order`."""
    rows = [
        {**case, "deadline": case_view.nearest_deadline(deadlines.get(case["case_no"], []))}
        for case in cases
    ]
    return sorted(rows, key=queue_order)


class QueuePages(PageBase):
    @http("GET", "/queue")
    @page("/queue")
    def queue_page(self, request):
        """Unclassified and open cases, the most urgent deadline first, in working days."""
        user = self._user(request, *ACTORS)
        shown = request.args.get("status", "")
        if shown and shown not in QUEUE_STATES:
            raise errors.InvalidField("状态应为待办的状态之一", "status")
        filters = {n: request.args[n] for n in ("type", "site") if request.args.get(n)}
        if request.args.get("cursor") and shown:
            filters["cursor"] = request.args["cursor"]
        lists = [
            self.intake.list_cases.call_async(
                {**filters, "status": state, "limit": PAGE_SIZE}, user
            )
            for state in ([shown] if shown else QUEUE_STATES)
        ]
        fetched = [case for reply in lists for case in reply.result()]
        # the oldest first, unclassified ones ahead; a page's deadlines are read at once
        fetched.sort(key=lambda c: (c["status"] != "registered", str(c["received_at"])))
        listed = fetched[:PAGE_SIZE]
        deadlines = self._deadlines_of([case["case_no"] for case in listed])
        next_page = None
        if shown and len(fetched) == PAGE_SIZE:
            query = {**filters, "status": shown, "cursor": fetched[-1]["case_no"]}
            next_page = f"/queue?{urlencode(query)}"
        return render(
            "coordination/queue.html",
            user,
            active="/queue",
            items=queue_rows(listed, deadlines),
            shown=shown,
            filters=filters,
            more=not shown and len(fetched) > PAGE_SIZE,
            next_page=next_page,
            sites=self.intake.sites(),
            states=QUEUE_STATES,
        )
