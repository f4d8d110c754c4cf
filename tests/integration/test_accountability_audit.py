"""The audit trail on real PostgreSQL: append-only by the database and by the service role,
MAC'd with a key the database does not hold, checkpointed outside it; ``verify`` (the command
an auditor runs) names an edited, a deleted, a forged and a cut entry.

Tampering happens in a scratch database of each test's own (the session's chain is shared
with every other test's services), as a database superuser would do it: past the trigger.
"""

import hashlib
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import eventlet
import psycopg
import pytest
from psycopg.rows import dict_row

from services.accountability import audit, chain, store
from services.accountability.checkpoints import CheckpointJournal
from services.accountability.dependencies import DEFAULT_SERVICE_ROLE, ServiceRoleDatabase
from services.accountability.service import AccountabilityService
from services.common.config import REPO_ROOT
from tests.conftest import BASE_CONFIG
from tests.integration.helpers import running, wait_for
from tools import sandbox

pytestmark = pytest.mark.integration

SCRATCH_SECRET = "scratch-audit-key-" + uuid.uuid4().hex
SCRATCH_KEYS = chain.audit_keys([("t1", SCRATCH_SECRET)])


def append_some(conn_source, n: int, tag: str, keys) -> list[int]:
    """``n`` entries appended as the service appends them, one transaction each."""
    seqs = []
    for i in range(n):
        with conn_source.connection() as conn, conn.transaction():
            seqs.append(
                store.append_audit_entry(
                    conn.cursor(),
                    keys=keys,
                    action="finding",
                    actor="S0006",
                    role="supervisor",
                    at=datetime.now(UTC),
                    content={"tag": tag, "i": i, "finding": "态度生硬"},
                    case_no=f"XW-AUDIT-{tag}",
                )
            )
    return seqs


class Connections:
    """``connection()`` as the pool has it, on plain connections (for a scratch database)."""

    def __init__(self, url: str):
        self.url = url

    def connection(self):
        return psycopg.connect(self.url, row_factory=dict_row)


@pytest.fixture
def scratch(request):
    """A migrated database of this test's own, dropped after it."""
    name = f"bancheng_audit_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = sandbox.create_database(BASE_CONFIG["DATABASE_URL"], name)
    yield Connections(url)
    sandbox.drop_database(url)


@pytest.fixture
def checkpoints(tmp_path):
    return tmp_path / "audit-checkpoints.log"


