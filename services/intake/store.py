"""Intake's SQL: every statement on the intake schema lives here (``<thing>_for_update`` reads
a row and locks it until the transaction ends; ``insert_<things>`` writes one row with INSERT
and many with COPY). The outbox and the timeline are written by the unit of work."""

import psycopg
from psycopg.types.json import Jsonb

from services.common import timeline
from services.common.postgres import defer, flush_deferred
from services.intake.channels import Catalogue
from services.intake.domain import CaseRecord, Reference

SCHEMA = "intake"

CASE_COLUMNS = """
    c.case_no, c.site_code AS site, c.window_code AS window, c.matter_code AS matter,
    c.department_code AS department, c.channel, c.applicant_kind, c.applicant_name,
    c.id_number_masked, c.phone, c.description, c.materials_presented, c.materials_missing,
    c.first_receiver, c.first_asked_by, c.received_at, c.registered_at, c.registered_by,
    c.status, c.case_type AS type, c.complex, c.overdue, c.requires_return_visit,
    c.feedback_id::text AS feedback_id, c.rated_staff, c.repeat_of, s.name AS site_name, m.name AS matter_name,
    d.name AS department_name, w.name AS window_name, r.name AS first_receiver_name
"""

CASE_FROM = """
    FROM intake.cases c
    JOIN intake.sites s ON s.code = c.site_code
    JOIN intake.windows w ON w.site_code = c.site_code AND w.code = c.window_code
    JOIN intake.matters m ON m.code = c.matter_code
    JOIN intake.departments d ON d.code = c.department_code
    JOIN intake.staff r ON r.id = c.first_receiver
"""


def staff_by_username(cur, username: str) -> dict | None:
    cur.execute(
        "SELECT id, name, role, site_code AS site, department_code AS department, password_hash, "
        "session_version FROM intake.staff WHERE username = %s",
        (username,),
    )
    return cur.fetchone()


# -- logins: failures (throttling) and session versions (revocation) ----------------------------


def login_failures_since(cur, account: str, address: str | None, since) -> tuple[list, list]:
    """The times of the failed logins since ``since``: of the account, and from the address."""
    cur.execute(
        "SELECT failed_at FROM intake.login_failures WHERE account = %s AND failed_at > %s",
        (account, since),
    )
    by_account = [row["failed_at"] for row in cur.fetchall()]
    by_address = []
    if address:
        cur.execute(
            "SELECT failed_at FROM intake.login_failures WHERE address = %s AND failed_at > %s",
            (address, since),
        )
        by_address = [row["failed_at"] for row in cur.fetchall()]
    return by_account, by_address


def record_login_failure(cur, account: str, address: str | None, at, forget_before) -> None:
    """Keep one failure; the account's failures older than ``forget_before`` go."""
    cur.execute(
        "DELETE FROM intake.login_failures WHERE account = %s AND failed_at < %s",
        (account, forget_before),
    )
    cur.execute(
        "INSERT INTO intake.login_failures (account, address, failed_at) VALUES (%s, %s, %s)",
        (account, address, at),
    )


def clear_login_failures(cur, account: str) -> None:
    cur.execute("DELETE FROM intake.login_failures WHERE account = %s", (account,))


def session_version(cur, staff_id: str) -> int | None:
    row = _one(cur, "SELECT session_version FROM intake.staff WHERE id = %s", (staff_id,))
    return row["session_version"] if row else None


def end_sessions(cur, staff_id: str) -> int | None:
    """Raise the staff member's session version: every token issued before is refused."""
    row = _one(
        cur,
        "UPDATE intake.staff SET session_version = session_version + 1 WHERE id = %s "
        "RETURNING session_version",
        (staff_id,),
    )
    return row["session_version"] if row else None


def password_hash(cur, staff_id: str) -> str | None:
    row = _one(cur, "SELECT password_hash FROM intake.staff WHERE id = %s", (staff_id,))
    return row["password_hash"] if row else None


def set_password(cur, staff_id: str, password_hash: str) -> None:
    """A new password hash, and every session of the old password ended."""
    cur.execute(
        "UPDATE intake.staff SET password_hash = %s, session_version = session_version + 1 "
        "WHERE id = %s",
        (password_hash, staff_id),
    )


def sites(cur) -> list[dict]:
    cur.execute(
        "SELECT s.code, s.name, s.kind, s.address, "
        "COALESCE(json_agg(json_build_object('code', w.code, 'name', w.name) ORDER BY w.code) "
        "FILTER (WHERE w.code IS NOT NULL), '[]') AS windows "
        "FROM intake.sites s LEFT JOIN intake.windows w ON w.site_code = s.code "
        "GROUP BY s.code ORDER BY s.kind, s.code"
    )
    return cur.fetchall()


