"""Key rotation for ID numbers: ``python -m services.cli reencrypt`` moves every stored token to
the current key in batches, keeps each readable and its lookup hash, and is idempotent."""

import os
import subprocess
import sys
import uuid

import psycopg
import pytest

from services.common.config import REPO_ROOT, load_config
from services.intake.personal_data import IdNumberCipher
from services.intake.seed import load_seed
from tests.unit.intake.test_personal_data import legacy_token, make_resident_id
from tools import sandbox

FIRST = "first-id-key-of-our-own01"
SECOND = "second-id-key-of-our-own2"
ROTATED = f"k2:{SECOND},k1:{FIRST}"
OWN = {"TOKEN_SECRET": "token-secret-of-our-own-0001", "AUDIT_KEY": "audit-key-of-our-own-000001"}
NUMBERS = [make_resident_id("320102", "19800101", f"{n:03d}") for n in range(7)]


@pytest.fixture
def database():
    """Seven cases: two sealed before key ids, four under k1, one already under k2."""
    url = sandbox.create_database(
        load_config()["DATABASE_URL"], f"bancheng_reencrypt_{uuid.uuid4().hex[:8]}"
    )
    load_seed(url, REPO_ROOT / "deploy" / "seed" / "xuanwu", demo_logins=False)
    old, new = IdNumberCipher(FIRST), IdNumberCipher([("k2", SECOND), ("k1", FIRST)])
    tokens = [legacy_token(FIRST, n) for n in NUMBERS[:2]]
    tokens += [old.encrypt(n) for n in NUMBERS[2:6]] + [new.encrypt(NUMBERS[6])]
    with psycopg.connect(url) as conn:
        for index, (number, token) in enumerate(zip(NUMBERS, tokens, strict=True)):
            conn.execute(
                "INSERT INTO intake.cases (case_no, site_code, window_code, matter_code, "
                "department_code, channel, applicant_kind, applicant_name, id_number_cipher, "
                "id_number_hash, description, first_receiver, received_at, registered_by) "
                "VALUES (%s, 'HALL', 'ESC', 'M001', 'SCJ', 'window', 'person', '张三', %s, %s, "
                "'住所证明', 'S0001', now(), 'S0001')",
                (f"XW20261201{index:04d}", token, old.lookup_hash(number)),
            )
        # a case without an ID number is left alone
        conn.execute(
            "INSERT INTO intake.cases (case_no, site_code, window_code, matter_code, "
            "department_code, channel, applicant_kind, applicant_name, description, "
            "first_receiver, received_at, registered_by) VALUES ('XW202612019999', 'HALL', "
            "'ESC', 'M001', 'SCJ', 'hotline', 'person', '李四', '投诉', 'S0001', now(), 'S0001')"
        )
    yield url
    sandbox.drop_database(url)


def reencrypt(url: str, keys: str, *arguments: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "BANCHENG_DEMO"}
    env |= {**OWN, "DATABASE_URL": url, "ID_NUMBER_KEYS": keys, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "reencrypt", *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def stored(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT case_no, id_number_cipher, id_number_hash FROM intake.cases "
            "WHERE id_number_cipher IS NOT NULL ORDER BY case_no"
        ).fetchall()


def test_every_token_moves_to_the_current_key_and_reads_back(database):
    finished = reencrypt(database, ROTATED, "--batch-size", "3")
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == [
        "re-encrypted under k2: 6 (6 from k1)",
        "already under k2: 1",
        "batches: 3",
    ]
    # the retired key is no longer needed: k2 alone (and k1's lookup key) reads everything
    after = IdNumberCipher([("k2", SECOND)], lookup_secret=FIRST)
    rows = stored(database)
    assert [IdNumberCipher.key_id(token) for _, token, _ in rows] == ["k2"] * 7
    assert [after.decrypt(token) for _, token, _ in rows] == NUMBERS
    assert [digest for _, _, digest in rows] == [after.lookup_hash(n) for n in NUMBERS]


def test_running_it_again_changes_nothing(database):
    assert reencrypt(database, ROTATED).returncode == 0
    before = stored(database)
    again = reencrypt(database, ROTATED)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[:2] == [
        "re-encrypted under k2: 0 (none)",
        "already under k2: 7",
    ]
    assert stored(database) == before


def test_a_development_key_is_refused_before_anything_is_touched(database):
    before = stored(database)
    finished = reencrypt(database, "k2:demo-id-number-key-change-me,k1:" + FIRST)
    assert finished.returncode == 2
    assert "ID_NUMBER_KEYS[k2] is a development value" in finished.stderr
    assert stored(database) == before