def run_verifier(
    database_url: str, checkpoint_file, keys_setting: str = f"t1:{SCRATCH_SECRET}"
) -> subprocess.CompletedProcess:
    """``python -m services.accountability.audit verify`` with ``AUDIT_KEYS`` (by default the
    scratch key as key t1), as an auditor runs it."""
    return subprocess.run(
        [sys.executable, "-m", "services.accountability.audit", "verify"],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "AUDIT_KEYS": keys_setting,
            "AUDIT_CHECKPOINT_FILE": str(checkpoint_file),
            "PYTHONWARNINGS": "ignore",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def as_superuser(url: str, *statements) -> None:
    """What a database superuser can do to the trail: disable its triggers and rewrite it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE accountability.audit_log DISABLE TRIGGER USER")
        for statement, params in statements:
            conn.execute(statement, params)
        conn.execute("ALTER TABLE accountability.audit_log ENABLE TRIGGER USER")


def checkpoint_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- the database's own refusals -----------------------------------------------------------


def test_the_database_refuses_update_delete_and_truncate(db):
    keys = audit.keys_from(BASE_CONFIG)
    [seq] = append_some(db, 1, "refuse", keys)
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
            "SELECT actor, key_id FROM accountability.audit_log WHERE seq = %s", (seq,)
        ).fetchone() == {"actor": "S0006", "key_id": "k1"}


def test_the_service_role_reads_and_appends_but_cannot_change_or_unprotect_the_trail(db):
    keys = audit.keys_from(BASE_CONFIG)
    [seq] = append_some(db, 1, "role", keys)
    refused = [
        ("UPDATE accountability.audit_log SET actor = 'S0001' WHERE seq = %s", "permission denied"),
        ("DELETE FROM accountability.audit_log WHERE seq = %s", "permission denied"),
        ("TRUNCATE accountability.audit_log", "permission denied"),
        ("ALTER TABLE accountability.audit_log DISABLE TRIGGER USER", "must be owner"),
        ("DROP TRIGGER audit_log_no_update_or_delete ON accountability.audit_log", "must be owner"),
        ("ALTER TABLE accountability.audit_log OWNER TO bancheng_service", "must be owner"),
    ]
    with db.connection() as conn, conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE bancheng_service")
        assert conn.execute("SELECT current_user AS who").fetchone() == {"who": "bancheng_service"}
        assert conn.execute(
            "SELECT actor FROM accountability.audit_log WHERE seq = %s", (seq,)
        ).fetchone() == {"actor": "S0006"}
        appended = store.append_audit_entry(
            conn.cursor(),
            keys=keys,
            action="finding",
            actor="S0006",
            role="supervisor",
            at=datetime.now(UTC),
            content={"as": "bancheng_service"},
        )
        assert appended > seq
        for statement, message in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=message):
                with conn.transaction():  # a savepoint: the next statement still runs
                    conn.execute(statement, (seq,) if "%s" in statement else None)
    # and PUBLIC was never given what the trigger guards
    with db.connection() as conn:
        row = conn.execute(
            "SELECT has_table_privilege('public', 'accountability.audit_log', 'UPDATE') AS u, "
            "has_table_privilege('public', 'accountability.audit_log', 'DELETE') AS d"
        ).fetchone()
        assert row == {"u": False, "d": False}


def test_the_services_transactions_run_as_the_service_role(db):
    """What accountability's unit of work runs (ACCOUNTABILITY_DB_ROLE) cannot rewrite the
    trail, though the pool logs in as its owner."""
    keys = audit.keys_from(BASE_CONFIG)
    [seq] = append_some(db, 1, "service-role", keys)
    database = ServiceRoleDatabase(db, DEFAULT_SERVICE_ROLE)
    with database.transaction() as cursor:
        cursor.execute("SELECT current_user AS who, session_user AS login")
        roles = cursor.fetchone()
        assert roles["who"] == "bancheng_service" and roles["login"] != roles["who"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        with database.transaction() as cursor:
            cursor.execute(
                "UPDATE accountability.audit_log SET actor = 'S0001' WHERE seq = %s", (seq,)
            )


def test_a_consumed_events_first_statement_runs_as_the_service_role(db):
    """The statement that records a consumed event's id (the transaction's first) sets the
    role first, as SET LOCAL ROLE does: the rest of its transaction is the service role's,
    and the next transaction is the login role's again."""
    database = ServiceRoleDatabase(db, DEFAULT_SERVICE_ROLE)
    event = {"id": str(uuid.uuid4()), "type": "case_registered"}
    with database.handling_once("accountability", event) as cursor:
        assert cursor is not None
        cursor.execute("SELECT current_user AS who")
        assert cursor.fetchone() == {"who": "bancheng_service"}
    with database.handling_once("accountability", event) as cursor:
        assert cursor is None  # a redelivery
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        with database.handling_once("accountability", {**event, "id": str(uuid.uuid4())}) as cur:
            cur.execute("DELETE FROM accountability.audit_log WHERE seq = 1")
    with db.connection() as conn:
        assert conn.execute("SELECT current_user AS who").fetchone()["who"] != "bancheng_service"


def test_appends_of_one_transaction_read_the_chain_once_and_stay_linear(
    db, database_url, checkpoints
):
    """Consumed events and decisions appending several entries per transaction, concurrently:
    each transaction locks and reads the chain's tail once (the first append, or the statement
    that records the event), the later appends link to its own, and the chain stays one line."""
    keys = audit.keys_from(BASE_CONFIG)
    database = ServiceRoleDatabase(db, DEFAULT_SERVICE_ROLE)

    def entry(tag, i):
        return {
            "action": "finding",
            "actor": "S0006",
            "role": "supervisor",
            "at": datetime.now(UTC),
            "content": {"tag": tag, "i": i},
        }

    def consume(k):
        seqs = []
        for _ in range(3):
            event = {"id": str(uuid.uuid4()), "type": "case_registered"}
            with database.handling_once("accountability", event) as cursor:
                for j in range(2):
                    seqs.append(store.append_audit_entry(cursor, keys=keys, **entry(f"e{k}", j)))
            with database.transaction() as cursor:
                for j in range(3):
                    seqs.append(store.append_audit_entry(cursor, keys=keys, **entry(f"d{k}", j)))
        return seqs

    results = list(eventlet.GreenPool(6).imap(consume, range(6)))
    seqs = sorted(s for batch in results for s in batch)
    assert len(set(seqs)) == 6 * 3 * 5
    for batch in results:  # a transaction's entries are consecutive
        for start in range(0, len(batch), 5):
            assert batch[start : start + 2] == [batch[start], batch[start] + 1]
            assert batch[start + 2 : start + 5] == list(
                range(batch[start + 2], batch[start + 2] + 3)
            )
    trail = audit.AuditTrail(keys, CheckpointJournal(checkpoints, keys), None)
    result = audit.verify(database_url, trail)
    assert result.ok, audit.describe(result)