def departments(cur) -> list[dict]:
    cur.execute("SELECT code, name, approval_bureau FROM intake.departments ORDER BY code")
    return cur.fetchall()


def matters(cur, site: str | None = None) -> list[dict]:
    cur.execute(
        "SELECT m.code, m.name, m.department_code AS department, d.name AS department_name, "
        "m.key_materials, m.other_materials, "
        "array_agg(ms.site_code ORDER BY ms.site_code) AS sites "
        "FROM intake.matters m JOIN intake.departments d ON d.code = m.department_code "
        "JOIN intake.matter_sites ms ON ms.matter_code = m.code "
        "GROUP BY m.code, d.name "
        "HAVING %(site)s::text IS NULL OR %(site)s = ANY(array_agg(ms.site_code)) "
        "ORDER BY m.code",
        {"site": site},
    )
    return cur.fetchall()


def staff(cur, site: str | None = None) -> list[dict]:
    cur.execute(
        "SELECT id, name, role, site_code AS site, department_code AS department "
        "FROM intake.staff WHERE %(site)s::text IS NULL OR site_code = %(site)s ORDER BY id",
        {"site": site},
    )
    return cur.fetchall()


def upsert_reference_data(cur, seed: dict) -> None:
    """Insert or update a district's sites, windows, departments, matters and staff (seeding).

    A staff member's login (username, password hash) is written only where the row has none:
    seeding never puts back a password that was changed."""
    cur.executemany(
        "INSERT INTO intake.sites (code, name, kind, address) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, "
        "address = EXCLUDED.address",
        [(s["code"], s["name"], s["kind"], s.get("address", "")) for s in seed["sites"]],
    )
    cur.executemany(
        "INSERT INTO intake.windows (site_code, code, name) VALUES (%s, %s, %s) "
        "ON CONFLICT (site_code, code) DO UPDATE SET name = EXCLUDED.name",
        [(s["code"], w["code"], w["name"]) for s in seed["sites"] for w in s["windows"]],
    )
    cur.executemany(
        "INSERT INTO intake.departments (code, name, approval_bureau) VALUES (%s, %s, %s) "
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, "
        "approval_bureau = EXCLUDED.approval_bureau",
        [(d["code"], d["name"], bool(d.get("approval_bureau"))) for d in seed["departments"]],
    )
    cur.executemany(
        "INSERT INTO intake.matters (code, name, department_code, key_materials, other_materials) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, "
        "department_code = EXCLUDED.department_code, key_materials = EXCLUDED.key_materials, "
        "other_materials = EXCLUDED.other_materials",
        [
            (
                m["code"],
                m["name"],
                m["department"],
                Jsonb(m.get("key_materials", [])),
                Jsonb(m.get("other_materials", [])),
            )
            for m in seed["matters"]
        ],
    )
    cur.executemany(
        "INSERT INTO intake.matter_sites (matter_code, site_code) VALUES (%s, %s) "
        "ON CONFLICT DO NOTHING",
        [(m["code"], site) for m in seed["matters"] for site in m["sites"]],
    )
    cur.executemany(
        "INSERT INTO intake.staff (id, name, site_code, department_code, role, username, "
        "password_hash) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
        "name = EXCLUDED.name, site_code = EXCLUDED.site_code, "
        "department_code = EXCLUDED.department_code, role = EXCLUDED.role, "
        "username = COALESCE(intake.staff.username, EXCLUDED.username), "
        "password_hash = COALESCE(intake.staff.password_hash, EXCLUDED.password_hash)",
        [
            (
                s["id"],
                s["name"],
                s.get("site"),
                s.get("department"),
                s["role"],
                s.get("username"),
                s.get("password_hash"),
            )
            for s in seed["staff"]
        ],
    )
    # after the staff: each site's Open311 first receiver is one of them
    cur.executemany(
        "UPDATE intake.sites SET open311_receiver = %s WHERE code = %s",
        [(s.get("open311_receiver"), s["code"]) for s in seed["sites"]],
    )


def _one(cur, sql: str, params) -> dict | None:
    cur.execute(sql, params)
    return cur.fetchone()


def reference_for(cur, payload: dict) -> Reference:
    """Look up everything a registration names; missing items come back as None."""

    def text(name):
        value = payload.get(name)
        return value.strip() if isinstance(value, str) else None

    # one round trip for all of it: registration is the hot path
    return _reference(_one(cur, REFERENCE_SQL, _reference_params(payload)))


