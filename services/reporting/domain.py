"""Reporting's rules (pure): how each event changes the read models, and the monthly summary.

The read models are a function of the event log. For every event the projection loads the rows
it touches (a case, a joint meeting), computes their new state with :func:`apply_to_case` /
:func:`apply_to_meeting`, and moves the monthly counters and the gauges by the difference of
what the old and the new row contribute (:func:`case_counters`, :func:`case_gauges`, ...).
So a counter always equals the sum of its rows' contributions, whatever order the events came
in, and replaying the log rebuilds exactly the live tables.

Months: a case counts in the month it was received (its cohort: type, situation, complex and
solved); replies count in the month they were given, ratings in the month of their day.

"Due soon" and "overdue" change with the clock, not only with events: coordination's deadline
clock emits ``deadline_warning`` and ``deadline_breached`` when a deadline enters its warning
window or passes, and these gauges follow those events; the reply (for ``reply`` deadlines) or
the resolution (for every deadline) takes the case out of them again.
"""

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.common.errors import InvalidField
from services.common.vocabulary import CAUSE_LABELS, RATING_LEVEL_LABELS, TYPE_LABELS, label

LOCAL = ZoneInfo("Asia/Shanghai")

# the 差评 loop's steps (coordination/bad_ratings.py): what each one records on a case's row
BAD_RATING_EVENTS = {
    "bad_rating_verified": "verified",
    "bad_rating_appealed": "appealed",
    "bad_rating_appeal_decided": "appeal_decided",
    "bad_rating_rectified": "rectified",
    "bad_rating_answered": "answered",
    "bad_rating_re_rated": "re_rated",
}
RECTIFICATION_KIND = "bad_rating_rectification"

# a batch event and the single event each of its parts stands for: ``cases_registered`` is
# what intake publishes instead of N ``case_registered`` when one transaction opens several
# cases, its ``data.cases`` each the data of the single event (see :func:`parts`)
BATCH_EVENTS = {"cases_registered": ("cases", "case_registered")}

# (source service, event type) of every event reporting consumes and keeps in its log
PROJECTED_EVENTS = (
    ("intake", "case_registered"),
    ("intake", "cases_registered"),
    ("intake", "ratings_received"),
    ("intake", "suggestion_recorded"),
    ("intake", "return_visit_recorded"),
    ("coordination", "case_classified"),
    ("coordination", "case_state_changed"),
    ("coordination", "case_replied"),
    ("coordination", "case_resolved"),
    ("coordination", "explanation_given"),
    ("coordination", "deadline_set"),
    ("coordination", "deadline_paused"),
    ("coordination", "deadline_resumed"),
    ("coordination", "deadline_warning"),
    ("coordination", "deadline_breached"),
    ("coordination", "joint_meeting_convened"),
    ("coordination", "joint_meeting_minuted"),
    ("coordination", "practice_promoted"),
    ("accountability", "finding_recorded"),
    *(("coordination", event_type) for event_type in BAD_RATING_EVENTS),
)

TYPES = ("cannot", "hard", "refused", "pending")
CLOSED_STATES = frozenset({"resolved", "closed", "archived"})
RATING_LEVELS = RATING_LEVEL_LABELS  # 5 非常满意 … 1 非常不满意, in that order
SATISFIED_LEVELS = (4, 5)
BAD_LEVELS = (1, 2)
UNSTATED_CAUSE = "未说明"

CASE_FIELDS = (
    "case_no",
    "site",
    "window_code",
    "matter",
    "department",
    "channel",
    "applicant_kind",
    "id_number_masked",
    "first_receiver",
    "received_at",
    "month",
    "state",
    "state_at",
    "type",
    "complex",
    "reason",
    "finding_cause",
    "classified_at",
    "explained_at",
    "replied_at",
    "reply_due_at",
    "reply_on_time",
    "working_days_taken",
    "resolved_at",
    "outcome",
    "closed_at",
    "archived_at",
    "meeting_id",
    "return_visit_satisfied",
    "deadlines",
    "requires_return_visit",
    "rating_level",
    "bad_rating",
)
MEETING_FIELDS = (
    "meeting_id",
    "case_nos",
    "replied_case_nos",
    "scheduled_at",
    "reply_due_at",
    "complex",
    "convened_at",
    "minuted_at",
    "reply_breached",
)

