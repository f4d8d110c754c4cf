"""Loading a district's reference data (deploy/seed/<district>/*.yaml) into intake's tables.

Seeding is an upsert: running it twice changes nothing, and editing a name in the YAML and
seeding again updates it. Passwords arrive already hashed.

The logins in a seed directory are demo logins: the directory is in the repository, so
anyone can read their hashes (and the README their password). They are loaded only in demo
mode (``BANCHENG_DEMO=1``, services.common.secrets); otherwise the staff are loaded without
a username or password. Either way a login that already exists keeps its password hash:
seeding inserts what is missing and never puts back a password that was changed. Demo mode
also seeds one Open311 key, ``demo-open311-key``, for every site of the seed (never outside it).
"""

from pathlib import Path

import psycopg
import yaml

from services.common import secrets
from services.intake import integrations, store


def read_seed(directory: Path | str) -> dict:
    directory = Path(directory)
    return {
        name: yaml.safe_load((directory / f"{name}.yaml").read_text(encoding="utf-8"))
        for name in ("district", "sites", "departments", "matters", "staff")
    }


def without_logins(seed: dict) -> dict:
    """``seed`` with every staff member's username and password hash removed."""
    staff = [{**member, "username": None, "password_hash": None} for member in seed["staff"]]
    return {**seed, "staff": staff}


def load_seed(
    database_url: str, directory: Path | str, demo_logins: bool | None = None
) -> dict[str, int]:
    """Upsert the district in ``directory``; returns how many rows of each kind it holds.

    ``demo_logins``: whether the seed's logins are loaded too (default: in demo mode only);
    ``logins`` in the result counts those loaded.
    """
    if demo_logins is None:
        demo_logins = secrets.demo_mode()
    seed = read_seed(directory)
    if not demo_logins:
        seed = without_logins(seed)
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        store.upsert_reference_data(cur, seed)
        if demo_logins:
            _seed_demo_integration(cur, seed)
    return {
        "open311_keys": 1 if demo_logins else 0,
        "sites": len(seed["sites"]),
        "windows": sum(len(s["windows"]) for s in seed["sites"]),
        "departments": len(seed["departments"]),
        "matters": len(seed["matters"]),
        "staff": len(seed["staff"]),
        "logins": sum(1 for s in seed["staff"] if s.get("password_hash")),
    }


def _seed_demo_integration(cur, seed: dict) -> None:
    """Demo mode's Open311 key (``demo-open311-key``, in the README like the demo password),
    allowed to file for every site of the seed. Never outside demo mode: anyone can read it."""
    key = integrations.DEMO_KEY
    store.insert_integration(
        cur,
        integrations.DEMO_SYSTEM,
        integrations.key_hash(key),
        integrations.key_hint(key),
        [site["code"] for site in seed["sites"]],
    )
