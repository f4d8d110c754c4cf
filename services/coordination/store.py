"""Coordination's SQL: every statement on the coordination schema lives here.

Each function takes the transaction's cursor first (the unit of work binds it). A read that
locks what it returns until the transaction ends is named ``<thing>_for_update``.
"""

from psycopg.types.json import Jsonb

from services.common import timeline
from services.common.postgres import defer

SCHEMA = "coordination"

CASE_COLUMNS = (
    "c.case_no, c.site_code AS site, c.window_code AS window, c.matter_code AS matter, "
    "c.department_code AS department, c.channel, c.received_at, c.first_receiver, c.state, "
    "c.case_type AS type, c.complex, c.requires_return_visit, c.return_visit_at, "
    "c.classified_at, c.classified_by, c.classification_reason, c.explanation, c.reply, "
    "c.resolution"
)


def open_case(cur, data: dict, note) -> None:
    """Open coordination's record of a registered case, with the timeline ``note`` (a
    :class:`~services.coordination.events.Note`) and, for a bad rating's case, its 差评 loop; nothing when it was open already. One
    statement, sent with the COMMIT: nothing in the consumer's transaction reads it back."""
    defer(
        cur,
        "WITH opened AS ("
        " INSERT INTO coordination.cases (case_no, site_code, window_code, matter_code,"
        " department_code, channel, received_at, first_receiver, requires_return_visit)"
        " VALUES (%(case_no)s, %(site)s, %(window)s, %(matter)s, %(department)s, %(channel)s,"
        " %(received_at)s::timestamptz, %(first_receiver)s, %(requires_return_visit)s)"
        " ON CONFLICT (case_no) DO NOTHING RETURNING case_no, channel"
        "), loop AS ("  # a bad rating's case enters the 差评 loop
        " INSERT INTO coordination.bad_ratings (case_no, rating_level, rated_staff)"
        " SELECT case_no, %(rating_level)s::smallint, %(rated_staff)s::text FROM opened"
        " WHERE channel = 'rating'"
        ") INSERT INTO coordination.timeline (case_no, actor, kind, text, data)"
        " SELECT case_no, NULL, %(note_kind)s, %(note_text)s, %(note_data)s FROM opened",
        {
            "window": None,
            "first_receiver": None,
            "rating_level": None,
            "rated_staff": None,
            **data,
            # intake adds this field; an older event without it needs no return visit
            "requires_return_visit": bool(data.get("requires_return_visit", False)),
            "note_kind": note.kind,
            "note_text": note.text,
            "note_data": Jsonb(note.data or {}),
        },
    )


def record_return_visit(cur, case_no: str, at) -> bool:
    cur.execute(
        "UPDATE coordination.cases SET return_visit_at = %s WHERE case_no = %s", (at, case_no)
    )
    return cur.rowcount == 1


def case_for_update(cur, case_no: str) -> dict | None:
    """The case with what its rules need, locked until the transaction ends."""
    cur.execute(
        f"SELECT {CASE_COLUMNS}, "
        "(SELECT count(*) FROM coordination.measures m WHERE m.case_no = c.case_no) AS measures, "
        "EXISTS (SELECT 1 FROM coordination.joint_meetings j WHERE c.case_no = ANY(j.case_nos) "
        "AND j.minutes IS NOT NULL) AS minuted "
        "FROM coordination.cases c WHERE c.case_no = %s FOR UPDATE OF c",
        (case_no,),
    )
    return cur.fetchone()


def case(cur, case_no: str) -> dict | None:
    """The case as it stands, without locking it (for reading)."""
    cur.execute(f"SELECT {CASE_COLUMNS} FROM coordination.cases c WHERE c.case_no = %s", (case_no,))
    return cur.fetchone()


def cases_for_update(cur, case_nos: list[str]) -> list[dict]:
    """Several cases, locked in case-number order (so two meetings cannot deadlock)."""
    cur.execute(
        f"SELECT {CASE_COLUMNS} FROM coordination.cases c WHERE c.case_no = ANY(%s) "
        "ORDER BY c.case_no FOR UPDATE",
        (case_nos,),
    )
    return cur.fetchall()