# name -> (Prometheus type, help, label names); the collector builds its families from this
METRICS = {
    "bancheng_open_cases": (
        "gauge",
        "Open cases by site, type and state",
        ("site", "type", "state"),
    ),
    "bancheng_cases_due_soon": (
        "gauge",
        "Open deadlines inside their warning window (from deadline_warning events)",
        ("site", "department", "kind"),
    ),
    "bancheng_cases_overdue": (
        "gauge",
        "Open deadlines that passed (from deadline_breached events), by department",
        ("site", "department", "kind"),
    ),
    "bancheng_deadline_breaches": (
        "counter",
        "Deadlines ever breached",
        ("department", "kind"),
    ),
    "bancheng_open_provisional_deadlines": (
        "gauge",
        "Open deadlines computed without a loaded holiday calendar for their year",
        ("site", "kind"),
    ),
    "bancheng_joint_meetings_awaiting_reply": (
        "gauge",
        "Joint meetings convened whose cases are not all replied yet",
        (),
    ),
    "bancheng_joint_meetings_reply_overdue": (
        "gauge",
        "Joint meetings awaiting their reply after its deadline passed",
        (),
    ),
}


# --------------------------------------------------------------------------- values


def parse_time(value) -> datetime | None:
    """An event's ISO 8601 time (or a datetime from the database) as an aware datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def month_of(value) -> date | None:
    """The first day of the local (Asia/Shanghai) month of a time or a day."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 10:
        value = date.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.replace(day=1)
    return parse_time(value).astimezone(LOCAL).date().replace(day=1)


def parse_month(text: str | None) -> date:
    """``YYYY-MM`` as the first day of that month; a 422 naming ``month`` otherwise."""
    try:
        if not text or len(text) != 7:
            raise ValueError(text)
        return date.fromisoformat(f"{text}-01")
    except ValueError as exc:
        raise InvalidField("月份格式应为 YYYY-MM，例如 2026-03", "month") from exc


def parse_day(text: str | None, field: str) -> date:
    try:
        return date.fromisoformat(text or "")
    except ValueError as exc:
        raise InvalidField("日期格式应为 YYYY-MM-DD", field) from exc


def previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else month.replace(month=month.month - 1)


def months_before(month: date, count: int) -> date:
    """The first day of the month ``count`` months before ``month`` (after it, if negative)."""
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


# --------------------------------------------------------------------------- cases


def blank_case(case_no: str) -> dict:
    case = dict.fromkeys(CASE_FIELDS)
    case.update(case_no=case_no, deadlines={})
    return case


def parts(event: dict) -> list[dict]:
    """The single events an event stands for, in its order: a batch event's parts (each an
    envelope like the batch's, of the single type, with one part's data), else the event."""
    if event["type"] not in BATCH_EVENTS:
        return [event]
    field, single_type = BATCH_EVENTS[event["type"]]
    return [{**event, "type": single_type, "data": data} for data in event["data"][field] or []]


def case_targets(event: dict) -> list[str]:
    """The case numbers an event changes (none for ratings and suggestions)."""
    data = event["data"]
    if event["type"] in ("joint_meeting_convened", "joint_meeting_minuted"):
        return sorted(set(data.get("case_nos") or []))
    if event["type"] in ("ratings_received", "suggestion_recorded", "practice_promoted"):
        return []  # a practice changes the case's precedent row only
    return [data["case_no"]]


def _fill(case: dict, **values) -> None:
    """Set fields the case does not know yet (events may arrive in any order)."""
    for name, value in values.items():
        if case.get(name) is None and value is not None:
            case[name] = value


