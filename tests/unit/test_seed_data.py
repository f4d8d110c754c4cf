"""Referential integrity of the reference district's seed data (deploy/seed/xuanwu)."""

from collections import Counter
from pathlib import Path

import pytest
import yaml

from services.common.passwords import verify_password

SEED = Path(__file__).resolve().parents[2] / "deploy/seed/xuanwu"
FILES = ("district.yaml", "sites.yaml", "departments.yaml", "matters.yaml", "staff.yaml")

SITE_KINDS = {"district_hall", "sub_centre", "street_centre"}
ROLES = {"window_staff", "officer", "bureau", "supervisor", "operator", "hr"}

DEMO_LOGINS = {
    # username: (role, site, department or ... for "any")
    "hall.staff": ("window_staff", "HALL", ...),
    "xjk.staff": ("window_staff", "XJK", ...),
    "tax.staff": ("window_staff", "SW", ...),
    "officer": ("officer", "HALL", ...),
    "bureau": ("bureau", None, "SPJ"),
    "supervisor": ("supervisor", None, ...),
    "operator": ("operator", None, ...),
    # HR (人事) confirms or rejects dismissals; a login of its own, never the supervisor's
    "hr": ("hr", None, ...),
}


def load(name):
    with open(SEED / name, encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def district():
    return load("district.yaml")


@pytest.fixture(scope="module")
def sites():
    return load("sites.yaml")


@pytest.fixture(scope="module")
def departments():
    return load("departments.yaml")


@pytest.fixture(scope="module")
def matters():
    return load("matters.yaml")


@pytest.fixture(scope="module")
def staff():
    return load("staff.yaml")


def duplicates(values):
    return sorted(v for v, n in Counter(values).items() if n > 1)


def test_district(district):
    assert district == {"code": "XW", "name": "南京市玄武区", "timezone": "Asia/Shanghai"}


def test_sites_shape(sites):
    assert isinstance(sites, list) and sites
    assert duplicates(s["code"] for s in sites) == []
    for s in sites:
        assert set(s) >= {"code", "name", "kind", "address", "windows"}, s
        assert s["code"].isascii() and s["code"].isupper(), s["code"]
        assert s["kind"] in SITE_KINDS, s
        assert s["name"] and s["address"].startswith("南京市玄武区"), s
        assert 2 <= len(s["windows"]) <= 5, s["code"]
    kinds = Counter(s["kind"] for s in sites)
    assert kinds == {"district_hall": 1, "sub_centre": 4, "street_centre": 7}
    codes = {s["code"] for s in sites}
    assert codes == {
        "HALL",
        "RS",
        "GA",
        "SW",
        "HY",
        "XJK",
        "MYXC",
        "XWM",
        "SJC",
        "HS",
        "XLW",
        "XWH",
    }


def test_window_codes_unique_per_site_and_escalation_window_everywhere(sites):
    for s in sites:
        codes = [w["code"] for w in s["windows"]]
        assert duplicates(codes) == [], s["code"]
        assert all(w["name"] for w in s["windows"]), s["code"]
        esc = [w for w in s["windows"] if w["code"] == "ESC"]
        assert len(esc) == 1, f"{s['code']} has no escalation window"
        assert esc[0]["name"] == "办不成事反映窗口"


def test_departments(departments):
    assert duplicates(d["code"] for d in departments) == []
    assert all(d["name"] for d in departments)
    bureaus = [d for d in departments if d.get("approval_bureau") is True]
    assert [d["code"] for d in bureaus] == ["SPJ"]
    assert bureaus[0]["name"] == "区行政审批局"
    required = {"SPJ", "RSJ", "GAJ", "SWJ", "MZJ", "SCJ", "FCJ", "WJW", "YBJ", "CGJ", "JYJ", "BDC"}
    assert required <= {d["code"] for d in departments}


def test_matters_refer_to_existing_departments_and_sites(matters, departments, sites):
    dept_codes = {d["code"] for d in departments}
    site_codes = {s["code"] for s in sites}
    assert duplicates(m["code"] for m in matters) == []
    assert duplicates(m["name"] for m in matters) == []
    for m in matters:
        assert m["name"], m
        assert m["department"] in dept_codes, m["code"]
        assert m["sites"] and set(m["sites"]) <= site_codes, m["code"]
        assert duplicates(m["sites"]) == [], m["code"]
        assert isinstance(m["key_materials"], list) and m["key_materials"], m["code"]
        assert isinstance(m["other_materials"], list), m["code"]
        assert not set(m["key_materials"]) & set(m["other_materials"]), m["code"]


def test_every_site_has_enough_matters(matters, sites):
    per_site = Counter(code for m in matters for code in m["sites"])
    for s in sites:
        assert per_site[s["code"]] >= 4, f"{s['code']} has {per_site[s['code']]} matters"


def test_staff_refer_to_existing_sites_and_departments(staff, sites, departments):
    dept_codes = {d["code"] for d in departments}
    site_codes = {s["code"] for s in sites}
    assert duplicates(p["id"] for p in staff) == []
    assert duplicates(p["username"] for p in staff if p["username"] is not None) == []
    for p in staff:
        assert set(p) == {
            "id",
            "name",
            "site",
            "department",
            "role",
            "username",
            "password_hash",
        }, p
        assert p["id"].isascii(), p["id"]
        assert p["name"], p["id"]
        assert p["site"] is None or p["site"] in site_codes, p["id"]
        assert p["department"] is None or p["department"] in dept_codes, p["id"]
        assert p["role"] in ROLES, p["id"]
        # a login needs both a username and a hash; staff without one have neither
        assert (p["username"] is None) == (p["password_hash"] is None), p["id"]
        if p["role"] == "window_staff":
            assert p["site"] is not None, p["id"]


def test_every_site_has_staff_to_receive_cases(staff, sites):
    per_site = Counter(p["site"] for p in staff if p["role"] == "window_staff")
    for s in sites:
        assert per_site[s["code"]] >= 2, f"{s['code']} has {per_site[s['code']]} window staff"


def test_demo_logins(staff):
    by_username = {p["username"]: p for p in staff if p["username"]}
    for username, (role, site, department) in DEMO_LOGINS.items():
        assert username in by_username, username
        p = by_username[username]
        assert p["role"] == role, username
        assert p["site"] == site, username
        if department is not ...:
            assert p["department"] == department, username
        assert p["password_hash"].startswith("scrypt$"), username
        assert verify_password("demo", p["password_hash"]), username
        assert not verify_password("wrong", p["password_hash"]), username
    hashes = [by_username[u]["password_hash"] for u in DEMO_LOGINS]
    assert duplicates(hashes) == [], "each login gets its own salted hash"


def _walk(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


@pytest.mark.parametrize("name", FILES)
def test_no_clear_password_anywhere(name):
    for key, value in _walk(load(name)):
        assert key != "password", f"{name}: clear password field"
        assert value != "demo", f"{name}: clear password value under {key!r}"
    text = (SEED / name).read_text(encoding="utf-8")
    for line in text.splitlines():
        stripped = line.split("#", 1)[0]
        assert "password:" not in stripped, f"{name}: {line}"
