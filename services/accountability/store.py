"""Accountability's SQL: every statement on the accountability schema lives here.

Every function takes the transaction's cursor first (a handler calls it through its unit of
work, without the cursor). One naming rule: a read is named by what it returns
(``finding``, ``findings_of``), ``<thing>_for_update`` reads a row and locks it until the
transaction ends, ``lock_<thing>`` takes an advisory lock, and a write is a verb
(``insert_finding``, ``close_investigation``, ``append_audit_entry``).
"""

import weakref
from contextlib import contextmanager
from datetime import UTC, datetime

from services.accountability import chain
from services.common import timeline
from services.common.postgres import defer, flush_deferred

# Advisory lock keys (pg_advisory_xact_lock takes bigints): the audit chain, and one per staff
# member so that recounting their ladder never interleaves with another finding or appeal.
AUDIT_CHAIN_LOCK = 0x6163636F_756E74  # "account"


# -- first responsibility and helpers ------------------------------------------------------


def record_first_responsibility(cur, data: dict, note: str) -> None:
    """Fix the first receiver of a case, with the timeline's ``note`` of it (actor: the first
    receiver) when, and only when, it is recorded now: a case's first receiver never changes,
    so a case announced again under another id adds neither. One statement whose result
    nobody reads, sent with the COMMIT."""
    defer(
        cur,
        "WITH recorded AS (INSERT INTO accountability.first_responsibility (case_no, site_code, "
        "first_receiver, first_asked_by, received_at) VALUES (%(case_no)s, %(site)s, "
        "%(first_receiver)s, %(first_asked_by)s, %(received_at)s) ON CONFLICT (case_no) "
        "DO NOTHING RETURNING case_no, first_receiver) "
        "INSERT INTO accountability.timeline (case_no, actor, kind, text) "
        "SELECT case_no, first_receiver, 'first_receiver', %(note)s FROM recorded",
        {"first_asked_by": None, **data, "note": note},
    )


def close_first_responsibility(cur, case_no: str, at) -> None:
    cur.execute(
        "UPDATE accountability.first_responsibility SET closed_at = %s "
        "WHERE case_no = %s AND closed_at IS NULL",
        (at, case_no),
    )


def add_helper(cur, case_no: str, staff_id: str, added_by: str | None, added_at) -> bool:
    cur.execute(
        "INSERT INTO accountability.case_helpers (case_no, staff_id, added_by, added_at) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (case_no, staff_id, added_by, added_at),
    )
    return cur.rowcount == 1


def cases_of(cur, staff_id: str) -> list[dict]:
    """Cases the staff member first received or first was asked about, with whether they
    assisted after the hand-over: listed as a helper, or the actor of any decision on the case
    recorded after its registration (the audit trail says who did what)."""
    flush_deferred(cur)
    cur.execute(
        """
        SELECT f.case_no, f.site_code AS site, f.first_receiver, f.first_asked_by,
               f.received_at, f.closed_at,
               (f.first_receiver = %(staff)s) AS first_received,
               EXISTS (SELECT 1 FROM accountability.case_helpers h
                       WHERE h.case_no = f.case_no AND h.staff_id = %(staff)s) AS helper,
               COALESCE((SELECT json_agg(json_build_object('at', a.at, 'action', a.action)
                                         ORDER BY a.seq)
                         FROM accountability.audit_log a
                         WHERE a.case_no = f.case_no AND a.actor = %(staff)s
                           AND a.action <> 'registration'), '[]') AS assistance
        FROM accountability.first_responsibility f
        WHERE f.first_receiver = %(staff)s OR f.first_asked_by = %(staff)s
        ORDER BY f.received_at DESC, f.case_no
        """,
        {"staff": staff_id},
    )
    return cur.fetchall()


def cases_helped(cur, staff_id: str) -> list[dict]:
    cur.execute(
        "SELECT case_no, added_by, added_at FROM accountability.case_helpers "
        "WHERE staff_id = %s ORDER BY added_at DESC",
        (staff_id,),
    )
    return cur.fetchall()


# -- investigations and findings -----------------------------------------------------------

INVESTIGATION_COLUMNS = """
    i.id, i.case_no, i.site_code AS site, i.department, i.matter, i.first_receiver, i.reason,
    i.classified_by, i.opened_at, i.status, i.closed_at
"""