REFERENCE_SQL = """
    SELECT
      (SELECT row_to_json(x) FROM (SELECT code, name FROM intake.sites
         WHERE code = %(site)s) x) AS site,
      (SELECT row_to_json(x) FROM (SELECT code, name FROM intake.windows
         WHERE site_code = %(site)s AND code = %(window)s) x) AS window,
      (SELECT row_to_json(x) FROM (SELECT code, name FROM intake.matters
         WHERE code = %(matter)s) x) AS matter,
      (SELECT array_agg(site_code) FROM intake.matter_sites
         WHERE matter_code = %(matter)s) AS matter_sites,
      (SELECT row_to_json(x) FROM (SELECT code, name FROM intake.departments
         WHERE code = %(department)s) x) AS department,
      (SELECT row_to_json(x) FROM (SELECT id, name, site_code FROM intake.staff
         WHERE id = %(first_receiver)s) x) AS first_receiver,
      (SELECT row_to_json(x) FROM (SELECT id, name, site_code FROM intake.staff
         WHERE id = %(first_asked_by)s) x) AS first_asked_by
"""

REFERENCE_FIELDS = ("site", "window", "matter", "department", "first_receiver", "first_asked_by")


def _form_text(payload: dict, name: str) -> str | None:
    value = payload.get(name)
    return value.strip() if isinstance(value, str) else None


def _reference_params(payload: dict) -> dict:
    return {name: _form_text(payload, name) for name in REFERENCE_FIELDS}


def _reference(found: dict) -> Reference:
    return Reference(**{**found, "matter_sites": frozenset(found["matter_sites"] or ())})


def registration_reads(
    cur,
    payload: dict,
    idempotency_key: str | None,
    applicant_hash: str | None,
    since,
    practices_limit: int,
) -> dict:
    """All a registration from the form reads, in one round trip (with the transaction's
    BEGIN): ``existing`` (the case of ``idempotency_key``, the key locked first until the
    transaction ends), ``reference`` (:func:`reference_for`), ``earlier`` (the applicant's
    earlier cases since ``since``, as :func:`earlier_cases` gives them), ``practices`` (the
    form's matter's, :func:`practices_for`) and ``now`` (the transaction's time: the
    ``registered_at`` of the cases it stores).

    The statements go as one message, each with a snapshot of its own taken when the one
    before it ended: the key's case is looked for after its lock was granted, so a retry
    that waited on the key sees the case the first request committed."""
    binder = psycopg.ClientCursor(cur.connection)
    statements = []
    if idempotency_key:
        statements.append(binder.mogrify(LOCK_KEY_SQL, (idempotency_key,)))
        statements.append(binder.mogrify(CASE_OF_KEY_SQL, (idempotency_key,)))
    reference_sql = REFERENCE_SQL + ", now() AS now"
    statements.append(binder.mogrify(reference_sql, _reference_params(payload)))
    if applicant_hash:
        statements.append(binder.mogrify(EARLIER_CASES_SQL, ([applicant_hash], since)))
    matter = _form_text(payload, "matter")
    if matter:
        statements.append(binder.mogrify(PRACTICES_SQL, (matter, practices_limit)))
    # a text without parameters goes with the simple protocol: several statements at once
    cur.execute("; ".join(statements), prepare=False)
    existing = None
    if idempotency_key:
        cur.nextset()  # past the lock's result
        row = cur.fetchone()
        existing = row["case_no"] if row else None
        cur.nextset()
    found = cur.fetchone()
    now = found.pop("now")
    earlier = {}
    if applicant_hash:
        cur.nextset()
        earlier = _earlier_by_applicant(cur.fetchall())
    practices = []
    if matter:
        cur.nextset()
        practices = cur.fetchall()
    return {
        "existing": existing,
        "reference": _reference(found),
        "earlier": earlier,
        "practices": practices,
        "now": now,
    }


CASE_OF_KEY_SQL = "SELECT case_no FROM intake.cases WHERE idempotency_key = %s"
LOCK_KEY_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


def case_no_for_idempotency_key(cur, key: str) -> str | None:
    row = _one(cur, CASE_OF_KEY_SQL, (key,))
    return row["case_no"] if row else None


def lock_idempotency_key(cur, key: str) -> None:
    """Serialise concurrent retries of one key until this transaction ends."""
    cur.execute(LOCK_KEY_SQL, (key,))


CASE_INSERT_COLUMNS = (
    "case_no, site_code, window_code, matter_code, department_code, channel, applicant_kind, "
    "applicant_name, id_number_cipher, id_number_masked, id_number_hash, phone, description, "
    "materials_presented, materials_missing, first_receiver, first_asked_by, received_at, "
    "registered_by, repeat_of, idempotency_key, requires_return_visit, feedback_id, rated_staff"
)


