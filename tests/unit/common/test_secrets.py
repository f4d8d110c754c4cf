"""No development secret outside demo mode; ID-number keys with ids (services.common.secrets)."""

import pytest

from services.common import secrets
from services.common.config import load_config
from services.common.secrets import DevelopmentSecretError

GOOD = {
    "TOKEN_SECRET": "token-secret-of-our-own-0001",
    "ID_NUMBER_KEY": "id-number-key-of-our-own-01",
    "AUDIT_KEY": "audit-key-of-our-own-000001",
}
PRODUCTION_ENVIRONMENT = ("BANCHENG_DEMO", *GOOD, "ID_NUMBER_KEYS", "ID_LOOKUP_KEY", "AUDIT_KEYS")


def config(demo=False, **settings) -> dict:
    return {"BANCHENG": {"DEMO": demo, **GOOD, **settings}}


@pytest.fixture
def shipped_config(monkeypatch):
    """deploy/config/bancheng.yaml as a deployment that set none of its secrets reads it."""
    for name in PRODUCTION_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return load_config()


# --- demo mode -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, 1, "1", "true", "yes", "on", " TRUE "])
def test_demo_mode_is_on_when_the_config_says_so(value):
    assert secrets.demo_mode({"BANCHENG": {"DEMO": value}})


@pytest.mark.parametrize("value", [False, 0, "0", "false", "", None, "no"])
def test_demo_mode_is_off_otherwise(value):
    assert not secrets.demo_mode({"BANCHENG": {"DEMO": value}})


def test_without_a_config_demo_mode_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("BANCHENG_DEMO", "1")
    assert secrets.demo_mode()
    monkeypatch.setenv("BANCHENG_DEMO", "0")
    assert not secrets.demo_mode()
    monkeypatch.delenv("BANCHENG_DEMO")
    assert not secrets.demo_mode()


def test_the_shipped_config_is_not_a_demo_unless_bancheng_demo_is_set(shipped_config, monkeypatch):
    assert not secrets.demo_mode(shipped_config)
    monkeypatch.setenv("BANCHENG_DEMO", "1")
    assert secrets.demo_mode(load_config())


# --- the refusal -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["TOKEN_SECRET", "ID_NUMBER_KEY", "AUDIT_KEY"])
def test_the_shipped_defaults_stop_a_process_naming_the_setting(shipped_config, monkeypatch, name):
    for other, value in GOOD.items():
        if other != name:
            monkeypatch.setenv(other, value)
    with pytest.raises(DevelopmentSecretError, match=rf"^{name} is a development value") as caught:
        secrets.refuse_development_secrets(load_config())
    assert "BANCHENG_DEMO=1" in str(caught.value)


def test_the_shipped_config_with_secrets_of_ones_own_starts(shipped_config, monkeypatch):
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    secrets.refuse_development_secrets(load_config())


def test_every_development_value_is_refused_for_every_secret():
    for value in secrets.DEVELOPMENT_VALUES:
        for name in ("TOKEN_SECRET", "AUDIT_KEY"):
            with pytest.raises(DevelopmentSecretError, match=name):
                secrets.refuse_development_secrets(config(**{name: value}))


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_secret_is_refused(value):
    with pytest.raises(DevelopmentSecretError, match="^TOKEN_SECRET is not set"):
        secrets.refuse_development_secrets(config(TOKEN_SECRET=value))


def test_a_short_secret_is_refused():
    with pytest.raises(DevelopmentSecretError, match="^AUDIT_KEY is shorter than 16"):
        secrets.refuse_development_secrets(config(AUDIT_KEY="short-key"))


def test_demo_mode_allows_the_development_values():
    demo = config(demo=True, TOKEN_SECRET="demo-token-secret-change-me")
    secrets.refuse_development_secrets(demo)
    assert secrets.secret(demo, "TOKEN_SECRET") == "demo-token-secret-change-me"