def _move_to(case: dict, state: str, at) -> None:
    """Take a state unless a later one is already known."""
    at = parse_time(at)
    if case["state_at"] is None or at is None or at >= case["state_at"]:
        case["state"], case["state_at"] = state, at


def _deadline(case: dict, data: dict) -> dict:
    deadline = dict(case["deadlines"].get(data["deadline_id"]) or {})
    for name in ("kind", "due_at", "working_days", "provisional", "department", "site"):
        if data.get(name) is not None and (name == "due_at" or deadline.get(name) is None):
            deadline[name] = data[name]
    deadline.setdefault("paused", False)
    deadline.setdefault("warned", False)
    deadline.setdefault("breached", False)
    deadline.setdefault("closed", False)
    return deadline


def apply_to_case(case: dict, event: dict) -> dict:
    """The case row after ``event`` (a new dict; ``case`` is left as it was)."""
    case = {**case, "deadlines": {k: dict(v) for k, v in (case["deadlines"] or {}).items()}}
    kind, data = event["type"], event["data"]
    if kind == "case_registered":
        received_at = parse_time(data["received_at"])
        case.update(
            site=data["site"],
            window_code=data["window"],
            matter=data["matter"],
            department=data["department"],
            channel=data["channel"],
            applicant_kind=data.get("applicant_kind"),
            id_number_masked=data.get("id_number_masked"),
            first_receiver=data.get("first_receiver"),
            received_at=received_at,
            month=month_of(received_at),
            requires_return_visit=bool(data.get("requires_return_visit")),
            rating_level=data.get("rating_level"),
        )
        if case["state"] is None:
            case["state"], case["state_at"] = "registered", received_at
    elif kind == "case_classified":
        case.update(
            type=data["type"],
            complex=bool(data.get("complex")),
            reason=data.get("reason"),
            classified_at=parse_time(data.get("at")),
        )
        _fill(case, site=data.get("site"), department=data.get("department"))
        _fill(case, matter=data.get("matter"), first_receiver=data.get("first_receiver"))
    elif kind == "case_state_changed":
        _move_to(case, data["to_state"], data.get("at"))
        _fill(case, type=data.get("type"), site=data.get("site"))
        if data["to_state"] == "closed":
            case["closed_at"] = parse_time(data.get("at"))
        elif data["to_state"] == "archived":
            case["archived_at"] = parse_time(data.get("at"))
        elif data["to_state"] == "in_progress" and data.get("from_state") in CLOSED_STATES:
            case["resolved_at"] = case["closed_at"] = case["archived_at"] = None  # reopened
    elif kind == "explanation_given":
        case["explained_at"] = parse_time(data.get("at"))
    elif kind == "case_replied":
        case.update(
            replied_at=parse_time(data["replied_at"]),
            reply_due_at=parse_time(data.get("due_at")),
            reply_on_time=data.get("on_time"),
            working_days_taken=data.get("working_days_taken"),
        )
        for deadline in case["deadlines"].values():
            if deadline.get("kind") == "reply":
                deadline["closed"] = True
    elif kind == "case_resolved":
        case.update(resolved_at=parse_time(data.get("at")), outcome=data.get("outcome"))
        _move_to(case, "resolved", data.get("at"))
        for deadline in case["deadlines"].values():
            if deadline.get("kind") != RECTIFICATION_KIND:  # ended by its own step only
                deadline["closed"] = True
    elif kind == "finding_recorded":
        case["finding_cause"] = None if data.get("no_fault") else data.get("cause")
    elif kind == "return_visit_recorded":
        case["return_visit_satisfied"] = bool(data.get("satisfied"))
    elif kind == "joint_meeting_convened":
        case["meeting_id"] = str(data["meeting_id"])
    elif kind in BAD_RATING_EVENTS:
        case["bad_rating"] = apply_to_bad_rating(case["bad_rating"], kind, data)
        _fill(case, site=data.get("site"), department=data.get("department"))
        _fill(case, rating_level=data.get("rating_level"))
        for deadline in case["deadlines"].values():
            if deadline.get("kind") == RECTIFICATION_KIND:
                deadline["closed"] = rectification_ended(case["bad_rating"])
    elif kind.startswith("deadline_"):
        deadline = _deadline(case, data)
        if kind == "deadline_paused":
            deadline["paused"] = True
        elif kind == "deadline_resumed":
            deadline["paused"] = False
        elif kind == "deadline_warning":
            deadline["warned"] = True
        elif kind == "deadline_breached":
            deadline["breached"] = True
        # the reply, the resolution or the rectification may have been seen before the deadline
        if deadline.get("kind") == RECTIFICATION_KIND:
            deadline["closed"] = rectification_ended(case["bad_rating"])
            if kind == "deadline_resumed" and case["bad_rating"] and data.get("due_at"):
                case["bad_rating"] = {**case["bad_rating"], "due_at": data["due_at"]}
        elif case["resolved_at"] is not None or (
            deadline.get("kind") == "reply" and case["replied_at"] is not None
        ):
            deadline["closed"] = True
        case["deadlines"][str(data["deadline_id"])] = deadline
    return case


