"""A transaction of :class:`services.common.postgres.Database` in as few round trips as it can:
its BEGIN travels with its first statement, its deferred writes with its COMMIT."""

from contextlib import contextmanager

import psycopg
import psycopg.waiting
import pytest
from psycopg.types.json import Jsonb

from services.common.postgres import Database, defer, flush_deferred, read_alone


@pytest.fixture
def table(db):
    with db.connection() as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS public.round_trips (id int PRIMARY KEY, note text, data jsonb)"
        )
        conn.execute("TRUNCATE public.round_trips")
    yield "public.round_trips"
    with db.connection() as conn:
        conn.execute("DROP TABLE public.round_trips")


@contextmanager
def counted_waits(monkeypatch):
    """Count psycopg's waits that had to wait for the server: one per round trip (setting
    ``autocommit`` goes through the same function without waiting for anything)."""
    waits = []
    real = psycopg.waiting.wait

    def counting(gen, *args, **kwargs):
        waited = []

        def spy():
            ready = None
            try:
                while True:
                    waited.append(1)
                    ready = yield gen.send(ready)
            except StopIteration as done:
                waited.pop()
                return done.value

        result = real(spy(), *args, **kwargs)
        if waited:
            waits.append(1)
        return result

    monkeypatch.setattr(psycopg.waiting, "wait", counting)
    yield waits


def ids(db, table) -> list[int]:
    return [row["id"] for row in read_alone(db, f"SELECT id FROM {table} ORDER BY id")]


def test_a_statement_and_a_deferred_write_take_two_round_trips(db, table, monkeypatch):
    with counted_waits(monkeypatch) as waits:
        with Database(db).transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {table} VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (1, "quote ' and 100%", Jsonb({"名": "值"})),
            )
            assert cursor.rowcount == 1  # the statement's, not its BEGIN's
            cursor.defer(f"INSERT INTO {table} VALUES (%s, %s, %s)", (2, None, Jsonb([1])))
    assert len(waits) == 2
    rows = read_alone(db, f"SELECT id, note, data FROM {table} ORDER BY id")
    assert rows == [
        {"id": 1, "note": "quote ' and 100%", "data": {"名": "值"}},
        {"id": 2, "note": None, "data": [1]},
    ]


def test_the_first_statement_returns_its_own_rows(db, table):
    with Database(db).transaction() as cursor:
        rows = cursor.execute("SELECT x FROM generate_series(1, %s) AS x", (3,)).fetchall()
    assert rows == [{"x": 1}, {"x": 2}, {"x": 3}]


def test_deferred_writes_are_rolled_back_with_the_block(db, table):
    with pytest.raises(RuntimeError):
        with Database(db).transaction() as cursor:
            cursor.execute(f"INSERT INTO {table} (id) VALUES (1)")
            cursor.defer(f"INSERT INTO {table} (id) VALUES (2)")
            raise RuntimeError("the use case failed")
    assert ids(db, table) == []


def test_a_failing_deferred_write_fails_the_whole_transaction(db, table):
    with pytest.raises(psycopg.errors.UniqueViolation):
        with Database(db).transaction() as cursor:
            cursor.execute(f"INSERT INTO {table} (id) VALUES (1)")
            cursor.defer(f"INSERT INTO {table} (id) VALUES (1)")
    assert ids(db, table) == []
    # the connection went back to the pool usable, and not in autocommit
    with db.connection() as conn:
        assert conn.autocommit is False
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}


def test_flushed_writes_are_visible_inside_the_transaction(db, table):
    with Database(db).transaction() as cursor:
        cursor.execute(f"INSERT INTO {table} (id) VALUES (1)")
        defer(cursor, f"INSERT INTO {table} (id) VALUES (%s)", (2,))
        flush_deferred(cursor)
        seen = cursor.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]
    assert seen == 2


def test_copy_and_executemany_first_still_run_inside_one_transaction(db, table):
    with pytest.raises(RuntimeError):
        with Database(db).transaction() as cursor:
            with cursor.copy(f"COPY {table} (id) FROM STDIN") as copy:
                copy.write_row((1,))
            cursor.executemany(f"INSERT INTO {table} (id) VALUES (%s)", [(2,), (3,)])
            raise RuntimeError("rolled back")
    assert ids(db, table) == []
    with Database(db).transaction() as cursor:
        cursor.executemany(f"INSERT INTO {table} (id) VALUES (%s)", [(2,), (3,)])
    assert ids(db, table) == [2, 3]


def test_defer_outside_a_database_transaction_runs_at_once(db, table):
    with db.connection() as conn, conn.cursor() as cursor:
        defer(cursor, f"INSERT INTO {table} (id) VALUES (%s)", (7,))
        assert cursor.rowcount == 1
    assert ids(db, table) == [7]


def test_a_transaction_of_deferred_writes_only_commits_them(db, table, monkeypatch):
    with counted_waits(monkeypatch) as waits:
        with Database(db).transaction() as cursor:
            cursor.defer(f"INSERT INTO {table} (id) VALUES (%s)", (1,))
            cursor.defer(f"INSERT INTO {table} (id) VALUES (%s)", (2,))
    assert len(waits) == 1  # BEGIN, both and COMMIT in one text
    assert ids(db, table) == [1, 2]