def set_state(cur, case_no: str, state: str, at) -> None:
    cur.execute(
        "UPDATE coordination.cases SET state = %s, state_changed_at = %s WHERE case_no = %s",
        (state, at, case_no),
    )


def classify(cur, case_no: str, classification: dict, actor: str, at) -> None:
    cur.execute(
        "UPDATE coordination.cases SET case_type = %s, complex = %s, classification_reason = %s, "
        "classified_by = %s, classified_at = %s WHERE case_no = %s",
        (
            classification["type"],
            classification["complex"],
            classification["reason"],
            actor,
            at,
            case_no,
        ),
    )


def set_complex(cur, case_no: str) -> None:
    cur.execute("UPDATE coordination.cases SET complex = true WHERE case_no = %s", (case_no,))


def save_explanation(cur, case_no: str, explanation: dict) -> None:
    cur.execute(
        "UPDATE coordination.cases SET explanation = %s WHERE case_no = %s",
        (Jsonb(explanation), case_no),
    )


def save_reply(cur, case_no: str, reply: dict | None) -> None:
    cur.execute(
        "UPDATE coordination.cases SET reply = %s WHERE case_no = %s",
        (Jsonb(reply) if reply else None, case_no),
    )


def save_resolution(cur, case_no: str, resolution: dict | None) -> None:
    cur.execute(
        "UPDATE coordination.cases SET resolution = %s WHERE case_no = %s",
        (Jsonb(resolution) if resolution else None, case_no),
    )


REFUSAL_COLUMNS = (
    "r.id, r.case_no, r.site_code AS site, r.matter_code AS matter, "
    "r.department_code AS department, r.legal_basis, r.explanation, r.missing_key_materials, "
    "r.explained_by, r.explained_at, r.review_result, r.review_reason, r.reviewed_by, "
    "r.reviewed_at"
)


def add_refusal(cur, case: dict, explanation: dict, actor: str, at) -> dict:
    """Keep a `cannot` answer as it was given (the report lists every one, reviewed or not)."""
    cur.execute(
        "INSERT INTO coordination.refusals (case_no, site_code, matter_code, department_code, "
        "legal_basis, explanation, missing_key_materials, explained_by, explained_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            case["case_no"],
            case["site"],
            case["matter"],
            case["department"],
            explanation["legal_basis"],
            explanation["explanation"],
            Jsonb(explanation["missing_key_materials"]),
            actor,
            at,
        ),
    )
    return cur.fetchone()


def latest_refusal_for_update(cur, case_no: str) -> dict | None:
    """The case's latest `cannot` answer, locked (the one a review is about)."""
    cur.execute(
        f"SELECT {REFUSAL_COLUMNS} FROM coordination.refusals r WHERE r.case_no = %s "
        "ORDER BY r.id DESC LIMIT 1 FOR UPDATE",
        (case_no,),
    )
    return cur.fetchone()


def save_refusal_review(cur, refusal_id: int, review: dict, actor: str, at) -> None:
    cur.execute(
        "UPDATE coordination.refusals SET review_result = %s, review_reason = %s, "
        "reviewed_by = %s, reviewed_at = %s WHERE id = %s",
        (review["result"], review["reason"], actor, at, refusal_id),
    )


def refusals(cur, *, site=None, department=None, limit=50, cursor=None) -> list[dict]:
    """Each case's latest `cannot` answer with its basis and review, by case number, newest
    first (reported upward)."""
    cur.execute(
        f"SELECT DISTINCT ON (r.case_no) {REFUSAL_COLUMNS}, c.classification_reason AS reason, "
        "c.state FROM coordination.refusals r JOIN coordination.cases c USING (case_no) "
        "WHERE (%(site)s::text IS NULL OR r.site_code = %(site)s) "
        "AND (%(department)s::text IS NULL OR r.department_code = %(department)s) "
        "AND (%(cursor)s::text IS NULL OR r.case_no < %(cursor)s) "
        "ORDER BY r.case_no DESC, r.id DESC LIMIT %(limit)s",
        {"site": site, "department": department, "cursor": cursor, "limit": limit},
    )
    return cur.fetchall()