def case_row(record: CaseRecord) -> tuple:
    """One ``intake.cases`` row in the order of :data:`CASE_INSERT_COLUMNS` (INSERT and COPY)."""
    new_case, protected = record.new_case, record.protected
    reg = new_case.registration
    return (
        record.case_no,
        reg.site,
        reg.window,
        reg.matter,
        reg.department,
        reg.channel,
        reg.applicant_kind,
        reg.applicant_name,
        protected.get("cipher"),
        protected.get("masked"),
        protected.get("hash"),
        reg.phone,
        reg.description,
        Jsonb(reg.materials_presented),
        Jsonb(reg.materials_missing),
        reg.first_receiver,
        reg.first_asked_by,
        reg.received_at,
        record.registered_by,
        Jsonb(record.repeat_of),
        new_case.idempotency_key,
        new_case.requires_return_visit,
        new_case.feedback_id,
        new_case.rated_staff,
    )


def insert_cases(cur, records: list[CaseRecord], *, deferred: bool = False) -> None:
    """``deferred``: a single case is sent with the COMMIT (the caller reads nothing of the
    transaction's writes afterwards but through :func:`case` and :func:`case_copies`, which
    send it first)."""
    rows = [case_row(record) for record in records]
    if deferred and len(rows) == 1:
        placeholders = ", ".join(["%s"] * len(rows[0]))
        defer(
            cur,
            f"INSERT INTO intake.cases ({CASE_INSERT_COLUMNS}) VALUES ({placeholders})",
            rows[0],
        )
    else:
        _insert_rows(cur, "cases", CASE_INSERT_COLUMNS, rows)


def earlier_cases(cur, hashes: list[str], since) -> dict[tuple[str, str], list[tuple]]:
    """The earlier cases of these applicants (ID-number hashes) received since ``since``:
    [(case_no, received_at)] by (hash, matter), oldest first."""
    if not hashes:
        return {}
    cur.execute(EARLIER_CASES_SQL, (list(set(hashes)), since))
    return _earlier_by_applicant(cur.fetchall())


EARLIER_CASES_SQL = (
    "SELECT id_number_hash, matter_code, case_no, received_at FROM intake.cases "
    "WHERE id_number_hash = ANY(%s) AND received_at >= %s ORDER BY received_at, case_no"
)


def _earlier_by_applicant(rows: list[dict]) -> dict[tuple[str, str], list[tuple]]:
    found: dict[tuple[str, str], list[tuple]] = {}
    for row in rows:
        found.setdefault((row["id_number_hash"], row["matter_code"]), []).append(
            (row["case_no"], row["received_at"])
        )
    return found


