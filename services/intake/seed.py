"""Loading a district's reference data (deploy/seed/<district>/*.yaml) into intake's tables.

Seeding is an upsert: running it twice changes nothing, and editing a name in the YAML and
seeding again updates it. Passwords arrive already hashed.
"""

from pathlib import Path

import psycopg
import yaml

from services.intake import store


def read_seed(directory: Path | str) -> dict:
    directory = Path(directory)
    return {
        name: yaml.safe_load((directory / f"{name}.yaml").read_text(encoding="utf-8"))
        for name in ("district", "sites", "departments", "matters", "staff")
    }


def load_seed(database_url: str, directory: Path | str) -> dict[str, int]:
    """Upsert the district in ``directory``; returns how many rows of each kind it holds."""
    seed = read_seed(directory)
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        store.upsert_reference_data(cur, seed)
    return {
        "sites": len(seed["sites"]),
        "windows": sum(len(s["windows"]) for s in seed["sites"]),
        "departments": len(seed["departments"]),
        "matters": len(seed["matters"]),
        "staff": len(seed["staff"]),
    }
