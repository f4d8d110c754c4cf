"""Loading a district's reference data (deploy/seed/<district>/*.yaml) into intake's tables.

Seeding is an upsert: running it twice changes nothing, and editing a name in the YAML and
seeding again updates it. Passwords arrive already hashed.
"""

from pathlib import Path

import psycopg
import yaml
from psycopg.types.json import Jsonb


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
        cur.executemany(
            "INSERT INTO intake.sites (code, name, kind, address) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, "
            "address = EXCLUDED.address",
            [(s["code"], s["name"], s["kind"], s.get("address", "")) for s in seed["sites"]],
        )
        cur.executemany(
            "INSERT INTO intake.windows (site_code, code, name) VALUES (%s, %s, %s) "
            "ON CONFLICT (site_code, code) DO UPDATE SET name = EXCLUDED.name",
            [(s["code"], w["code"], w["name"]) for s in seed["sites"] for w in s["windows"]],
        )
        cur.executemany(
            "INSERT INTO intake.departments (code, name, approval_bureau) VALUES (%s, %s, %s) "
            "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, "
            "approval_bureau = EXCLUDED.approval_bureau",
            [(d["code"], d["name"], bool(d.get("approval_bureau"))) for d in seed["departments"]],
        )
        cur.executemany(
            "INSERT INTO intake.matters (code, name, department_code, key_materials, other_materials) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, "
            "department_code = EXCLUDED.department_code, key_materials = EXCLUDED.key_materials, "
            "other_materials = EXCLUDED.other_materials",
            [
                (
                    m["code"],
                    m["name"],
                    m["department"],
                    Jsonb(m.get("key_materials", [])),
                    Jsonb(m.get("other_materials", [])),
                )
                for m in seed["matters"]
            ],
        )
        cur.executemany(
            "INSERT INTO intake.matter_sites (matter_code, site_code) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING",
            [(m["code"], site) for m in seed["matters"] for site in m["sites"]],
        )
        cur.executemany(
            "INSERT INTO intake.staff (id, name, site_code, department_code, role, username, "
            "password_hash) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "name = EXCLUDED.name, site_code = EXCLUDED.site_code, "
            "department_code = EXCLUDED.department_code, role = EXCLUDED.role, "
            "username = EXCLUDED.username, password_hash = EXCLUDED.password_hash",
            [
                (
                    s["id"],
                    s["name"],
                    s.get("site"),
                    s.get("department"),
                    s["role"],
                    s.get("username"),
                    s.get("password_hash"),
                )
                for s in seed["staff"]
            ],
        )
    return {
        "sites": len(seed["sites"]),
        "windows": sum(len(s["windows"]) for s in seed["sites"]),
        "departments": len(seed["departments"]),
        "matters": len(seed["matters"]),
        "staff": len(seed["staff"]),
    }