def apply_to_bad_rating(loop: dict | None, kind: str, data: dict) -> dict:
    """A case's 差评 loop after one of its steps (times as the events give them: ISO text)."""
    loop = dict(loop or {})
    step, at = BAD_RATING_EVENTS[kind], data.get("at")
    if step == "verified":
        loop.update(verified_at=at, genuine=bool(data.get("genuine")))
        loop["due_at"] = data.get("rectification_due_at")
    elif step == "appealed":
        loop["appealed_at"] = at
    elif step == "appeal_decided":
        loop.update(appeal_decided_at=at, appeal_upheld=bool(data.get("upheld")))
    elif step == "rectified":
        loop.update(rectified_at=at, on_time=data.get("on_time"))
        loop["due_at"] = data.get("due_at") or loop.get("due_at")  # as resumed after an appeal
    elif step == "answered":
        loop["answered_at"] = at
    elif step == "re_rated":
        loop.update(re_rated_at=at, re_rating=data.get("level"), improved=data.get("improved"))
    return loop


def bad_rating_genuine(loop: dict | None) -> bool:
    """A verified 差评 that counts: genuine, and no appeal upheld against it."""
    return bool(loop and loop.get("genuine") and not loop.get("appeal_upheld"))


def bad_rating_running(loop: dict | None) -> bool:
    """Whether the 差评's rectification period still runs: genuine and not rectified."""
    return bad_rating_genuine(loop) and not loop.get("rectified_at")


def rectification_ended(loop: dict | None) -> bool:
    """The rectification period is over: rectified, or its 差评 no longer counts (an appeal
    upheld). Unknown until the verification is seen (its period may arrive first)."""
    return bool(loop and loop.get("verified_at")) and not bad_rating_running(loop)