def _insert_rows(cur, table: str, columns: str, rows: list[tuple]) -> None:
    """One row with INSERT; many with COPY, one stream instead of a statement per row."""
    if len(rows) == 1:
        placeholders = ", ".join(["%s"] * len(rows[0]))
        cur.execute(f"INSERT INTO intake.{table} ({columns}) VALUES ({placeholders})", rows[0])
    elif rows:
        with cur.copy(f"COPY intake.{table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def registration_event(cur, case_no: str) -> dict | None:
    """The envelope that announced ``case_no`` as it was written to the outbox — its
    ``case_registered``, or the ``cases_registered`` of the batch that opened it (same id,
    same data: consumers dedupe it with the delivered copy); None for an unknown case."""
    row = _one(
        cur,
        "SELECT payload FROM intake.outbox WHERE event_type = 'case_registered' "
        "AND payload->'data'->>'case_no' = %s "
        "UNION ALL SELECT payload FROM intake.outbox WHERE event_type = 'cases_registered' "
        "AND payload->'data'->'cases' @> %s LIMIT 1",
        (case_no, Jsonb([{"case_no": case_no}])),
    )
    return row["payload"] if row else None


def case_timeline(cur, case_no: str) -> list[dict]:
    """Intake's entries on the case's timeline."""
    return timeline.entries(cur, SCHEMA, case_no)


def case(cur, case_no: str) -> dict | None:
    flush_deferred(cur)  # a case inserted with deferred=True in this transaction
    return _one(cur, f"SELECT {CASE_COLUMNS} {CASE_FROM} WHERE c.case_no = %s", (case_no,))


def list_cases(
    cur,
    *,
    site=None,
    status=None,
    department=None,
    month=None,
    q=None,
    first_receiver=None,
    case_type=None,
    overdue=None,
    limit=50,
    cursor=None,
) -> list[dict]:
    """Newest first; ``cursor`` is the last case number of the previous page."""
    cur.execute(
        f"SELECT {CASE_COLUMNS} {CASE_FROM} WHERE "
        "(%(site)s::text IS NULL OR c.site_code = %(site)s) "
        "AND (%(status)s::text IS NULL OR c.status = %(status)s) "
        "AND (%(department)s::text IS NULL OR c.department_code = %(department)s) "
        "AND (%(first_receiver)s::text IS NULL OR c.first_receiver = %(first_receiver)s) "
        "AND (%(case_type)s::text IS NULL OR c.case_type = %(case_type)s) "
        "AND (%(overdue)s::boolean IS NULL OR c.overdue = %(overdue)s) "
        "AND (%(month)s::text IS NULL OR to_char(c.received_at AT TIME ZONE 'Asia/Shanghai', "
        "'YYYY-MM') = %(month)s) "
        "AND (%(q)s::text IS NULL OR c.description ILIKE '%%' || %(q)s || '%%' "
        "OR c.applicant_name ILIKE '%%' || %(q)s || '%%' OR c.case_no = %(q)s) "
        "AND (%(cursor)s::text IS NULL OR c.case_no < %(cursor)s) "
        "ORDER BY c.case_no DESC LIMIT %(limit)s",
        {
            "site": site,
            "status": status,
            "department": department,
            "month": month,
            "q": q,
            "first_receiver": first_receiver,
            "case_type": case_type,
            "overdue": overdue,
            "cursor": cursor,
            "limit": limit,
        },
    )
    return cur.fetchall()


# -- what the case view adds: links to earlier cases, helpers, return visits ----------------


def case_links(cur, case_nos: list[str]) -> list[dict]:
    """The earlier cases a repeat visit points to, oldest first."""
    if not case_nos:
        return []
    cur.execute(
        "SELECT case_no, received_at FROM intake.cases WHERE case_no = ANY(%s) "
        "ORDER BY received_at, case_no",
        (list(case_nos),),
    )
    return cur.fetchall()


def helpers(cur, case_no: str) -> list[dict]:
    cur.execute(
        "SELECT h.staff_id, s.name, s.site_code AS site, h.added_by, h.added_at "
        "FROM intake.case_helpers h JOIN intake.staff s ON s.id = h.staff_id "
        "WHERE h.case_no = %s ORDER BY h.added_at, h.staff_id",
        (case_no,),
    )
    return cur.fetchall()


def add_helper(cur, case_no: str, staff_id: str, added_by: str) -> dict | None:
    """The new helper row, or None when that staff member already helps on the case."""
    return _one(
        cur,
        "INSERT INTO intake.case_helpers (case_no, staff_id, added_by) VALUES (%s, %s, %s) "
        "ON CONFLICT DO NOTHING RETURNING staff_id, added_by, added_at",
        (case_no, staff_id, added_by),
    )


def staff_member(cur, staff_id: str) -> dict | None:
    return _one(
        cur,
        "SELECT id, name, site_code AS site, role FROM intake.staff WHERE id = %s",
        (staff_id,),
    )


def return_visits(cur, case_no: str) -> list[dict]:
    cur.execute(
        "SELECT id, satisfied, notes, recorded_by, recorded_at FROM intake.return_visits "
        "WHERE case_no = %s ORDER BY recorded_at, id",
        (case_no,),
    )
    return cur.fetchall()


def insert_return_visit(cur, case_no: str, satisfied: bool, notes: str, actor: str) -> dict:
    return _one(
        cur,
        "INSERT INTO intake.return_visits (case_no, satisfied, notes, recorded_by) "
        "VALUES (%s, %s, %s, %s) RETURNING id, satisfied, notes, recorded_by, recorded_at",
        (case_no, satisfied, notes, actor),
    )


def case_for_update(cur, case_no: str) -> dict | None:
    """The case's own row, locked until the transaction ends (scoping and flags)."""
    return _one(
        cur,
        "SELECT case_no, site_code AS site, first_receiver, first_asked_by, "
        "requires_return_visit FROM intake.cases WHERE case_no = %s FOR UPDATE",
        (case_no,),
    )


# -- the other channels -----------------------------------------------------------------------


def catalogue(cur) -> Catalogue:
    """All reference data a piece of feedback may name, in five small queries."""
    cur.execute("SELECT code, name FROM intake.sites")
    sites = {row["code"]: row["name"] for row in cur.fetchall()}
    cur.execute("SELECT site_code, code, name FROM intake.windows")
    windows = {(row["site_code"], row["code"]): row["name"] for row in cur.fetchall()}
    cur.execute("SELECT code, name, department_code FROM intake.matters")
    matters = {
        row["code"]: {"name": row["name"], "department": row["department_code"]}
        for row in cur.fetchall()
    }
    cur.execute("SELECT matter_code, site_code FROM intake.matter_sites")
    matter_sites = frozenset((row["matter_code"], row["site_code"]) for row in cur.fetchall())
    cur.execute("SELECT code, name FROM intake.departments")
    departments = {row["code"]: row["name"] for row in cur.fetchall()}
    cur.execute("SELECT id, name, site_code, role FROM intake.staff")
    staff = {
        row["id"]: {"name": row["name"], "site": row["site_code"], "role": row["role"]}
        for row in cur.fetchall()
    }
    return Catalogue(sites, windows, matters, matter_sites, departments, staff)


RATING_COLUMNS = (
    "batch_id, site_code, window_code, matter_code, staff_id, level, text, real_name, "
    "rated_at, case_no"
)


def _rating_row(batch_id: str | None, feedback, case_no: str | None) -> tuple:
    """A rating in the order of :data:`RATING_COLUMNS`."""
    return (
        batch_id,
        feedback.site,
        feedback.window,
        feedback.matter,
        feedback.staff,
        feedback.level,
        feedback.text,
        feedback.real_name,
        feedback.at,
        case_no,
    )


def insert_ratings(cur, batch_id: str | None, ratings: list[tuple]) -> None:
    """Ratings given as (feedback, case_no, rating id): a rating that opened a case has the id
    its case names; the others get theirs from the database."""
    _insert_rows(
        cur,
        "ratings",
        RATING_COLUMNS,
        [_rating_row(batch_id, feedback, case_no) for feedback, case_no, id_ in ratings if not id_],
    )
    _insert_rows(
        cur,
        "ratings",
        f"id, {RATING_COLUMNS}",
        [
            (id_, *_rating_row(batch_id, feedback, case_no))
            for feedback, case_no, id_ in ratings
            if id_
        ],
    )


def insert_complaint(cur, complaint_id: str, feedback, case_no: str, actor: str) -> None:
    cur.execute(
        "INSERT INTO intake.complaints (id, channel, site_code, matter_code, text, case_no, "
        "recorded_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            complaint_id,
            feedback.channel,
            feedback.site,
            feedback.matter,
            feedback.text,
            case_no,
            actor,
        ),
    )