def test_a_secret_is_read_through_the_same_check():
    assert secrets.secret(config(), "AUDIT_KEY") == GOOD["AUDIT_KEY"]
    with pytest.raises(DevelopmentSecretError, match="AUDIT_KEY"):
        secrets.secret(config(AUDIT_KEY="demo-audit-key-change-me"), "AUDIT_KEY")


# --- ID-number keys --------------------------------------------------------------------------


def test_the_single_id_number_key_is_key_k1():
    assert secrets.id_number_keys(config()) == [("k1", GOOD["ID_NUMBER_KEY"])]


def test_id_number_keys_list_the_current_key_first():
    keys = config(ID_NUMBER_KEYS=" k2:second-key-of-our-own-02 , k1:first-key-of-our-own-001 ")
    assert secrets.id_number_keys(keys) == [
        ("k2", "second-key-of-our-own-02"),
        ("k1", "first-key-of-our-own-001"),
    ]


@pytest.mark.parametrize(
    "listed, problem",
    [
        ("k2", "must be 'id:secret"),
        (":no-id-but-long-enough-1", "must be 'id:secret"),
        ("k 2:long-enough-secret-0001", "must be 'id:secret"),
        ("k2:long-enough-secret-0001,k2:other-long-secret-002", "twice"),
        ("k2:short", r"ID_NUMBER_KEYS\[k2\] is shorter"),
        ("k2:demo-id-number-key-change-me", r"ID_NUMBER_KEYS\[k2\] is a development value"),
    ],
)
def test_bad_id_number_keys_are_refused(listed, problem):
    with pytest.raises(DevelopmentSecretError, match=problem):
        secrets.id_number_keys(config(ID_NUMBER_KEYS=listed))


def test_a_bad_listed_key_is_not_echoed():
    with pytest.raises(DevelopmentSecretError) as caught:
        secrets.id_number_keys(config(ID_NUMBER_KEYS="secret-without-an-id-at-all"))
    assert "secret-without-an-id-at-all" not in str(caught.value)


def test_the_lookup_key_is_its_own_setting_else_key_k1():
    rotated = config(ID_NUMBER_KEYS="k2:second-key-of-our-own-02,k1:first-key-of-our-own-001")
    assert secrets.id_lookup_secret(rotated) == "first-key-of-our-own-001"
    assert secrets.id_lookup_secret(config()) == GOOD["ID_NUMBER_KEY"]
    own = config(
        ID_NUMBER_KEYS="k2:second-key-of-our-own-02", ID_LOOKUP_KEY="lookup-key-of-our-own1"
    )
    assert secrets.id_lookup_secret(own) == "lookup-key-of-our-own1"


def test_k1_retired_without_a_lookup_key_refuses_to_start():
    retired = config(ID_NUMBER_KEYS="k2:second-key-of-our-own-02")
    with pytest.raises(DevelopmentSecretError, match="^ID_LOOKUP_KEY is not set"):
        secrets.refuse_development_secrets(retired)


# --- audit keys ------------------------------------------------------------------------------


def test_listed_audit_keys_replace_the_single_one_and_are_checked_alike():
    listed = config(
        AUDIT_KEY=None, AUDIT_KEYS="a2:audit-key-two-of-our-own,k1:" + GOOD["AUDIT_KEY"]
    )
    secrets.refuse_development_secrets(listed)
    assert [key_id for key_id, _ in secrets.audit_keys(listed)] == ["a2", "k1"]
    with pytest.raises(DevelopmentSecretError, match=r"AUDIT_KEYS\[a2\] is a development value"):
        secrets.refuse_development_secrets(config(AUDIT_KEYS="a2:demo-audit-key-change-me"))
    with pytest.raises(DevelopmentSecretError, match="AUDIT_KEYS must be 'id:secret"):
        secrets.audit_keys(config(AUDIT_KEYS="no-id-given-here-at-all"))