def open_investigation(cur, data: dict, opened_at) -> dict | None:
    """Open the investigation of a refused case; None when it already has one."""
    cur.execute(
        "INSERT INTO accountability.investigations (case_no, site_code, department, matter, "
        "first_receiver, reason, classified_by, opened_at) VALUES (%(case_no)s, %(site)s, "
        "%(department)s, %(matter)s, %(first_receiver)s, %(reason)s, %(actor)s, %(opened_at)s) "
        "ON CONFLICT (case_no) DO NOTHING RETURNING id, case_no, site_code AS site, opened_at",
        {
            "site": None,
            "department": None,
            "matter": None,
            "first_receiver": None,
            "reason": None,
            "actor": None,
            **data,
            "opened_at": opened_at,
        },
    )
    return cur.fetchone()


def investigations(cur, status: str | None, limit: int, after: int | None) -> list[dict]:
    cur.execute(
        f"SELECT {INVESTIGATION_COLUMNS}, "
        "(SELECT row_to_json(f) FROM accountability.findings f WHERE f.investigation_id = i.id) "
        "AS finding FROM accountability.investigations i "
        "WHERE (%(status)s::text IS NULL OR i.status = %(status)s) "
        "AND (%(after)s::bigint IS NULL OR i.id < %(after)s) ORDER BY i.id DESC LIMIT %(limit)s",
        {"status": status, "after": after, "limit": limit},
    )
    return cur.fetchall()


def investigation_for_update(cur, investigation_id: int) -> dict | None:
    cur.execute(
        f"SELECT {INVESTIGATION_COLUMNS} FROM accountability.investigations i WHERE i.id = %s "
        "FOR UPDATE",
        (investigation_id,),
    )
    return cur.fetchone()


def close_investigation(cur, investigation_id: int, at) -> None:
    cur.execute(
        "UPDATE accountability.investigations SET status = 'closed', closed_at = %s WHERE id = %s",
        (at, investigation_id),
    )


FINDING_COLUMNS = """
    id, investigation_id, case_no, staff_id, cause, no_fault, finding, department, period,
    found_on, recorded_by, recorded_at, status
"""


def insert_finding(cur, values: dict) -> dict:
    cur.execute(
        "INSERT INTO accountability.findings (investigation_id, case_no, staff_id, cause, "
        "no_fault, finding, department, period, found_on, recorded_by, recorded_at) VALUES "
        "(%(investigation_id)s, %(case_no)s, %(staff_id)s, %(cause)s, %(no_fault)s, "
        "%(finding)s, %(department)s, %(period)s, %(found_on)s, %(recorded_by)s, "
        f"%(recorded_at)s) RETURNING {FINDING_COLUMNS}",
        values,
    )
    return cur.fetchone()


def finding(cur, finding_id: int) -> dict | None:
    cur.execute(
        f"SELECT {FINDING_COLUMNS} FROM accountability.findings WHERE id = %s", (finding_id,)
    )
    return cur.fetchone()


def set_finding_status(cur, finding_id: int, status: str) -> None:
    cur.execute(
        "UPDATE accountability.findings SET status = %s WHERE id = %s", (status, finding_id)
    )


def findings_in_period(cur, staff_id: str, period: str) -> list[dict]:
    cur.execute(
        f"SELECT {FINDING_COLUMNS} FROM accountability.findings "
        "WHERE staff_id = %s AND period = %s ORDER BY found_on, id",
        (staff_id, period),
    )
    return cur.fetchall()


def findings_of(cur, staff_id: str) -> list[dict]:
    cur.execute(
        f"SELECT {FINDING_COLUMNS}, (SELECT row_to_json(a) FROM accountability.appeals a "
        "WHERE a.finding_id = findings.id) AS appeal FROM accountability.findings "
        "WHERE staff_id = %s ORDER BY found_on DESC, id DESC",
        (staff_id,),
    )
    return cur.fetchall()


def lock_staff(cur, staff_id: str) -> None:
    cur.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('accountability.staff:' || %s, 0))",
        (staff_id,),
    )


# -- sanctions and improvement actions -----------------------------------------------------

SANCTION_COLUMNS = """
    s.id, s.finding_id, s.staff_id, s.kind, s.strike_no, s.period, s.status, s.applied_at,
    s.confirmed_by, s.confirmed_at, s.revoked_at, s.revoke_reason, s.rejected_by, s.rejected_at,
    s.reject_reason
"""


