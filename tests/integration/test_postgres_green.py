"""psycopg under eventlet: slow queries of different greenthreads must overlap."""

import time

import eventlet


def test_four_one_second_queries_overlap(db):
    def sleep_in_database():
        with db.connection() as conn:
            conn.execute("SELECT pg_sleep(1)")

    started = time.perf_counter()
    pile = eventlet.GreenPile()
    for _ in range(4):
        pile.spawn(sleep_in_database)
    list(pile)
    elapsed = time.perf_counter() - started
    # Serialised they take 4 s; overlapping, a little over 1 s.
    assert elapsed < 1.9, f"4 x pg_sleep(1) took {elapsed:.2f}s: queries did not overlap"


def test_other_greenthreads_run_while_a_query_waits(db):
    ticks = []

    def ticker():
        for _ in range(5):
            ticks.append(time.perf_counter())
            eventlet.sleep(0.1)

    thread = eventlet.spawn(ticker)
    with db.connection() as conn:
        conn.execute("SELECT pg_sleep(0.6)")
    query_done = time.perf_counter()
    thread.wait()
    # a blocking wait would let the ticker run only after the query: none before query_done
    assert sum(tick < query_done for tick in ticks) >= 4
