"""The rule for the URL each service's pool logs in with (services.common.config)."""

import pytest

from services.common.config import service_database_url
from services.common.secrets import DevelopmentSecretError

OWNER = "postgresql://postgres:owner-pw@db.example:5433/bancheng?sslmode=require"


def config(demo: bool, **settings) -> dict:
    return {"DATABASE_URL": OWNER, "BANCHENG": {"DEMO": demo, **settings}}


def test_a_service_logs_in_as_its_role_on_the_owners_server_and_database():
    url = service_database_url(config(False, DB_PASSWORD_INTAKE="a p@ss/word of its own"), "intake")
    assert url == (
        "postgresql://bancheng_intake:a%20p%40ss%2Fword%20of%20its%20own@db.example:5433/"
        "bancheng?sslmode=require"
    )


def test_in_demo_mode_the_password_is_the_known_demo_one():
    url = service_database_url(config(True), "accountability")
    assert url.startswith("postgresql://bancheng_accountability:demo-db-password-accountability@")


def test_a_process_of_no_service_schema_gets_the_url_as_given():
    assert service_database_url(config(False), "gateway") == OWNER
    assert service_database_url(config(False), "probe") == OWNER


@pytest.mark.parametrize(
    "password, named",
    [
        (None, "DB_PASSWORD_REPORTING is not set"),
        ("short", "DB_PASSWORD_REPORTING is shorter than 16"),
        ("demo-db-password-reporting", "DB_PASSWORD_REPORTING is a development value"),
    ],
)
def test_outside_demo_mode_a_missing_short_or_demo_password_is_refused(
    monkeypatch, password, named
):
    monkeypatch.delenv("DB_PASSWORD_REPORTING", raising=False)
    settings = {"DB_PASSWORD_REPORTING": password} if password else {}
    with pytest.raises(DevelopmentSecretError, match=named):
        service_database_url(config(False, **settings), "reporting")


def test_the_environment_gives_the_password_when_the_config_does_not(monkeypatch):
    monkeypatch.setenv("DB_PASSWORD_COORDINATION", "coordination-password-01")
    url = service_database_url(config(False), "coordination")
    assert "bancheng_coordination:coordination-password-01@" in url
