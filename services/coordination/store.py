"""Coordination's SQL."""


def open_case(cur, data: dict) -> bool:
    """Open coordination's record of a registered case; False when it was already open."""
    cur.execute(
        "INSERT INTO coordination.cases (case_no, site_code, matter_code, department_code, channel, "
        "received_at) VALUES (%(case_no)s, %(site)s, %(matter)s, %(department)s, %(channel)s, "
        "%(received_at)s) ON CONFLICT (case_no) DO NOTHING",
        data,
    )
    return cur.rowcount == 1