def bad_rating_counters(case: dict) -> Counter:
    """What a case's 差评 loop adds to the ``bad_rating`` counters.

    Verifications and appeals count in their month; a genuine 差评 counts as due in the month
    its rectification period ends (or of its verification, where no period was set) and as
    rectified on time or late there; the return visits a real-name bad rating requires count
    in the case's month, the re-ratings in theirs (with their levels' sum for the average).
    """
    counts = Counter()
    site, loop = case["site"], case["bad_rating"] or {}

    def add(when, key: str, n: int = 1) -> None:
        counts[(month_of(when), site, "bad_rating", key)] += n

    if case["requires_return_visit"] and case["channel"] == "rating":
        add(case["received_at"], "visit_required")
        if case["return_visit_satisfied"] is not None:
            add(case["received_at"], "visited")
    if loop.get("verified_at"):
        add(loop["verified_at"], "genuine" if bad_rating_genuine(loop) else "not_genuine")
    if loop.get("appealed_at"):
        add(loop["appealed_at"], "appealed")
    if loop.get("appeal_decided_at") and loop.get("appeal_upheld"):
        add(loop["appeal_decided_at"], "appeal_upheld")
    if bad_rating_genuine(loop):
        due = loop.get("due_at") or loop["verified_at"]
        add(due, "due")
        if loop.get("rectified_at"):
            add(due, "rectified_on_time" if loop.get("on_time") is not False else "rectified_late")
    if loop.get("re_rated_at") and loop.get("re_rating") is not None:
        add(loop["re_rated_at"], "re_rated")
        add(loop["re_rated_at"], "re_rating_sum", int(loop["re_rating"]))
        if loop.get("improved"):
            add(loop["re_rated_at"], "re_rating_improved")
    return counts


def situation_cause(case: dict) -> str:
    """The cause of a case's situation: the accountability finding, else the classification reason."""
    return label(CAUSE_LABELS, case["finding_cause"]) or (
        (case["reason"] or "").strip() or UNSTATED_CAUSE
    )


def is_complex(case: dict) -> bool:
    """The source's "complex case": flagged complex, or pending (a joint meeting's business)."""
    return bool(case["complex"]) or case["type"] == "pending"


def case_counters(case: dict) -> Counter:
    """What one case adds to the monthly counters: (month, site, dimension, key) -> n."""
    counts = Counter()
    month, site = case["month"], case["site"]
    if month is None:  # not registered yet: it counts from its registration on
        return counts
    for dimension, key in (
        ("cases", ""),
        ("channel", case["channel"]),
        ("department", case["department"]),
        ("matter", case["matter"]),
        ("window", f"{site}/{case['window_code']}"),
    ):
        counts[(month, site, dimension, key)] += 1
    if case["type"]:
        counts[(month, site, "type", case["type"])] += 1
        counts[(month, site, "situation", f"{case['type']}|{situation_cause(case)}")] += 1
        if is_complex(case):
            counts[(month, site, "headline", "complex")] += 1
            if case["state"] in CLOSED_STATES:
                counts[(month, site, "headline", "complex_solved")] += 1
    if case["return_visit_satisfied"] is not None:
        key = "satisfied" if case["return_visit_satisfied"] else "unsatisfied"
        counts[(month, site, "return_visit", key)] += 1
    counts.update(bad_rating_counters(case))
    if case["replied_at"] is not None:
        replied_month = month_of(case["replied_at"])
        key = "on_time" if case["reply_on_time"] else "late"
        counts[(replied_month, site, "reply", key)] += 1
        if case["working_days_taken"] is not None:
            days = str(int(case["working_days_taken"]))
            counts[(replied_month, site, "reply_days", days)] += 1
    return counts


def event_counters(event: dict) -> Counter:
    """Counters an event moves by itself, with no case row: ratings and suggestions."""
    counts = Counter()
    data = event["data"]
    if event["type"] == "ratings_received":
        for item in data.get("counts") or []:
            key = (month_of(item["day"]), item["site"], "rating", str(int(item["level"])))
            counts[key] += int(item["n"])
    elif event["type"] == "suggestion_recorded":
        counts[(month_of(data["at"]), data["site"], "suggestion", data["channel"])] += 1
    return counts


def _labels(**labels) -> tuple:
    return tuple(
        sorted((name, "" if value is None else str(value)) for name, value in labels.items())
    )