def insert_suggestion(cur, suggestion_id: str, feedback, actor: str) -> None:
    cur.execute(
        "INSERT INTO intake.suggestions (id, channel, site_code, window_code, matter_code, text, "
        "recorded_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            suggestion_id,
            feedback.channel,
            feedback.site,
            feedback.window,
            feedback.matter,
            feedback.text,
            actor,
        ),
    )


def feedback_response(cur, idempotency_key: str) -> dict | None:
    row = _one(
        cur,
        "SELECT response FROM intake.feedback_requests WHERE idempotency_key = %s",
        (idempotency_key,),
    )
    return row["response"] if row else None


def save_feedback_response(cur, idempotency_key: str, response: dict) -> None:
    cur.execute(
        "INSERT INTO intake.feedback_requests (idempotency_key, response) VALUES (%s, %s)",
        (idempotency_key, Jsonb(response)),
    )


# -- case numbers (on the side pool's connection) -------------------------------------------


def reserve_case_sequences(cur, day, site: str, count: int) -> int:
    """Reserve ``count`` consecutive numbers of ``day`` at ``site``; returns the first."""
    cur.execute(
        "INSERT INTO intake.case_counters (day, site_code, last) VALUES (%(day)s, %(site)s, %(n)s) "
        "ON CONFLICT (day, site_code) DO UPDATE SET last = intake.case_counters.last + %(n)s "
        "RETURNING last",
        {"day": day, "site": site, "n": count},
    )
    return cur.fetchone()["last"] - count + 1


# -- a site node's cases, copied to the district (docs/network.md) -----------------------------

COPIED_CASE_COLUMNS = CASE_INSERT_COLUMNS.replace(", idempotency_key", "") + ", registered_at"


def case_copies(cur, case_nos: list[str]) -> list[dict]:
    """The stored rows of ``case_nos`` as the district's intake stores them (the client's
    idempotency key stays at the site: keys are the site's clients'), each with intake's
    timeline entries of the case (``timeline``)."""
    flush_deferred(cur)  # this transaction's own timeline entries are among them
    cur.execute(
        f"SELECT {COPIED_CASE_COLUMNS.replace('feedback_id', 'feedback_id::text')} "
        "FROM intake.cases WHERE case_no = ANY(%s) ORDER BY case_no",
        (list(case_nos),),
    )
    rows = {row["case_no"]: {**row, "timeline": []} for row in cur.fetchall()}
    cur.execute(
        "SELECT case_no, at, actor, kind, text, data FROM intake.timeline "
        "WHERE case_no = ANY(%s) ORDER BY at, id",
        (list(case_nos),),
    )
    for entry in cur.fetchall():
        rows[entry.pop("case_no")]["timeline"].append(entry)
    return list(rows.values())


def case_exists(cur, case_no: str) -> bool:
    return (
        _one(cur, "SELECT 1 AS found FROM intake.cases WHERE case_no = %s", (case_no,)) is not None
    )