def refusals_given(cur, start, end, *, site=None, department=None, limit: int) -> list[dict]:
    """Every `cannot` answer given from ``start`` up to ``end``, in the order given (one index
    range), at most ``limit``."""
    cur.execute(
        f"SELECT {REFUSAL_COLUMNS}, c.state FROM coordination.refusals r "
        "JOIN coordination.cases c USING (case_no) "
        "WHERE r.explained_at >= %(start)s AND r.explained_at < %(end)s "
        "AND (%(site)s::text IS NULL OR r.site_code = %(site)s) "
        "AND (%(department)s::text IS NULL OR r.department_code = %(department)s) "
        "ORDER BY r.explained_at, r.id LIMIT %(limit)s",
        {"start": start, "end": end, "site": site, "department": department, "limit": limit},
    )
    return cur.fetchall()


# --------------------------------------------------------------------------- measures


def add_measure(cur, case_no: str, measure: dict, actor: str) -> dict:
    cur.execute(
        "INSERT INTO coordination.measures (case_no, measure, departments, details, materials, "
        "due, actor) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, created_at",
        (
            case_no,
            measure["measure"],
            measure["departments"],
            measure["details"],
            Jsonb(measure["materials"]),
            measure["due"],
            actor,
        ),
    )
    return cur.fetchone()


def measure_for_update(cur, measure_id: int) -> dict | None:
    cur.execute(
        "SELECT id, case_no, measure, departments FROM coordination.measures WHERE id = %s "
        "FOR UPDATE",
        (measure_id,),
    )
    return cur.fetchone()


def add_measure_response(cur, measure_id: int, response: dict, actor: str) -> dict:
    cur.execute(
        "INSERT INTO coordination.measure_responses (measure_id, department, response, delivered, "
        "actor) VALUES (%s, %s, %s, %s, %s) RETURNING id, at",
        (measure_id, response["department"], response["response"], response["delivered"], actor),
    )
    return cur.fetchone()


def measures(cur, case_no: str) -> list[dict]:
    cur.execute(
        "SELECT m.id, m.measure, m.departments, m.details, m.materials, m.due, m.actor, "
        "m.created_at, COALESCE(json_agg(json_build_object('department', r.department, "
        "'response', r.response, 'delivered', r.delivered, 'actor', r.actor, 'at', r.at) "
        "ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '[]') AS responses "
        "FROM coordination.measures m LEFT JOIN coordination.measure_responses r "
        "ON r.measure_id = m.id WHERE m.case_no = %s GROUP BY m.id ORDER BY m.id",
        (case_no,),
    )
    return cur.fetchall()


# --------------------------------------------------------------------------- joint meetings

MEETING_COLUMNS = (
    "id, case_nos, departments, scheduled_at, complex, reply_due_at, convened_by, convened_at, "
    "minutes, minuted_by, minuted_at"
)


def add_meeting(cur, meeting: dict, actor: str) -> dict:
    cur.execute(
        "INSERT INTO coordination.joint_meetings (case_nos, departments, scheduled_at, complex, "
        f"convened_by) VALUES (%s, %s, %s, %s, %s) RETURNING {MEETING_COLUMNS}",
        (
            meeting["case_nos"],
            meeting["departments"],
            meeting["scheduled_at"],
            meeting["complex"],
            actor,
        ),
    )
    return cur.fetchone()


def set_meeting_reply_due(cur, meeting_id: int, due_at) -> None:
    cur.execute(
        "UPDATE coordination.joint_meetings SET reply_due_at = %s WHERE id = %s",
        (due_at, meeting_id),
    )


def meeting(cur, meeting_id: int) -> dict | None:
    cur.execute(
        f"SELECT {MEETING_COLUMNS} FROM coordination.joint_meetings WHERE id = %s", (meeting_id,)
    )
    return cur.fetchone()


def meeting_for_update(cur, meeting_id: int) -> dict | None:
    cur.execute(
        f"SELECT {MEETING_COLUMNS} FROM coordination.joint_meetings WHERE id = %s FOR UPDATE",
        (meeting_id,),
    )
    return cur.fetchone()


def save_minutes(cur, meeting_id: int, minutes: dict, actor: str, at) -> None:
    cur.execute(
        "UPDATE coordination.joint_meetings SET minutes = %s, minuted_by = %s, minuted_at = %s "
        "WHERE id = %s",
        (Jsonb(minutes), actor, at, meeting_id),
    )