def test_concurrent_appends_keep_one_linear_chain(db, database_url, checkpoints):
    keys = audit.keys_from(BASE_CONFIG)
    pool = eventlet.GreenPool(8)
    results = list(pool.imap(lambda k: append_some(db, 5, f"c{k}", keys), range(8)))
    seqs = sorted(s for batch in results for s in batch)
    assert len(set(seqs)) == 40
    trail = audit.AuditTrail(keys, CheckpointJournal(checkpoints, keys), None)
    result = audit.verify(database_url, trail)
    assert result.ok, audit.describe(result)
    assert result.report.count >= 40 and result.written["seq"] == result.report.count


# -- tampering, each named by verify -----------------------------------------------------


def test_an_edited_entry_is_named_by_the_verifier(scratch, checkpoints):
    seqs = append_some(scratch, 3, "edit", SCRATCH_KEYS)
    first = run_verifier(scratch.url, checkpoints)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "audit chain OK: 3 entries verified" in first.stdout

    as_superuser(
        scratch.url,
        (
            "UPDATE accountability.audit_log SET content = replace(content, '态度生硬', '无过错') "
            "WHERE seq = %s",
            (seqs[1],),
        ),
    )
    result = run_verifier(scratch.url, checkpoints)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"BROKEN at entry {seqs[1]}: 内容与 MAC 不符（本条被改动）" in result.stdout


def test_an_entry_forged_with_a_recomputed_plain_sha256_is_named(scratch, checkpoints):
    """The old, unkeyed attack: edit an entry, then recompute sha256 for it and every later
    one so that each links again — the MAC key is not in the database, so the forgery shows."""
    seqs = append_some(scratch, 4, "forge", SCRATCH_KEYS)
    with psycopg.connect(scratch.url, row_factory=dict_row) as conn:
        rows = conn.execute(
            f"SELECT {store.AUDIT_COLUMNS} FROM accountability.audit_log WHERE seq >= %s "
            "ORDER BY seq",
            (seqs[1],),
        ).fetchall()
    previous, statements = rows[0]["prev_hash"], []
    rows[0]["content"] = rows[0]["content"].replace("态度生硬", "无过错")
    for row in rows:
        digest = hashlib.sha256(
            (previous + audit.entry_of(row).canonical()).encode("utf-8")
        ).hexdigest()
        statements.append(
            (
                "UPDATE accountability.audit_log SET content = %s, prev_hash = %s, hash = %s "
                "WHERE seq = %s",
                (row["content"], previous, digest, row["seq"]),
            )
        )
        previous = digest
    as_superuser(scratch.url, *statements)

    result = run_verifier(scratch.url, checkpoints)
    assert result.returncode == 1, result.stdout
    assert f"BROKEN at entry {seqs[1]}: 内容与 MAC 不符（本条被改动）" in result.stdout


def test_a_deleted_entry_is_named_by_the_verifier(scratch, checkpoints):
    seqs = append_some(scratch, 4, "delete", SCRATCH_KEYS)
    as_superuser(scratch.url, ("DELETE FROM accountability.audit_log WHERE seq = %s", (seqs[1],)))
    result = run_verifier(scratch.url, checkpoints)
    assert result.returncode == 1, result.stdout
    assert f"BROKEN at entry {seqs[1]}: 第 {seqs[1]} 条缺失（下一条是 {seqs[2]}）" in result.stdout


