"""Seeding and the demo logins: loaded only in demo mode, never overwriting a changed password."""

import uuid

import psycopg
import pytest

from services.common.config import REPO_ROOT, load_config
from services.common.passwords import hash_password, verify_password
from services.intake.seed import load_seed, read_seed
from tools import sandbox

SEED_DIR = REPO_ROOT / "deploy" / "seed" / "xuanwu"
DEMO_LOGINS = sorted(s["username"] for s in read_seed(SEED_DIR)["staff"] if s.get("username"))


@pytest.fixture
def empty_database():
    """A migrated database of its own: these tests change logins other tests rely on."""
    url = sandbox.create_database(
        load_config()["DATABASE_URL"], f"bancheng_seed_{uuid.uuid4().hex[:8]}"
    )
    yield url
    sandbox.drop_database(url)


def logins(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT username, password_hash FROM intake.staff WHERE username IS NOT NULL"
        ).fetchall()
    return dict(rows)


def staff_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM intake.staff").fetchone()[0]


def test_outside_demo_mode_the_staff_are_seeded_without_logins(empty_database, monkeypatch):
    monkeypatch.delenv("BANCHENG_DEMO", raising=False)
    counts = load_seed(empty_database, SEED_DIR)
    assert counts["logins"] == 0
    assert logins(empty_database) == {}
    assert staff_count(empty_database) == counts["staff"] > 0


def test_in_demo_mode_the_demo_logins_are_seeded(empty_database, monkeypatch):
    monkeypatch.setenv("BANCHENG_DEMO", "1")
    counts = load_seed(empty_database, SEED_DIR)
    assert sorted(logins(empty_database)) == DEMO_LOGINS
    assert counts["logins"] == len(DEMO_LOGINS) >= 7
    assert verify_password("demo", logins(empty_database)["officer"])


def test_seeding_again_keeps_a_changed_password(empty_database):
    load_seed(empty_database, SEED_DIR, demo_logins=True)
    changed = hash_password("a-password-of-our-own")
    with psycopg.connect(empty_database) as conn:
        conn.execute(
            "UPDATE intake.staff SET password_hash = %s WHERE username = 'officer'", (changed,)
        )
    load_seed(empty_database, SEED_DIR, demo_logins=True)
    after = logins(empty_database)
    assert after["officer"] == changed
    assert verify_password("demo", after["hall.staff"])  # the others as seeded


def test_a_login_made_outside_the_seed_survives_seeding(empty_database):
    load_seed(empty_database, SEED_DIR, demo_logins=False)
    own = hash_password("set-by-the-operator")
    with psycopg.connect(empty_database) as conn:
        conn.execute(
            "UPDATE intake.staff SET username = 'wang.yating', password_hash = %s WHERE id = 'S0001'",
            (own,),
        )
    load_seed(empty_database, SEED_DIR, demo_logins=True)
    assert logins(empty_database)["wang.yating"] == own
    assert "hall.staff" not in logins(empty_database)