def meetings(cur, *, case_no=None, minuted=None, site=None, limit=50, cursor=None) -> list[dict]:
    """Joint meetings newest first; with ``site``, only those about a case of that site."""
    cur.execute(
        f"SELECT {MEETING_COLUMNS} FROM coordination.joint_meetings j WHERE "
        "(%(case_no)s::text IS NULL OR %(case_no)s = ANY(case_nos)) "
        "AND (%(minuted)s::boolean IS NULL OR (minutes IS NOT NULL) = %(minuted)s) "
        "AND (%(site)s::text IS NULL OR EXISTS (SELECT 1 FROM coordination.cases c "
        "WHERE c.case_no = ANY(j.case_nos) AND c.site_code = %(site)s)) "
        "AND (%(cursor)s::bigint IS NULL OR id < %(cursor)s) ORDER BY id DESC LIMIT %(limit)s",
        {"case_no": case_no, "minuted": minuted, "site": site, "cursor": cursor, "limit": limit},
    )
    return cur.fetchall()


def sites_of_cases(cur, case_nos: list[str]) -> set[str]:
    """The sites the given cases were registered at."""
    cur.execute(
        "SELECT DISTINCT site_code FROM coordination.cases WHERE case_no = ANY(%s)", (case_nos,)
    )
    return {row["site_code"] for row in cur.fetchall()}


# --------------------------------------------------------------------------- deadlines

DEADLINE_COLUMNS = (
    "id, case_no, kind, stage, start_event, working_days, counting_from, days_to_count, due_at, "
    "warn_at, warning_share, provisional, unknown_years, department, site, meeting_id, task, "
    "pause_events, paused_at, pause_reason, paused_by, warned_at, breached_at, met_at, created_at"
)


def add_deadline(cur, deadline: dict) -> dict:
    row = {
        "stage": None,
        "start_event": None,
        "working_days": None,
        "counting_from": None,
        "days_to_count": None,
        "warning_share": None,
        "meeting_id": None,
        "task": None,
        "pause_events": [],
        "unknown_years": [],
        **deadline,
    }
    cur.execute(
        "INSERT INTO coordination.deadlines (case_no, kind, stage, start_event, working_days, "
        "counting_from, days_to_count, due_at, warn_at, warning_share, provisional, unknown_years, "
        "department, site, meeting_id, task, pause_events) VALUES (%(case_no)s, %(kind)s, "
        "%(stage)s, %(start_event)s, %(working_days)s, %(counting_from)s, %(days_to_count)s, "
        "%(due_at)s, %(warn_at)s, %(warning_share)s, %(provisional)s, %(unknown_years)s, "
        "%(department)s, %(site)s, %(meeting_id)s, %(task)s, %(pause_events)s) "
        f"RETURNING {DEADLINE_COLUMNS}",
        row,
    )
    return cur.fetchone()


def open_deadlines_for_update(cur, case_no: str, *, stage: str | None = None) -> list[dict]:
    """Deadlines of a case not yet met (breached ones included: they can still be met late),
    locked."""
    cur.execute(
        f"SELECT {DEADLINE_COLUMNS} FROM coordination.deadlines WHERE case_no = %s "
        "AND met_at IS NULL AND (%s::text IS NULL OR stage = %s) ORDER BY due_at FOR UPDATE",
        (case_no, stage, stage),
    )
    return cur.fetchall()


def meet_deadlines(cur, case_no: str, at, *, stage: str | None = None) -> list[dict]:
    cur.execute(
        "UPDATE coordination.deadlines SET met_at = %s WHERE case_no = %s AND met_at IS NULL "
        "AND kind <> 'assignment' AND (stage = %s OR %s::text IS NULL "
        # a bad rating's rectification ends only by its own step, never by the case's resolution
        "AND stage IS DISTINCT FROM 'rectification') "
        f"RETURNING {DEADLINE_COLUMNS}",
        (at, case_no, stage, stage),
    )
    return cur.fetchall()