def test_a_cut_tail_is_named_against_the_checkpoint_outside_the_database(scratch, checkpoints):
    seqs = append_some(scratch, 5, "tail", SCRATCH_KEYS)
    assert run_verifier(scratch.url, checkpoints).returncode == 0  # checkpoints entry 5
    # without the checkpoint file the cut would pass: what is left still links
    as_superuser(scratch.url, ("DELETE FROM accountability.audit_log WHERE seq >= %s", (seqs[3],)))
    result = run_verifier(scratch.url, checkpoints)
    assert result.returncode == 1, result.stdout
    assert (
        f"BROKEN at entry {seqs[3]}: 尾部被截断：检查点记到第 {seqs[4]} 条，数据库只剩 3 条"
        in result.stdout
    )
    # the whole trail gone is a cut tail too
    as_superuser(scratch.url, ("DELETE FROM accountability.audit_log", ()))
    assert "尾部被截断" in run_verifier(scratch.url, checkpoints).stdout


def test_a_rotated_key_keeps_old_entries_verifiable(scratch, checkpoints):
    """Entries under t1, then the key rotates to t2 (t1 kept as retired): both verify; without
    t1 the verifier names the first entry it cannot check."""
    append_some(scratch, 2, "before", SCRATCH_KEYS)
    second = "second-audit-key-" + uuid.uuid4().hex
    rotated = chain.audit_keys([("t2", second), ("t1", SCRATCH_SECRET)])
    append_some(scratch, 2, "after", rotated)
    with psycopg.connect(scratch.url) as conn:
        ids = conn.execute("SELECT key_id FROM accountability.audit_log ORDER BY seq").fetchall()
    assert [key_id for (key_id,) in ids] == ["t1", "t1", "t2", "t2"]

    both = run_verifier(scratch.url, checkpoints, f"t2:{second},t1:{SCRATCH_SECRET}")
    assert both.returncode == 0 and "4 entries verified" in both.stdout, both.stdout + both.stderr
    [record] = checkpoint_lines(checkpoints)
    assert record["key_id"] == "t2"  # checkpoints are signed with the current key
    only_new = run_verifier(scratch.url, checkpoints, f"t2:{second}")
    assert only_new.returncode == 1
    assert "checkpoint file line 1" not in only_new.stdout  # t2 signed it
    assert "BROKEN at entry 1: 密钥 t1 未知，无法核验" in only_new.stdout


# -- the checkpoint file -------------------------------------------------------------------


def test_verify_writes_a_signed_checkpoint_and_refuses_a_changed_one(scratch, checkpoints):
    append_some(scratch, 2, "checkpoint", SCRATCH_KEYS)
    assert run_verifier(scratch.url, checkpoints).returncode == 0
    [record] = checkpoint_lines(checkpoints)
    with psycopg.connect(scratch.url) as conn:
        database, head = conn.execute(
            "SELECT current_database() || '/' || d.oid, "
            "(SELECT hash FROM accountability.audit_log ORDER BY seq DESC LIMIT 1) "
            "FROM pg_database d WHERE d.datname = current_database()"
        ).fetchone()
    assert (record["database"], record["seq"], record["head"]) == (database, 2, head)
    assert record["key_id"] == "t1" and chain.checkpoint_problem(SCRATCH_KEYS, record) is None

    # nothing new: verifying again writes no second line for the same head
    assert run_verifier(scratch.url, checkpoints).returncode == 0
    assert len(checkpoint_lines(checkpoints)) == 1

    # someone "fixes" the checkpoint to hide a cut: its signature no longer holds
    checkpoints.write_text(json.dumps({**record, "seq": 1}) + "\n")
    result = run_verifier(scratch.url, checkpoints)
    assert result.returncode == 1
    assert "checkpoint file line 1: 签名不符（检查点被伪造或改动）" in result.stdout


def test_the_service_checkpoints_the_head_by_itself(service_config, db, tmp_path):
    path = tmp_path / "service-checkpoints.log"
    config = {
        **service_config,
        "BANCHENG": {
            **service_config["BANCHENG"],
            "AUDIT_CHECKPOINT_FILE": str(path),
            "AUDIT_CHECKPOINT_ENTRIES": 1,
        },
    }
    keys = audit.keys_from(config)
    with running(config, AccountabilityService):
        [seq] = append_some(db, 1, "service", keys)
        records = wait_for(
            lambda: [r for r in checkpoint_lines(path) if r["seq"] >= seq] if path.exists() else [],
            timeout=20,
        )
    assert chain.checkpoint_problem(keys, records[0]) is None