def live_sanctions(cur, staff_id: str, period: str) -> list[dict]:
    cur.execute(
        f"SELECT {SANCTION_COLUMNS} FROM accountability.sanctions s "
        "WHERE s.staff_id = %s AND s.period = %s AND s.status <> 'revoked' ORDER BY s.id",
        (staff_id, period),
    )
    return cur.fetchall()


def insert_sanction(cur, values: dict) -> dict:
    cur.execute(
        "INSERT INTO accountability.sanctions (finding_id, staff_id, kind, strike_no, period, "
        "status, applied_at) VALUES (%(finding_id)s, %(staff_id)s, %(kind)s, %(strike_no)s, "
        "%(period)s, %(status)s, %(applied_at)s) RETURNING id",
        values,
    )
    return cur.fetchone()


def revoke_sanction(cur, sanction_id: int, at, reason: str) -> dict:
    cur.execute(
        "UPDATE accountability.sanctions s SET status = 'revoked', revoked_at = %s, "
        f"revoke_reason = %s WHERE id = %s RETURNING {SANCTION_COLUMNS}",
        (at, reason, sanction_id),
    )
    return cur.fetchone()


def renumber_sanction(cur, sanction_id: int, strike_no: int) -> None:
    cur.execute(
        "UPDATE accountability.sanctions SET strike_no = %s WHERE id = %s",
        (strike_no, sanction_id),
    )


def sanction(cur, sanction_id: int) -> dict | None:
    cur.execute(
        f"SELECT {SANCTION_COLUMNS} FROM accountability.sanctions s WHERE s.id = %s",
        (sanction_id,),
    )
    return cur.fetchone()


def sanction_for_update(cur, sanction_id: int) -> dict | None:
    cur.execute(
        f"SELECT {SANCTION_COLUMNS} FROM accountability.sanctions s WHERE s.id = %s FOR UPDATE",
        (sanction_id,),
    )
    return cur.fetchone()


def confirm_sanction(cur, sanction_id: int, actor: str, at) -> None:
    cur.execute(
        "UPDATE accountability.sanctions SET status = 'confirmed', confirmed_by = %s, "
        "confirmed_at = %s WHERE id = %s",
        (actor, at, sanction_id),
    )


def reject_sanction(cur, sanction_id: int, actor: str, at, reason: str) -> None:
    cur.execute(
        "UPDATE accountability.sanctions SET status = 'rejected', rejected_by = %s, "
        "rejected_at = %s, reject_reason = %s WHERE id = %s",
        (actor, at, reason, sanction_id),
    )


def sanctions_of(cur, staff_id: str) -> list[dict]:
    cur.execute(
        f"SELECT {SANCTION_COLUMNS}, f.case_no, f.cause FROM accountability.sanctions s "
        "JOIN accountability.findings f ON f.id = s.finding_id "
        "WHERE s.staff_id = %s ORDER BY s.id DESC",
        (staff_id,),
    )
    return cur.fetchall()


def insert_improvement_action(cur, finding_id: int, department, action: str, at) -> dict:
    cur.execute(
        "INSERT INTO accountability.improvement_actions (finding_id, department, action, "
        "created_at) VALUES (%s, %s, %s, %s) RETURNING id, department, action",
        (finding_id, department, action, at),
    )
    return cur.fetchone()


# -- appeals -------------------------------------------------------------------------------


def insert_appeal(cur, values: dict) -> dict | None:
    cur.execute(
        "INSERT INTO accountability.appeals (finding_id, staff_id, filed_by, reason, filed_at) "
        "VALUES (%(finding_id)s, %(staff_id)s, %(filed_by)s, %(reason)s, %(filed_at)s) "
        "ON CONFLICT (finding_id) DO NOTHING RETURNING *",
        values,
    )
    return cur.fetchone()


def appeal(cur, appeal_id: int) -> dict | None:
    cur.execute("SELECT * FROM accountability.appeals WHERE id = %s", (appeal_id,))
    return cur.fetchone()


def appeal_for_update(cur, appeal_id: int) -> dict | None:
    cur.execute("SELECT * FROM accountability.appeals WHERE id = %s FOR UPDATE", (appeal_id,))
    return cur.fetchone()


