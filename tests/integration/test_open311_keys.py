"""Open311 keys in intake's database: the demo key only in demo mode, each site's Open311
receiver from the seed, and the operator's keys (add, list, revoke) kept as hashes only."""

import uuid

import psycopg
import pytest

from services.common.config import REPO_ROOT, load_config
from services.common.errors import InvalidField
from services.intake import integrations, open311_keys
from services.intake.seed import load_seed, read_seed
from tools import sandbox

SEED_DIR = REPO_ROOT / "deploy" / "seed" / "xuanwu"
SITES = sorted(site["code"] for site in read_seed(SEED_DIR)["sites"])


@pytest.fixture
def empty_database():
    url = sandbox.create_database(
        load_config()["DATABASE_URL"], f"bancheng_open311_{uuid.uuid4().hex[:8]}"
    )
    yield url
    sandbox.drop_database(url)


def rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_no_open311_key_outside_demo_mode(empty_database):
    load_seed(empty_database, SEED_DIR, demo_logins=False)
    assert rows(empty_database, "SELECT count(*) FROM intake.integrations") == [(0,)]


def test_demo_mode_seeds_the_demo_key_for_every_site_once(empty_database):
    for _ in range(2):  # seeding again changes nothing
        load_seed(empty_database, SEED_DIR, demo_logins=True)
    [(name, hashed, sites)] = rows(
        empty_database, "SELECT system_name, key_hash, jurisdictions FROM intake.integrations"
    )
    assert name == integrations.DEMO_SYSTEM and sorted(sites) == SITES
    assert hashed == integrations.key_hash("demo-open311-key")


def test_every_site_has_an_open311_receiver_of_its_own(empty_database):
    load_seed(empty_database, SEED_DIR, demo_logins=False)
    receivers = rows(
        empty_database,
        "SELECT s.code, r.site_code FROM intake.sites s "
        "LEFT JOIN intake.staff r ON r.id = s.open311_receiver ORDER BY s.code",
    )
    assert [code for code, _ in receivers] == SITES
    assert all(code == receiver_site for code, receiver_site in receivers), receivers


def test_operator_keys_are_kept_hashed_listed_and_revoked(empty_database):
    load_seed(empty_database, SEED_DIR, demo_logins=False)
    row, key = open311_keys.add_key(empty_database, "南京12345平台", ["XJK", "HALL"])
    assert row["jurisdictions"] == ["HALL", "XJK"]
    stored = rows(empty_database, "SELECT key_hash, key_hint FROM intake.integrations")
    assert stored == [(integrations.key_hash(key), key[:9])]
    assert key not in repr(rows(empty_database, "SELECT * FROM intake.integrations"))
    everywhere, _ = open311_keys.add_key(empty_database, "玄武 App", None)
    assert sorted(everywhere["jurisdictions"]) == SITES
    with pytest.raises(InvalidField):
        open311_keys.add_key(empty_database, "x", ["NOWHERE"])
    listed = open311_keys.list_keys(empty_database)
    assert [(r["id"], r["requests"], r["revoked_at"]) for r in listed] == [
        (row["id"], 0, None),
        (everywhere["id"], 0, None),
    ]
    revoked = open311_keys.revoke_key(empty_database, row["id"])
    assert revoked["revoked_at"] is not None
    assert open311_keys.revoke_key(empty_database, 999999) is None
