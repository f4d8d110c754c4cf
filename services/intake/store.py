"""Intake's SQL: every statement on the intake schema lives here."""

from psycopg.types.json import Jsonb

from services.intake.domain import Reference, Registration

CASE_COLUMNS = """
    c.case_no, c.site_code AS site, c.window_code AS window, c.matter_code AS matter,
    c.department_code AS department, c.channel, c.applicant_kind, c.applicant_name,
    c.id_number_masked, c.phone, c.description, c.materials_presented, c.materials_missing,
    c.first_receiver, c.first_asked_by, c.received_at, c.registered_at, c.registered_by,
    c.status, c.repeat_of, s.name AS site_name, m.name AS matter_name,
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
        "SELECT id, name, role, site_code AS site, department_code AS department, password_hash "
        "FROM intake.staff WHERE username = %s",
        (username,),
    )
    return cur.fetchone()


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


def _one(cur, sql: str, params) -> dict | None:
    cur.execute(sql, params)
    return cur.fetchone()


def reference_for(cur, payload: dict) -> Reference:
    """Look up everything a registration names; missing items come back as None."""

    def text(name):
        value = payload.get(name)
        return value.strip() if isinstance(value, str) else None

    site, window, matter = text("site"), text("window"), text("matter")
    matter_row = _one(cur, "SELECT code, name FROM intake.matters WHERE code = %s", (matter,))
    cur.execute("SELECT site_code FROM intake.matter_sites WHERE matter_code = %s", (matter,))
    matter_sites = frozenset(row["site_code"] for row in cur.fetchall())
    return Reference(
        site=_one(cur, "SELECT code, name FROM intake.sites WHERE code = %s", (site,)),
        window=_one(
            cur,
            "SELECT code, name FROM intake.windows WHERE site_code = %s AND code = %s",
            (site, window),
        ),
        matter=matter_row,
        matter_sites=matter_sites,
        department=_one(
            cur, "SELECT code, name FROM intake.departments WHERE code = %s", (text("department"),)
        ),
        first_receiver=_one(
            cur,
            "SELECT id, name, site_code FROM intake.staff WHERE id = %s",
            (text("first_receiver"),),
        ),
        first_asked_by=_one(
            cur,
            "SELECT id, name, site_code FROM intake.staff WHERE id = %s",
            (text("first_asked_by"),),
        ),
    )


def next_case_sequence(cur, day) -> int:
    """The next number of ``day``; the row lock serialises concurrent registrations briefly."""
    cur.execute(
        "INSERT INTO intake.case_counters (day, last) VALUES (%s, 1) "
        "ON CONFLICT (day) DO UPDATE SET last = intake.case_counters.last + 1 RETURNING last",
        (day,),
    )
    return cur.fetchone()["last"]


def case_no_for_idempotency_key(cur, key: str) -> str | None:
    row = _one(cur, "SELECT case_no FROM intake.cases WHERE idempotency_key = %s", (key,))
    return row["case_no"] if row else None


def lock_idempotency_key(cur, key: str) -> None:
    """Serialise concurrent retries of one key until this transaction ends."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


def earlier_cases(cur, id_number_hash: str, matter: str, since) -> list[str]:
    cur.execute(
        "SELECT case_no FROM intake.cases WHERE id_number_hash = %s AND matter_code = %s "
        "AND received_at >= %s ORDER BY received_at",
        (id_number_hash, matter, since),
    )
    return [row["case_no"] for row in cur.fetchall()]


def insert_case(
    cur,
    case_no: str,
    reg: Registration,
    protected: dict,
    actor: dict,
    repeat_of: list[str],
    idempotency_key: str | None,
) -> None:
    cur.execute(
        "INSERT INTO intake.cases (case_no, site_code, window_code, matter_code, department_code, "
        "channel, applicant_kind, applicant_name, id_number_cipher, id_number_masked, "
        "id_number_hash, phone, description, materials_presented, materials_missing, "
        "first_receiver, first_asked_by, received_at, registered_by, repeat_of, idempotency_key) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            case_no,
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
            actor["id"],
            Jsonb(repeat_of),
            idempotency_key,
        ),
    )


def case(cur, case_no: str) -> dict | None:
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
            "cursor": cursor,
            "limit": limit,
        },
    )
    return cur.fetchall()