def decide_appeal(cur, appeal_id: int, upheld: bool, actor: str, at, reason: str) -> dict:
    cur.execute(
        "UPDATE accountability.appeals SET status = %s, decided_by = %s, decided_at = %s, "
        "decision_reason = %s WHERE id = %s RETURNING *",
        ("upheld" if upheld else "rejected", actor, at, reason, appeal_id),
    )
    return cur.fetchone()


# -- department deductions -----------------------------------------------------------------

DEDUCTION_COLUMNS = """
    id, department, year, points::float AS points, reason_code, reason, case_no, meeting_id,
    deadline_id, at, recorded_at, status, withdrawn_by, withdrawn_at, withdrawal_reason
"""


def insert_deduction(cur, deduction, source_event_id: str) -> dict | None:
    """Record a deduction once per natural key; None when that fact was already deducted."""
    cur.execute(
        "INSERT INTO accountability.deductions (natural_key, department, year, points, "
        "reason_code, reason, case_no, meeting_id, deadline_id, at, source_event_id) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (natural_key) DO NOTHING "
        f"RETURNING {DEDUCTION_COLUMNS}",
        (
            deduction.natural_key,
            deduction.department,
            deduction.year,
            deduction.points,
            deduction.reason_code,
            deduction.reason,
            deduction.case_no,
            deduction.meeting_id,
            deduction.deadline_id,
            deduction.at,
            source_event_id,
        ),
    )
    return cur.fetchone()


def deductions(cur, year: int) -> list[dict]:
    cur.execute(
        f"SELECT {DEDUCTION_COLUMNS} FROM accountability.deductions WHERE year = %s "
        "ORDER BY department, at, id",
        (year,),
    )
    return cur.fetchall()


def deduction_for_update(cur, deduction_id: int) -> dict | None:
    cur.execute(
        f"SELECT {DEDUCTION_COLUMNS} FROM accountability.deductions WHERE id = %s FOR UPDATE",
        (deduction_id,),
    )
    return cur.fetchone()


def withdraw_deduction(cur, deduction_id: int, actor: str, at, reason: str) -> dict:
    cur.execute(
        "UPDATE accountability.deductions SET status = 'withdrawn', withdrawn_by = %s, "
        f"withdrawn_at = %s, withdrawal_reason = %s WHERE id = %s RETURNING {DEDUCTION_COLUMNS}",
        (actor, at, reason, deduction_id),
    )
    return cur.fetchone()


# -- the audit trail -----------------------------------------------------------------------


class _ChainTail:
    """What one transaction knows of the chain: whether it holds the chain lock and, if so,
    the last entry (``seq``, ``hash``; None: the trail is empty), its own appends included."""

    locked = False
    last: dict | None = None


# the transactions of audit_chain_scope, by cursor (a cursor is one transaction's)
_chain_tails: "weakref.WeakKeyDictionary[object, _ChainTail]" = weakref.WeakKeyDictionary()


@contextmanager
def audit_chain_scope(cur):
    """Let the appends of the one transaction run on ``cur`` in the block share one read of
    the chain's tail: the first append (or :func:`handle_event_once`) takes the chain lock and
    reads the tail in one statement; as the lock is held until the transaction ends, no other
    transaction can append meanwhile, so each later append links to the one before it without
    locking or reading again. Outside a scope every append locks and reads."""
    _chain_tails[cur] = _ChainTail()
    try:
        yield
    finally:
        _chain_tails.pop(cur, None)


def _tail_row(row: dict) -> dict | None:
    return None if row["seq"] is None else {"seq": row["seq"], "hash": row["hash"]}


def locked_audit_tail(cur) -> dict | None:
    """Take the chain lock (held until the transaction ends: appends stay in one line) and
    read the chain's last entry under it (migration 0010's function: the read's snapshot is
    taken after the lock is granted); None when the trail is empty."""
    cur.execute("SELECT seq, hash FROM accountability.locked_audit_tail(%s)", (AUDIT_CHAIN_LOCK,))
    return _tail_row(cur.fetchone())