def meet_assignment(cur, meeting_id: int, deadline_id: int, at) -> dict | None:
    cur.execute(
        "UPDATE coordination.deadlines SET met_at = %s WHERE id = %s AND meeting_id = %s "
        f"AND kind = 'assignment' AND met_at IS NULL RETURNING {DEADLINE_COLUMNS}",
        (at, deadline_id, meeting_id),
    )
    return cur.fetchone()


def deadline_for_update(cur, case_no: str, deadline_id: int) -> dict | None:
    cur.execute(
        f"SELECT {DEADLINE_COLUMNS} FROM coordination.deadlines WHERE id = %s AND case_no = %s "
        "FOR UPDATE",
        (deadline_id, case_no),
    )
    return cur.fetchone()


def pause_deadline(cur, deadline_id: int, at, reason: str, paused_by: str) -> None:
    cur.execute(
        "UPDATE coordination.deadlines SET paused_at = %s, pause_reason = %s, paused_by = %s "
        "WHERE id = %s",
        (at, reason, paused_by, deadline_id),
    )


def replan_deadline(cur, deadline_id: int, plan, *, resume: bool = False) -> dict:
    """Store a recomputed deadline (after a resume, a newly loaded year or a complex flag)."""
    cur.execute(
        "UPDATE coordination.deadlines SET counting_from = %s, days_to_count = %s, due_at = %s, "
        "warn_at = %s, provisional = %s, unknown_years = %s, "
        "paused_at = CASE WHEN %s THEN NULL ELSE paused_at END, "
        "pause_reason = CASE WHEN %s THEN NULL ELSE pause_reason END, "
        "paused_by = CASE WHEN %s THEN NULL ELSE paused_by END, "
        "warned_at = CASE WHEN warn_at IS DISTINCT FROM %s THEN NULL ELSE warned_at END "
        f"WHERE id = %s RETURNING {DEADLINE_COLUMNS}",
        (
            plan.counting_from,
            plan.days,
            plan.due_at,
            plan.warn_at,
            plan.provisional,
            list(plan.unknown_years),
            resume,
            resume,
            resume,
            plan.warn_at,
            deadline_id,
        ),
    )
    return cur.fetchone()


def set_working_days(cur, deadline_id: int, days: int) -> None:
    cur.execute(
        "UPDATE coordination.deadlines SET working_days = %s WHERE id = %s", (days, deadline_id)
    )


def case_deadlines(cur, case_no: str) -> list[dict]:
    cur.execute(
        f"SELECT {DEADLINE_COLUMNS} FROM coordination.deadlines WHERE case_no = %s ORDER BY id",
        (case_no,),
    )
    return cur.fetchall()


def deadlines_of_cases(cur, case_nos: list[str]) -> list[dict]:
    """The deadlines of several cases at once (a list page's), each case's in order."""
    cur.execute(
        f"SELECT {DEADLINE_COLUMNS} FROM coordination.deadlines WHERE case_no = ANY(%s) "
        "ORDER BY case_no, id",
        (case_nos,),
    )
    return cur.fetchall()


def breach_due(cur, now, limit: int) -> list[dict]:
    """Mark overdue deadlines breached and return them: each exactly once.

    ``SKIP LOCKED`` lets concurrent instances take different rows, and the
    ``breached_at IS NULL`` condition is re-checked after any lock wait, so a row another
    transaction breached (and committed) is never returned twice.
    """
    cur.execute(
        "WITH due AS (SELECT id FROM coordination.deadlines "
        "WHERE breached_at IS NULL AND met_at IS NULL AND paused_at IS NULL AND due_at < %s "
        "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED) "
        "UPDATE coordination.deadlines d SET breached_at = %s FROM due "
        "WHERE d.id = due.id AND d.breached_at IS NULL RETURNING d.*",
        (now, limit, now),
    )
    return cur.fetchall()


def warn_due(cur, now, limit: int) -> list[dict]:
    """Mark deadlines entering their warning window warned and return them, each once."""
    cur.execute(
        "WITH due AS (SELECT id FROM coordination.deadlines "
        "WHERE warned_at IS NULL AND breached_at IS NULL AND met_at IS NULL AND paused_at IS NULL "
        "AND warn_at <= %s ORDER BY warn_at LIMIT %s FOR UPDATE SKIP LOCKED) "
        "UPDATE coordination.deadlines d SET warned_at = %s FROM due "
        "WHERE d.id = due.id AND d.warned_at IS NULL AND d.due_at >= %s RETURNING d.*",
        (now, limit, now, now),
    )
    return cur.fetchall()