def case_gauges(case: dict) -> Counter:
    """What one case adds to the gauges: (metric, labels) -> n. No case number is a label."""
    gauges = Counter()
    registered = case["month"] is not None
    is_open = case["state"] not in CLOSED_STATES
    if registered and is_open:
        labels = _labels(
            site=case["site"], type=case["type"] or "unclassified", state=case["state"]
        )
        gauges[("bancheng_open_cases", labels)] += 1
    for deadline in case["deadlines"].values():
        kind, department = deadline.get("kind"), deadline.get("department")
        site = deadline.get("site") or case["site"]
        if deadline.get("breached"):
            gauges[("bancheng_deadline_breaches", _labels(department=department, kind=kind))] += 1
        # a 差评's rectification runs whatever the case's state; the others end with the case
        if deadline.get("closed") or (not is_open and kind != RECTIFICATION_KIND):
            continue
        where = _labels(site=site, department=department, kind=kind)
        if deadline.get("breached"):
            gauges[("bancheng_cases_overdue", where)] += 1
        elif deadline.get("warned"):
            gauges[("bancheng_cases_due_soon", where)] += 1
        if deadline.get("provisional"):
            gauges[("bancheng_open_provisional_deadlines", _labels(site=site, kind=kind))] += 1
    return gauges


# --------------------------------------------------------------------------- joint meetings


def blank_meeting(meeting_id: str) -> dict:
    meeting = dict.fromkeys(MEETING_FIELDS)
    meeting.update(meeting_id=meeting_id, case_nos=[], replied_case_nos=[], reply_breached=False)
    return meeting


def meeting_target(event: dict, cases: list[dict]) -> str | None:
    """The joint meeting an event changes, if any (a reply finds it through its case)."""
    data = event["data"]
    if event["type"] in ("joint_meeting_convened", "joint_meeting_minuted"):
        return str(data["meeting_id"])
    if event["type"] == "deadline_breached" and data.get("meeting_id"):
        return str(data["meeting_id"])
    if event["type"] == "case_replied" and cases and cases[0]["meeting_id"]:
        return cases[0]["meeting_id"]
    return None


def apply_to_meeting(meeting: dict, event: dict, cases: list[dict]) -> dict:
    """The meeting row after ``event``; ``cases`` are the case rows after the same event."""
    meeting = {
        **meeting,
        "case_nos": list(meeting["case_nos"]),
        "replied_case_nos": list(meeting["replied_case_nos"]),
    }
    kind, data = event["type"], event["data"]
    replied = set(meeting["replied_case_nos"])
    if kind == "joint_meeting_convened":
        meeting.update(
            case_nos=sorted(set(data["case_nos"])),
            scheduled_at=parse_time(data.get("scheduled_at")),
            reply_due_at=parse_time(data.get("reply_due_at")),
            complex=bool(data.get("complex")),
            convened_at=parse_time(data.get("at")),
        )
        # a reply that arrived before the meeting did still counts
        replied |= {case["case_no"] for case in cases if case["replied_at"] is not None}
    elif kind == "joint_meeting_minuted":
        meeting["minuted_at"] = parse_time(data.get("at"))
    elif kind == "case_replied":
        replied.add(data["case_no"])
    elif kind == "deadline_breached":
        meeting["reply_breached"] = True
    meeting["replied_case_nos"] = sorted(replied)
    return meeting


def meeting_gauges(meeting: dict) -> Counter:
    gauges = Counter()
    if meeting["convened_at"] is None and not meeting["case_nos"]:
        return gauges
    if set(meeting["case_nos"]) - set(meeting["replied_case_nos"]):
        gauges[("bancheng_joint_meetings_awaiting_reply", ())] += 1
        if meeting["reply_breached"]:
            gauges[("bancheng_joint_meetings_reply_overdue", ())] += 1
    return gauges


def difference(old: Counter, new: Counter) -> dict:
    """``new - old`` with negative values kept and zeros dropped."""
    delta = Counter(new)
    delta.subtract(old)
    return {key: value for key, value in delta.items() if value}


# --------------------------------------------------------------------------- the summary