def handle_event_once(cur, event: dict, *, audited: bool, role: str | None = None) -> bool:
    """Record ``event``'s id as handled; False when it was before (a redelivery). When it is
    new and ``audited`` (its arrival enters the trail), the same statement takes the chain
    lock and reads the chain's tail, for the transaction's first append. ``role``: the
    statement first sets the transaction's role (``SET LOCAL ROLE``) as its first step (see
    migration 0010's ``handle_event_once``), so it can be the transaction's first statement."""
    cur.execute(
        "SELECT fresh, seq, hash FROM accountability.handle_event_once(%s, %s, %s, %s, %s)",
        (role, event["id"], event["type"], AUDIT_CHAIN_LOCK, audited),
    )
    row = cur.fetchone()
    tail = _chain_tails.get(cur)
    if row["fresh"] and audited and tail is not None:
        tail.locked, tail.last = True, _tail_row(row)
    return row["fresh"]


def insert_audit_entry(cur, entry, prev_hash: str, mac: str, source_event_id) -> None:
    """Sent with the COMMIT: nothing in the transaction reads the trail back (the reads of it
    flush first)."""
    defer(
        cur,
        "INSERT INTO accountability.audit_log (seq, at, recorded_at, actor, role, action, "
        "case_no, subject, content, source_event_id, key_id, prev_hash, hash) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            entry.seq,
            entry.at,
            entry.recorded_at,
            entry.actor,
            entry.role,
            entry.action,
            entry.case_no,
            entry.subject,
            entry.content,
            source_event_id,
            entry.key_id,
            prev_hash,
            mac,
        ),
    )


def append_audit_entry(
    cur,
    *,
    keys: chain.AuditKeys,
    action: str,
    actor: str | None,
    role: str | None,
    at: datetime,
    content: dict,
    case_no: str | None = None,
    subject: str | None = None,
    source_event_id: str | None = None,
) -> int:
    """Append one entry to the chain, MAC'd with the current key of ``keys``; returns its
    sequence number. The chain lock, held until the transaction ends, keeps concurrent appends
    in one line (the link is the chain's); in an :func:`audit_chain_scope` it is taken, and
    the tail read, once per transaction."""
    tail = _chain_tails.get(cur)
    last = tail.last if tail is not None and tail.locked else locked_audit_tail(cur)
    entry, prev_hash, mac = chain.next_entry(
        last,
        keys,
        recorded_at=datetime.now(UTC),
        content=content,
        at=at,
        actor=actor,
        role=role,
        action=action,
        case_no=case_no,
        subject=subject,
    )
    insert_audit_entry(cur, entry, prev_hash, mac, source_event_id)
    if tail is not None:
        tail.locked, tail.last = True, {"seq": entry.seq, "hash": mac}
    return entry.seq


AUDIT_COLUMNS = (
    "seq, at, recorded_at, actor, role, action, case_no, subject, content, key_id, prev_hash, hash"
)


def audit_entries(cur, case_no: str | None, limit: int, after: int | None) -> list[dict]:
    flush_deferred(cur)
    cur.execute(
        f"SELECT {AUDIT_COLUMNS} FROM accountability.audit_log "
        "WHERE (%(case_no)s::text IS NULL OR case_no = %(case_no)s) "
        "AND (%(after)s::bigint IS NULL OR seq > %(after)s) ORDER BY seq LIMIT %(limit)s",
        {"case_no": case_no, "after": after, "limit": limit},
    )
    return cur.fetchall()


def all_audit_entries(conn):
    """Every entry in chain order, streamed with a server-side cursor."""
    with conn.cursor(name="audit_verify") as cur:
        cur.itersize = 2000
        cur.execute(f"SELECT {AUDIT_COLUMNS} FROM accountability.audit_log ORDER BY seq")
        yield from cur


def audit_head(cur) -> dict:
    """The chain's head (``seq`` 0 and no ``hash`` when empty) and the database it is in: its
    name and oid, so that checkpoints of a re-created database of the same name never apply."""
    flush_deferred(cur)
    cur.execute(
        "SELECT current_database() || '/' || d.oid AS database, "
        "COALESCE(a.seq, 0) AS seq, a.hash FROM pg_database d "
        "LEFT JOIN (SELECT seq, hash FROM accountability.audit_log ORDER BY seq DESC LIMIT 1) a "
        "ON true WHERE d.datname = current_database()"
    )
    return cur.fetchone()


# -- the case's timeline (common's table in this schema) -----------------------------------


def timeline_of(cur, case_no: str) -> list[dict]:
    return timeline.entries(cur, "accountability", case_no)
