"""The audit trail on real PostgreSQL: append-only by the database, chained, verifiable."""

import os
import subprocess
import sys
from datetime import UTC, datetime

import eventlet
import psycopg
import pytest

from services.accountability import audit, store
from services.common.config import REPO_ROOT

pytestmark = pytest.mark.integration


def append_some(db, n: int, tag: str) -> list[int]:
    seqs = []
    for i in range(n):
        with db.connection() as conn, conn.transaction():
            seqs.append(
                store.append_audit_entry(
                    conn.cursor(),
                    action="finding",
                    actor="S0006",
                    role="supervisor",
                    at=datetime.now(UTC),
                    content={"tag": tag, "i": i, "finding": "态度生硬"},
                    case_no=f"XW-AUDIT-{tag}",
                )
            )
    return seqs


def run_verifier(database_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.accountability.audit", "verify"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_database_refuses_update_delete_and_truncate(db):
    [seq] = append_some(db, 1, "refuse")
    for statement in (
        "UPDATE accountability.audit_log SET actor = 'S0001' WHERE seq = %s",
        "DELETE FROM accountability.audit_log WHERE seq = %s",
    ):
        with db.connection() as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement, (seq,))
    with db.connection() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("TRUNCATE accountability.audit_log")
    with db.connection() as conn:
        assert conn.execute(
            "SELECT actor FROM accountability.audit_log WHERE seq = %s", (seq,)
        ).fetchone() == {"actor": "S0006"}


def test_concurrent_appends_keep_one_linear_chain(db, database_url):
    pool = eventlet.GreenPool(8)
    results = list(pool.imap(lambda k: append_some(db, 5, f"c{k}"), range(8)))
    seqs = sorted(s for batch in results for s in batch)
    assert len(set(seqs)) == 40
    count, broken = audit.verify(database_url)
    assert broken is None and count >= 40


def test_the_verifier_names_the_first_edited_entry(db, database_url):
    seqs = append_some(db, 3, "edit")
    target = seqs[1]
    assert run_verifier(database_url).returncode == 0

    # a database superuser gets past the trigger and rewrites what the supervisor found
    with psycopg.connect(database_url, autocommit=True) as conn:
        original = conn.execute(
            "SELECT content FROM accountability.audit_log WHERE seq = %s", (target,)
        ).fetchone()[0]
        try:
            conn.execute("ALTER TABLE accountability.audit_log DISABLE TRIGGER USER")
            conn.execute(
                "UPDATE accountability.audit_log SET content = replace(content, '态度生硬', '无过错') "
                "WHERE seq = %s",
                (target,),
            )
            conn.execute("ALTER TABLE accountability.audit_log ENABLE TRIGGER USER")
            result = run_verifier(database_url)
        finally:  # put the row back so the session's chain verifies for later tests
            conn.execute("ALTER TABLE accountability.audit_log DISABLE TRIGGER USER")
            conn.execute(
                "UPDATE accountability.audit_log SET content = %s WHERE seq = %s",
                (original, target),
            )
            conn.execute("ALTER TABLE accountability.audit_log ENABLE TRIGGER USER")

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"BROKEN at entry {target}:" in result.stdout
    assert run_verifier(database_url).returncode == 0
