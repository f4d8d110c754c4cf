"""Accountability's SQL."""


def record_first_responsibility(cur, data: dict) -> bool:
    """Fix the first receiver of a case; False when it was already recorded (it never changes)."""
    cur.execute(
        "INSERT INTO accountability.first_responsibility (case_no, site_code, first_receiver, "
        "first_asked_by, received_at) VALUES (%(case_no)s, %(site)s, %(first_receiver)s, "
        "%(first_asked_by)s, %(received_at)s) ON CONFLICT (case_no) DO NOTHING",
        data,
    )
    return cur.rowcount == 1


def first_received_by(cur, staff_id: str) -> list[dict]:
    cur.execute(
        "SELECT case_no, site_code AS site, first_asked_by, received_at "
        "FROM accountability.first_responsibility WHERE first_receiver = %s "
        "ORDER BY received_at DESC",
        (staff_id,),
    )
    return cur.fetchall()
