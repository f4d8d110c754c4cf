"""Rating ingestion through the batch path, beside raw COPY of the same rows.

The 好差评 feed arrives as batches of ratings over HTTP (``POST /api/v1/feedback/ratings:batch``)
through the front door to intake, which checks every row, stores the good ones with COPY and
opens a case for every bad one. The baseline is what the database alone needs: the same rows,
read back from ``intake.ratings``, COPY'd into an identical table in the same run.
"""

import io
import random
import threading
import time

import psycopg
import requests
import yaml

from bench.harness import SEED_DIR, Row, concurrently, cpu_by_process, running_system

LEVELS = (5,) * 60 + (4,) * 25 + (3,) * 10 + (2,) * 3 + (1,) * 2  # a realistic mix: 5 % bad
SMALL = {"batches": 3, "batch_size": 200, "clients": 2}


def rating_batches(batches: int, batch_size: int, seed: int) -> list[list[dict]]:
    """Ratings about real sites, windows, matters and staff of the seeded district."""
    rng = random.Random(seed)
    sites = yaml.safe_load((SEED_DIR / "sites.yaml").read_text(encoding="utf-8"))
    matters = yaml.safe_load((SEED_DIR / "matters.yaml").read_text(encoding="utf-8"))
    staff = yaml.safe_load((SEED_DIR / "staff.yaml").read_text(encoding="utf-8"))
    services = [
        (
            site["code"],
            window["code"],
            matter["code"],
            [s["id"] for s in staff if s.get("site") == site["code"]],
        )
        for site in sites
        for window in site["windows"]
        for matter in matters
        if site["code"] in matter["sites"]
    ]
    result = []
    for _ in range(batches):
        batch = []
        for _ in range(batch_size):
            site, window, matter, people = rng.choice(services)
            batch.append(
                {
                    "channel": "rating",
                    "site": site,
                    "window": window,
                    "matter": matter,
                    "staff": rng.choice(people),
                    "level": rng.choice(LEVELS),
                    "text": "办事体验评价",
                }
            )
        result.append(batch)
    return result


def post_batches(
    url: str, token: str, batches: list[list[dict]], clients: int
) -> tuple[float, int, int]:
    """Send every batch, ``clients`` at a time; returns seconds, ratings accepted, cases opened."""
    queue = list(batches)
    lock = threading.Lock()
    totals = {"accepted": 0, "cases": 0, "errors": 0}

    def client():
        session = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                batch = queue.pop()
            response = session.post(
                url,
                json={"ratings": batch},
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )
            with lock:
                if response.status_code in (200, 207):
                    body = response.json()
                    totals["accepted"] += body["accepted"]
                    totals["cases"] += len(body["cases_opened"])
                else:
                    totals["errors"] += 1

    seconds = concurrently(client, clients)
    assert totals["errors"] == 0, totals
    return seconds, totals["accepted"], totals["cases"]


def raw_copy_seconds(database_url: str) -> tuple[float, int]:
    """COPY the stored ratings again into an identical table: the database's own cost."""
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        buffer = io.BytesIO()
        with cur.copy("COPY intake.ratings TO STDOUT (FORMAT binary)") as copy:
            for chunk in copy:
                buffer.write(chunk)
        cur.execute("CREATE TABLE intake.ratings_baseline (LIKE intake.ratings INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with cur.copy("COPY intake.ratings_baseline FROM STDIN (FORMAT binary)") as copy:
            copy.write(buffer.getvalue())
        conn.commit()
        seconds = time.perf_counter() - started
        count = cur.execute("SELECT count(*) FROM intake.ratings_baseline").fetchone()[0]
    return seconds, count


def run(
    batches: int = 40,
    batch_size: int = 5_000,
    clients: int = 2,
    seed: int = 20261129,
    base_port: int | None = None,
) -> list[Row]:
    payload = rating_batches(batches, batch_size, seed)
    with running_system("ratings", base_port=base_port) as system:
        url, token = f"{system.api}/feedback/ratings:batch", system.login("operator")
        post_batches(url, token, payload[:1], 1)  # warm up
        names = [process.name for process in system.processes]
        cpu_before = cpu_by_process(system, names)
        seconds, accepted, cases = post_batches(url, token, payload[1:], clients)
        cpu = {
            name: round(used - cpu_before[name], 2)
            for name, used in cpu_by_process(system, names).items()
        }
        system.stop()  # the database alone, for the baseline
        copy_seconds, copied = raw_copy_seconds(system.database_url)
    sent = sum(len(batch) for batch in payload[1:])
    assert accepted == sent, (accepted, sent)
    rate, copy_rate = accepted / seconds, copied / copy_seconds
    return [
        Row(
            "ratings",
            f"batch path, {batch_size:,}/batch ({'ratings/s'})",
            rate,
            "1/s",
            baseline=copy_rate,
            baseline_name="raw COPY of the same rows",
            target="≥ 20,000/s",
            met=rate >= 20_000,
            notes={
                "ratings": accepted,
                "bad_ratings_opened_cases": cases,
                "clients": clients,
                "seconds": seconds,
                "cpu_seconds_while_posting": cpu,
            },
        ),
        Row(
            "ratings",
            "CPU ms per 1,000 ratings (services)",
            1000 * 1000 * sum(cpu.values()) / max(1, accepted),
            "ms",
            notes={
                "while": "the batches were posted (consumers of the bad ratings' cases included)",
                "excludes": "PostgreSQL, RabbitMQ",
            },
        ),
    ]