def insert_case_copy(cur, copy: dict) -> bool:
    """Store a site's case and its timeline entries unless the case is here already (False)."""
    columns = [name.strip() for name in COPIED_CASE_COLUMNS.split(",")]
    json_columns = {"materials_presented", "materials_missing", "repeat_of"}
    values = [Jsonb(copy[name]) if name in json_columns else copy[name] for name in columns]
    cur.execute(
        f"INSERT INTO intake.cases ({COPIED_CASE_COLUMNS}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        "ON CONFLICT (case_no) DO NOTHING RETURNING case_no",
        values,
    )
    if cur.fetchone() is None:
        return False
    for entry in copy["timeline"]:
        cur.execute(
            "INSERT INTO intake.timeline (case_no, at, actor, kind, text, data) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (
                copy["case_no"],
                entry["at"],
                entry["actor"],
                entry["kind"],
                entry["text"],
                Jsonb(entry["data"] or {}),
            ),
        )
    return True


# -- what coordination tells us (consumed events) ---------------------------------------------


def set_status(cur, case_no: str, status: str, at, case_type: str | None) -> None:
    """Keep the newest state: an older state change arriving late does not win."""
    cur.execute(
        "UPDATE intake.cases SET status = %(status)s, status_at = %(at)s, "
        "case_type = COALESCE(%(type)s, case_type) "
        "WHERE case_no = %(case_no)s AND (status_at IS NULL OR status_at <= %(at)s)",
        {"status": status, "at": at, "type": case_type, "case_no": case_no},
    )


def set_classification(cur, case_no: str, case_type: str, complex_: bool, at) -> None:
    cur.execute(
        "UPDATE intake.cases SET case_type = %(type)s, complex = %(complex)s, "
        "classified_at = %(at)s "
        "WHERE case_no = %(case_no)s AND (classified_at IS NULL OR classified_at <= %(at)s)",
        {"type": case_type, "complex": complex_, "at": at, "case_no": case_no},
    )


def mark_deadline_breached(cur, case_no: str) -> None:
    cur.execute("UPDATE intake.cases SET deadline_breached = true WHERE case_no = %s", (case_no,))


def mark_answered(cur, case_no: str) -> None:
    cur.execute("UPDATE intake.cases SET answered = true WHERE case_no = %s", (case_no,))


# -- key rotation (services.cli reencrypt) ------------------------------------------------------


def id_number_ciphers_for_update(cur, after_case_no: str, limit: int) -> list[dict]:
    """The next ``limit`` stored ID-number tokens after ``after_case_no`` (case-number order),
    locked until the transaction ends."""
    cur.execute(
        "SELECT case_no, id_number_cipher FROM intake.cases "
        "WHERE id_number_cipher IS NOT NULL AND case_no > %s ORDER BY case_no LIMIT %s FOR UPDATE",
        (after_case_no, limit),
    )
    return cur.fetchall()


def replace_id_number_ciphers(cur, tokens: dict[str, str]) -> None:
    """Store each case's ID number as the new token ``tokens[case_no]``."""
    cur.executemany(
        "UPDATE intake.cases SET id_number_cipher = %s WHERE case_no = %s",
        [(token, case_no) for case_no, token in tokens.items()],
    )


# -- Open311: integrating systems, their requests (services.intake.integrations) ---------------


def open311_sites(cur) -> dict[str, dict]:
    """Every site: code -> {name, open311_receiver}."""
    cur.execute("SELECT code, name, open311_receiver FROM intake.sites")
    return {row["code"]: row for row in cur.fetchall()}


def integration_by_key_hash(cur, hashed: str) -> dict | None:
    return _one(
        cur,
        "SELECT id, system_name, jurisdictions, revoked_at FROM intake.integrations "
        "WHERE key_hash = %s",
        (hashed,),
    )


def insert_integration(cur, system_name: str, hashed: str, hint: str, sites: list[str]) -> dict:
    return _one(
        cur,
        "INSERT INTO intake.integrations (system_name, key_hash, key_hint, jurisdictions) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (key_hash) DO UPDATE SET "
        "system_name = EXCLUDED.system_name, jurisdictions = EXCLUDED.jurisdictions "
        "RETURNING id, system_name, key_hint, jurisdictions, created_at, revoked_at",
        (system_name, hashed, hint, sites),
    )


def integrations(cur) -> list[dict]:
    cur.execute(
        "SELECT i.id, i.system_name, i.key_hint, i.jurisdictions, i.created_at, i.revoked_at, "
        "(SELECT count(*) FROM intake.open311_requests o WHERE o.integration_id = i.id) AS requests "
        "FROM intake.integrations i ORDER BY i.id"
    )
    return cur.fetchall()


def revoke_integration(cur, integration_id: int) -> dict | None:
    return _one(
        cur,
        "UPDATE intake.integrations SET revoked_at = COALESCE(revoked_at, now()) WHERE id = %s "
        "RETURNING id, system_name, revoked_at",
        (integration_id,),
    )