def percentile(histogram: dict[int, int], share: float) -> int | None:
    """The nearest-rank percentile of a histogram {value: count}: exact, no facts needed.

    The smallest value whose cumulative count reaches ceil(share × N).
    """
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, -(-round(share * 1000) * total // 1000))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _top(counts: dict[str, int], whole: int, limit: int) -> list[tuple[str, int, float | None]]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [(key, count, _share(count, whole)) for key, count in ranked]


def _figures(rows: list[dict]) -> dict:
    """Sum counter rows into {dimension: {key: n}} and {site: cases}."""
    by_dimension: dict[str, Counter] = {}
    by_site = Counter()
    for row in rows:
        by_dimension.setdefault(row["dimension"], Counter())[row["key"]] += int(row["value"])
        if row["dimension"] == "cases":
            by_site[row["site"]] += int(row["value"])
    return {"dimensions": by_dimension, "by_site": by_site}


def monthly_summary(
    month: date, site: str | None, rows: list[dict], previous_rows: list[dict], top: int = 10
) -> dict:
    """The month's summary from its counter rows (and the previous month's, for the change)."""
    current = _summary_figures(rows, top)
    previous = _summary_figures(previous_rows, top)
    headline_keys = (
        ("cases", ("totals", "cases")),
        ("complex_cases", ("headline", "complex_cases")),
        ("complex_solved", ("headline", "complex_solved")),
        ("replies", ("replies", "total")),
        ("on_time_rate", ("replies", "on_time_rate")),
        ("median_working_days", ("replies", "median_working_days")),
        ("p90_working_days", ("replies", "p90_working_days")),
        ("ratings", ("satisfaction", "total")),
        ("satisfied_share", ("satisfaction", "satisfied_share")),
        ("rectification_rate", ("bad_ratings", "rectification_rate")),
        ("return_visit_rate", ("bad_ratings", "return_visit_rate")),
    )
    change = {}
    for name, (group, key) in headline_keys:
        now, before = current[group][key], previous[group][key]
        delta = None if now is None or before is None else round(now - before, 4)
        change[name] = {"current": now, "previous": before, "delta": delta}
    return {
        "month": month.strftime("%Y-%m"),
        "site": site,
        **current,
        "previous_month": previous_month(month).strftime("%Y-%m"),
        "change": change,
    }


def _summary_figures(rows: list[dict], top: int) -> dict:
    figures = _figures(rows)
    dims = figures["dimensions"]

    def dim(name: str) -> Counter:
        return dims.get(name, Counter())

    cases = dim("cases").get("", 0)
    classified = sum(dim("type").values())
    replies = dim("reply")
    reply_total = sum(replies.values())
    histogram = {int(days): n for days, n in dim("reply_days").items()}
    ratings = {level: dim("rating").get(str(level), 0) for level in RATING_LEVELS}
    rating_total = sum(ratings.values())
    satisfied = sum(ratings[level] for level in SATISFIED_LEVELS)
    return {
        "totals": {
            "cases": cases,
            "by_type": {t: dim("type").get(t, 0) for t in TYPES},
            "by_site": dict(sorted(figures["by_site"].items())),
            "by_channel": dict(sorted(dim("channel").items())),
            "by_department": dict(sorted(dim("department").items())),
        },
        "top_matters": [
            {"matter": key, "count": count, "share": share}
            for key, count, share in _top(dim("matter"), cases, top)
        ],
        "top_windows": [
            {"site": key.split("/", 1)[0], "window": key.split("/", 1)[1], "count": n, "share": s}
            for key, n, s in _top(dim("window"), cases, top)
        ],
        # shares of situations are of the month's classified cases
        "top_situations": [
            {
                "type": key.split("|", 1)[0],
                "type_name": label(TYPE_LABELS, key.split("|", 1)[0]),
                "cause": key.split("|", 1)[1],
                "count": count,
                "share": share,
            }
            for key, count, share in _top(dim("situation"), classified, top)
        ],
        "replies": {
            "total": reply_total,
            "on_time": replies.get("on_time", 0),
            "late": replies.get("late", 0),
            "on_time_rate": _share(replies.get("on_time", 0), reply_total),
            "median_working_days": percentile(histogram, 0.5),
            "p90_working_days": percentile(histogram, 0.9),
            "working_days_histogram": {str(d): histogram[d] for d in sorted(histogram)},
        },
        "satisfaction": {
            "levels": [
                {"level": level, "name": name, "count": ratings[level]}
                for level, name in RATING_LEVELS.items()
            ],
            "total": rating_total,
            "satisfied": satisfied,
            "satisfied_share": _share(satisfied, rating_total),
            "bad": sum(ratings[level] for level in BAD_LEVELS),
        },
        "headline": {
            "consultations": cases,
            "complex_cases": dim("headline").get("complex", 0),
            "complex_solved": dim("headline").get("complex_solved", 0),
        },
        "return_visits": {
            "satisfied": dim("return_visit").get("satisfied", 0),
            "unsatisfied": dim("return_visit").get("unsatisfied", 0),
        },
        "suggestions": sum(dim("suggestion").values()),
        "bad_ratings": bad_rating_figures(dim("bad_rating")),
    }


def bad_rating_figures(counts: Counter) -> dict:
    """The month's 差评 loop: 差评整改率 (rectified on time / genuine 差评 due), 回访率 (visited /
    requiring a return visit) and the re-ratings (count, average level, share improved)."""
    due, on_time = counts.get("due", 0), counts.get("rectified_on_time", 0)
    required, visited = counts.get("visit_required", 0), counts.get("visited", 0)
    re_rated = counts.get("re_rated", 0)
    return {
        "genuine": counts.get("genuine", 0),
        "not_genuine": counts.get("not_genuine", 0),
        "appealed": counts.get("appealed", 0),
        "appeals_upheld": counts.get("appeal_upheld", 0),
        "rectification_due": due,
        "rectified_on_time": on_time,
        "rectified_late": counts.get("rectified_late", 0),
        "rectification_rate": _share(on_time, due),
        "return_visits_required": required,
        "return_visits_done": visited,
        "return_visit_rate": _share(visited, required),
        "re_ratings": re_rated,
        "re_rating_average": round(counts.get("re_rating_sum", 0) / re_rated, 2)
        if re_rated
        else None,
        "re_ratings_improved": counts.get("re_rating_improved", 0),
        "re_rating_improved_share": _share(counts.get("re_rating_improved", 0), re_rated),
    }


# --------------------------------------------------------------------------- the 12-month trend

TREND_MONTHS = 12


def monthly_trend(first: date, months: int, rows: list[dict]) -> list[dict]:
    """Each of ``months`` months from ``first``: cases received, replies and the share of them
    on time, ratings and the share satisfied (4–5), from the counter rows ``(month, dimension,
    key, value)``; a month without rows is all zeros, its shares None."""
    figures: dict[date, dict[str, Counter]] = {}
    for row in rows:
        month = row["month"]
        month = date.fromisoformat(month) if isinstance(month, str) else month
        figures.setdefault(month, {}).setdefault(row["dimension"], Counter())[row["key"]] += int(
            row["value"]
        )
    trend = []
    for index in range(months):
        month = months_before(first, -index)  # the index-th month after the first
        dims = figures.get(month, {})
        replies = dims.get("reply", Counter())
        ratings = dims.get("rating", Counter())
        reply_total = sum(replies.values())
        rating_total = sum(ratings.values())
        satisfied = sum(ratings.get(str(level), 0) for level in SATISFIED_LEVELS)
        trend.append(
            {
                "month": month.strftime("%Y-%m"),
                "cases": dims.get("cases", Counter()).get("", 0),
                "replies": reply_total,
                "on_time": replies.get("on_time", 0),
                "on_time_rate": _share(replies.get("on_time", 0), reply_total),
                "ratings": rating_total,
                "satisfied": satisfied,
                "satisfied_share": _share(satisfied, rating_total),
            }
        )
    return trend
