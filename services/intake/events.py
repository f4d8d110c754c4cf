"""What intake announces, as :class:`Decision`s (pure: no I/O).

Each function gives one event's payload exactly as ``docs/events.md`` documents it (the other
services consume them) and the entry it writes on the case's timeline; the unit of work turns
a decision into its outbox row and its timeline entry.
"""

from datetime import datetime

from services.common.decisions import Decision
from services.common.vocabulary import CHANNEL_LABELS, label
from services.intake import channels
from services.intake.domain import CaseRecord, received_where


def registered_text(record: CaseRecord) -> str:
    """A registration's timeline entry: the form's, or the channel's whose feedback opened it."""
    channel = record.new_case.registration.channel
    if channel == "open311":
        return (
            f"{label(CHANNEL_LABELS, channel)}的请求已登记为事项（intake，{record.registered_by}）"
        )
    if record.new_case.feedback_id is None:
        reason = record.new_case.registration.backdate_reason
        return f"事项已登记（intake，补录：{reason}）" if reason else "事项已登记（intake）"
    return f"{label(CHANNEL_LABELS, channel)}反映已登记为事项（intake）"


# the applicant's own details in a description, as other services keep it
APPLICANT_PLACEHOLDERS = (
    ("id_number", "［证件号码］"),
    ("phone", "［电话］"),
    ("applicant_name", "申请人"),
)


def shared_description(registration) -> str:
    """The description as it leaves intake (reporting shows it as a precedent to other sites):
    the applicant's own name, ID number and phone, wherever typed in it, replaced by
    placeholders. Names of other people cannot be told apart from other words and stay."""
    text = registration.description
    for name, placeholder in APPLICANT_PLACEHOLDERS:
        value = getattr(registration, name, None)
        if value and len(value) >= 2:
            text = text.replace(value, placeholder)
    return text


def case_registered(record: CaseRecord) -> Decision:
    """A new case, from any channel (the form, a bad rating, the hotline, the comment book)."""
    registration, new_case = record.new_case.registration, record.new_case
    return Decision(
        "case_registered",
        {
            "case_no": record.case_no,
            **received_where(registration),
            "id_number_masked": record.protected.get("masked"),
            "first_receiver": registration.first_receiver,
            "first_asked_by": registration.first_asked_by,
            "description": shared_description(registration),
            "received_at": registration.received_at.isoformat(),
            "backdate_reason": registration.backdate_reason,
            "registered_by": record.registered_by,
            "repeat_of": record.repeat_of,
            "requires_return_visit": new_case.requires_return_visit,
            "feedback_id": new_case.feedback_id,
            "rated_staff": new_case.rated_staff,
            "rating_level": new_case.rating_level,
        },
        site=registration.site,
        case_no=record.case_no,
        actor=record.registered_by,
        timeline_kind="registered",
        timeline_text=registered_text(record),
    )


def cases_registered(registrations: list[Decision]) -> Decision:
    """Several new cases of one transaction (a ratings batch's bad ratings) in one event: each
    item the data of that case's :func:`case_registered`, whose timeline entries stay per case
    (``UnitOfWork.record_batch``)."""
    sites = {registration.site for registration in registrations}
    return Decision(
        "cases_registered",
        {"cases": [registration.data for registration in registrations]},
        site=sites.pop() if len(sites) == 1 else None,
    )


def case_helper_added(case: dict, staff_id: str, actor: str, at: datetime) -> Decision:
    """A helper joined ``case``; the first receiver stays on it."""
    return Decision(
        "case_helper_added",
        {"case_no": case["case_no"], "staff_id": staff_id, "actor": actor, "at": at.isoformat()},
        site=case["site"],
        case_no=case["case_no"],
        actor=actor,
        timeline_kind="helper_added",
        timeline_text=f"添加协助人员 {staff_id}",
    )


def return_visit_recorded(
    case: dict, satisfied: bool, notes: str | None, actor: str, at: datetime
) -> Decision:
    """The 回访 a real-name bad rating's case requires before it may close."""
    return Decision(
        "return_visit_recorded",
        {
            "case_no": case["case_no"],
            "actor": actor,
            "at": at.isoformat(),
            "satisfied": satisfied,
            "notes": notes,
        },
        site=case["site"],
        case_no=case["case_no"],
        actor=actor,
        timeline_kind="return_visit",
        timeline_text=f"已回访：{'满意' if satisfied else '不满意'}",
    )


# counts per (day, site, level); version 1 counted per window, matter and staff as well
RATINGS_RECEIVED_VERSION = 2


def ratings_received(
    batch_id: str | None, ratings: list, feedback_id: str | None = None
) -> Decision:
    """Ratings kept for reporting, good and bad, aggregated per day, site and level (version
    2; see :func:`channels.rating_counts`); a single rating has no batch and names its
    ``feedback_id``. No timeline entry."""
    sites = {rating.site for rating in ratings}
    return Decision(
        "ratings_received",
        {
            "batch_id": batch_id,
            "feedback_id": feedback_id,
            "counts": channels.rating_counts(ratings),
            "n": len(ratings),
            "bad": sum(1 for rating in ratings if rating.bad),
        },
        site=next(iter(sites)) if len(sites) == 1 else None,
        version=RATINGS_RECEIVED_VERSION,
    )


def suggestion_recorded(feedback_id: str, feedback, at: datetime) -> Decision:
    """A comment-book entry that reports no failure. No timeline entry (it opened no case)."""
    return Decision(
        "suggestion_recorded",
        {
            "feedback_id": feedback_id,
            "channel": feedback.channel,
            "site": feedback.site,
            "window": feedback.window,
            "matter": feedback.matter,
            "at": at.isoformat(),
        },
        site=feedback.site,
    )


def site_case_recorded(case_no: str, site: str, sealed_copy: str) -> Decision:
    """A case registered at a site node, for the district's intake to store as its own: the
    row and intake's timeline entries, sealed (names, phones and ID-number ciphers cross no
    link in clear). Published by site nodes only (``SITE_NODE``); no timeline entry."""
    return Decision(
        "site_case_recorded",
        {"case_no": case_no, "site": site, "copy": sealed_copy},
        site=site,
        case_no=case_no,
    )
