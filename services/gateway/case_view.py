"""One case as people see it: intake's record, every service's timeline merged, its deadlines,
the earlier cases most like it (``similar_cases``, reporting's precedents).

The JSON route ``GET /api/v1/cases/{case_no}`` and the case page both show this, so the merge
lives here once. ``gateway`` is any object with the four RPC proxies (a gateway worker).
"""

from datetime import datetime

from services.common.errors import NotFound
from services.gateway import site_mode
from services.gateway.api.precedents import viewer_site

TIMELINE_SOURCES = ("intake", "coordination", "accountability", "reporting")


def _moment(value) -> datetime:
    """RPC hands times over as ISO 8601 strings; compare them as instants, not as text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def merge_timelines(timelines: list[list[dict]]) -> list[dict]:
    """Every service's entries in one list, oldest first (ties keep the services' order)."""
    entries = [entry for timeline in timelines for entry in timeline]
    entries.sort(key=lambda entry: _moment(entry["at"]))
    return entries


def case_timeline(gateway, case_no: str) -> list[dict]:
    """Ask the four services at once and merge what they recorded about ``case_no``."""
    pending = [
        getattr(gateway, source).case_timeline.call_async(case_no) for source in TIMELINE_SOURCES
    ]
    return merge_timelines([reply.result() for reply in pending])


def similar_cases(gateway, case: dict, user: dict):
    """Reporting's precedents like ``case`` (itself left out), asked at once: a reply to wait
    for. Window staff see another site's precedent by its knowledge fields only."""
    return gateway.reporting.similar_cases.call_async(
        case.get("description"), case.get("matter"), viewer_site(user), case["case_no"]
    )


def case_detail(gateway, case_no: str, user: dict) -> dict:
    """The case (site rules checked by intake for ``user``), its deadlines and its timeline."""
    case = gateway.intake.get_case(case_no, user)
    if site_mode.site_node(gateway.config):
        return site_mode.last_synced_view(gateway, case)
    deadlines = gateway.coordination.case_deadlines.call_async(case_no)
    loop = _bad_rating_call(gateway, case)
    similar = similar_cases(gateway, case, user)
    timeline = case_timeline(gateway, case_no)
    return {
        **case,
        "deadlines": deadlines.result(),
        "timeline": timeline,
        "bad_rating": _bad_rating(loop),
        "similar_cases": similar.result(),
    }


def case_page(gateway, case_no: str, user: dict) -> dict:
    """:func:`case_detail` plus coordination's summary as ``flow`` (None until it is handed over).

    The page offers each action by the flow's state and type; the four reads run at once.
    """
    case = gateway.intake.get_case(case_no, user)
    if site_mode.site_node(gateway.config):
        return {**site_mode.last_synced_view(gateway, case), "flow": None}
    deadlines = gateway.coordination.case_deadlines.call_async(case_no)
    flow = gateway.coordination.case_summary.call_async(case_no)
    loop = _bad_rating_call(gateway, case)
    similar = similar_cases(gateway, case, user)
    timeline = case_timeline(gateway, case_no)
    try:
        summary = flow.result()
    except NotFound:
        summary = None
    return {
        **case,
        "deadlines": deadlines.result(),
        "timeline": timeline,
        "flow": summary,
        "bad_rating": _bad_rating(loop),
        "similar_cases": similar.result(),
    }


def _bad_rating_call(gateway, case: dict):
    """Ask coordination for the 差评 loop of a case a bad rating opened (None: not one)."""
    if case.get("channel") != "rating":
        return None
    return gateway.coordination.bad_rating.call_async(case["case_no"])


def _bad_rating(pending) -> dict | None:
    """The loop asked for by :func:`_bad_rating_call` (None: no loop, or not handed over)."""
    if pending is None:
        return None
    try:
        return pending.result()
    except NotFound:
        return None


def nearest_deadline(deadlines: list[dict]) -> dict | None:
    """The open deadline to watch: a breached one first, else the one with fewest days left."""
    open_ = [d for d in deadlines if not d.get("met_at")]
    if not open_:
        return None
    return min(
        open_,
        key=lambda d: (
            not d.get("breached"),
            d.get("working_days_left") if d.get("working_days_left") is not None else 10**6,
            str(d.get("due_at")),
        ),
    )