def provisional_deadlines_for_update(cur, limit: int = 1000) -> list[dict]:
    """Open deadlines counted on a year nobody loaded; rows another instance holds are skipped."""
    cur.execute(
        f"SELECT {DEADLINE_COLUMNS} FROM coordination.deadlines "
        "WHERE provisional AND breached_at IS NULL AND met_at IS NULL ORDER BY id LIMIT %s "
        "FOR UPDATE SKIP LOCKED",
        (limit,),
    )
    return cur.fetchall()


def count_provisional(cur) -> int:
    cur.execute(
        "SELECT count(*) AS n FROM coordination.deadlines "
        "WHERE provisional AND breached_at IS NULL AND met_at IS NULL"
    )
    return cur.fetchone()["n"]


# --------------------------------------------------------------------------- practices

PRACTICE_COLUMNS = (
    "id, matter_code AS matter, windows, title, description, source_case_no AS case_no, "
    "created_by, created_at"
)


def add_practice(cur, practice: dict, actor: str) -> dict:
    cur.execute(
        "INSERT INTO coordination.practices (matter_code, windows, title, description, "
        f"source_case_no, created_by) VALUES (%s, %s, %s, %s, %s, %s) RETURNING {PRACTICE_COLUMNS}",
        (
            practice["matter"],
            practice["windows"],
            practice["title"],
            practice["description"],
            practice["case_no"],
            actor,
        ),
    )
    return cur.fetchone()


def practices(cur, *, matter=None, window=None, limit=50, cursor=None) -> list[dict]:
    cur.execute(
        f"SELECT {PRACTICE_COLUMNS} FROM coordination.practices WHERE "
        "(%(matter)s::text IS NULL OR matter_code = %(matter)s) "
        "AND (%(window)s::text IS NULL OR %(window)s = ANY(windows)) "
        "AND (%(cursor)s::bigint IS NULL OR id < %(cursor)s) ORDER BY id DESC LIMIT %(limit)s",
        {"matter": matter, "window": window, "cursor": cursor, "limit": limit},
    )
    return cur.fetchall()


# --------------------------------------------------------------------------- timeline


def case_timeline(cur, case_no: str) -> list[dict]:
    """What coordination wrote on the case's timeline."""
    return timeline.entries(cur, SCHEMA, case_no)


# --------------------------------------------------------------------------- the 差评 loop

BAD_RATING_COLUMNS = (
    "case_no, rating_level, rated_staff, verification, appeal, rectification, answer, "
    "re_rating, deadline_id"
)
BAD_RATING_STEPS = ("verification", "appeal", "rectification", "answer", "re_rating")


def bad_rating(cur, case_no: str) -> dict | None:
    """The case's 差评 loop (None: no bad rating opened the case)."""
    cur.execute(
        f"SELECT {BAD_RATING_COLUMNS} FROM coordination.bad_ratings WHERE case_no = %s",
        (case_no,),
    )
    return cur.fetchone()


def bad_rating_for_update(cur, case_no: str) -> dict | None:
    cur.execute(
        f"SELECT {BAD_RATING_COLUMNS} FROM coordination.bad_ratings WHERE case_no = %s FOR UPDATE",
        (case_no,),
    )
    return cur.fetchone()


def save_bad_rating_step(cur, case_no: str, step: str, record: dict) -> None:
    """Keep one step of the loop (``step`` is one of :data:`BAD_RATING_STEPS`)."""
    if step not in BAD_RATING_STEPS:
        raise ValueError(f"not a step of the bad-rating loop: {step}")
    cur.execute(
        f"UPDATE coordination.bad_ratings SET {step} = %s WHERE case_no = %s",
        (Jsonb(record), case_no),
    )


def set_bad_rating_deadline(cur, case_no: str, deadline_id: int) -> None:
    cur.execute(
        "UPDATE coordination.bad_ratings SET deadline_id = %s WHERE case_no = %s",
        (deadline_id, case_no),
    )
