"""Reporting's SQL: the read model fed by events."""


def count_case(cur, data: dict) -> bool:
    """Add a registered case to the facts; False when it was already counted."""
    cur.execute(
        "INSERT INTO reporting.case_facts (case_no, site_code, window_code, matter_code, "
        "department_code, channel, received_at, month) VALUES (%(case_no)s, %(site)s, %(window)s, "
        "%(matter)s, %(department)s, %(channel)s, %(received_at)s, "
        "date_trunc('month', %(received_at)s::timestamptz AT TIME ZONE 'Asia/Shanghai')::date) "
        "ON CONFLICT (case_no) DO NOTHING",
        data,
    )
    return cur.rowcount == 1


def cases_by_month_and_site(cur, month: str) -> list[dict]:
    cur.execute(
        "SELECT site_code AS site, count(*) AS cases FROM reporting.case_facts "
        "WHERE month = to_date(%s, 'YYYY-MM') GROUP BY site_code ORDER BY site_code",
        (month,),
    )
    return cur.fetchall()