def insert_open311_request(cur, case_no: str, integration_id: int, request, requested_at) -> None:
    cur.execute(
        "INSERT INTO intake.open311_requests (case_no, integration_id, service_code, address, "
        "lat, long, email, device_id, account_id, media_url, attributes, requested_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            case_no,
            integration_id,
            request.matter,
            request.address,
            request.lat,
            request.long,
            request.email,
            request.device_id,
            request.account_id,
            request.media_url,
            Jsonb(request.attributes),
            requested_at,
        ),
    )


def open311_of_case(cur, case_no: str) -> dict | None:
    """What an Open311 request carried, for the staff's case view (with the system's name)."""
    return _one(
        cur,
        "SELECT o.integration_id, i.system_name, o.service_code, o.address, o.lat, o.long, "
        "o.email, o.device_id, o.account_id, o.media_url, o.attributes, o.requested_at "
        "FROM intake.open311_requests o JOIN intake.integrations i ON i.id = o.integration_id "
        "WHERE o.case_no = %s",
        (case_no,),
    )


def open311_requests(
    cur,
    *,
    ids=None,
    site=None,
    service_codes=None,
    start_at=None,
    end_at=None,
    closed=None,
    closed_states=(),
    limit=1000,
) -> list[dict]:
    """Open311 requests newest first: only the columns GET requests may show."""
    cur.execute(
        "SELECT o.case_no, c.status, c.case_type, c.description, m.name AS matter_name, "
        "o.service_code, d.name AS department_name, o.requested_at, "
        "GREATEST(o.requested_at, c.registered_at, c.status_at, c.classified_at) AS updated_at, "
        "o.address, o.lat, o.long, o.media_url "
        "FROM intake.open311_requests o JOIN intake.cases c ON c.case_no = o.case_no "
        "JOIN intake.matters m ON m.code = c.matter_code "
        "JOIN intake.departments d ON d.code = c.department_code WHERE "
        "(%(ids)s::text[] IS NULL OR o.case_no = ANY(%(ids)s)) "
        "AND (%(site)s::text IS NULL OR c.site_code = %(site)s) "
        "AND (%(codes)s::text[] IS NULL OR o.service_code = ANY(%(codes)s)) "
        "AND (%(start_at)s::timestamptz IS NULL OR o.requested_at >= %(start_at)s) "
        "AND (%(end_at)s::timestamptz IS NULL OR o.requested_at <= %(end_at)s) "
        "AND (%(closed)s::boolean IS NULL OR (c.status = ANY(%(closed_states)s)) = %(closed)s) "
        "ORDER BY o.requested_at DESC, o.case_no DESC LIMIT %(limit)s",
        {
            "ids": ids,
            "site": site,
            "codes": service_codes,
            "start_at": start_at,
            "end_at": end_at,
            "closed": closed,
            "closed_states": list(closed_states),
            "limit": limit,
        },
    )
    return cur.fetchall()


# -- standard practices: intake's copy of coordination's -------------------------------------

PRACTICE_COLUMNS = (
    "practice_id AS id, matter_code AS matter, windows, title, description, "
    "source_case_no AS case_no, created_by, created_at"
)
PRACTICES_SQL = (
    f"SELECT {PRACTICE_COLUMNS} FROM intake.practices WHERE matter_code = %s "
    "ORDER BY practice_id DESC LIMIT %s"
)


def add_practice(cur, practice: dict) -> bool:
    """Keep a promoted practice (``id, matter, windows, title, description, case_no,
    created_by, created_at``); False when it was kept already (practices never change)."""
    cur.execute(
        "INSERT INTO intake.practices (practice_id, matter_code, windows, title, description, "
        "source_case_no, created_by, created_at) VALUES (%(id)s, %(matter)s, %(windows)s, "
        "%(title)s, %(description)s, %(case_no)s, %(created_by)s, %(created_at)s) "
        "ON CONFLICT (practice_id) DO NOTHING",
        practice,
    )
    return cur.rowcount == 1


def practices_for(cur, matter: str, limit: int) -> list[dict]:
    """A matter's standard practices, newest first (as coordination lists them)."""
    cur.execute(PRACTICES_SQL, (matter, limit))
    return cur.fetchall()


def practices_synced(cur) -> bool:
    """Whether the practices promoted before intake kept its copy were copied once."""
    cur.execute("SELECT 1 FROM intake.practices_synced")
    return cur.fetchone() is not None


def mark_practices_synced(cur) -> None:
    cur.execute(
        "INSERT INTO intake.practices_synced (synced_at) VALUES (now()) ON CONFLICT DO NOTHING"
    )
