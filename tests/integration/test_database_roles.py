"""Each service logs in to PostgreSQL as a role of its own (issue 12), on the session database.

The migrations (run by the owner) make ``bancheng_<service>`` and grant it its own schema's
rows only; ``services.common.config.service_database_url`` is the URL a service's pool uses.
"""

import psycopg
import pytest

from services.common.config import SERVICE_DATABASES, database_role, service_database_url
from services.common.postgres import set_login_passwords
from tests.conftest import BASE_CONFIG

pytestmark = pytest.mark.integration

DEMO = {**BASE_CONFIG, "BANCHENG": {**BASE_CONFIG["BANCHENG"], "DEMO": True}}


def connect_as(service: str, database_url: str) -> psycopg.Connection:
    return psycopg.connect(
        service_database_url({**DEMO, "DATABASE_URL": database_url}, service), autocommit=True
    )


def refused(conn, statement: str, message: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=message):
        conn.execute(statement)


def test_a_service_url_logs_in_as_its_own_role_which_is_no_superuser(database_url):
    for service in SERVICE_DATABASES:
        with connect_as(service, database_url) as conn:
            row = conn.execute(
                "SELECT session_user AS who, rolsuper, rolcreaterole, rolcreatedb "
                "FROM pg_roles WHERE rolname = session_user"
            ).fetchone()
            assert row == (database_role(service), False, False, False)


def test_the_intake_role_reads_its_own_schema_but_not_another_services(database_url):
    with connect_as("intake", database_url) as conn:
        assert conn.execute("SELECT count(*) FROM intake.sites").fetchone()[0] > 0
        refused(conn, "SELECT * FROM coordination.cases", "permission denied for schema")
        refused(conn, "SELECT * FROM accountability.audit_log", "permission denied for schema")
        refused(conn, "SELECT * FROM intake._yoyo_migration", "permission denied for table")
        refused(conn, "CREATE TABLE intake.smuggled (x int)", "permission denied for schema")
        refused(conn, "TRUNCATE intake.timeline", "permission denied for table")
        refused(conn, "ALTER TABLE intake.cases ADD COLUMN x int", "must be owner")
    with connect_as("coordination", database_url) as conn:
        refused(conn, "SELECT * FROM intake.cases", "permission denied for schema")
    with connect_as("reporting", database_url) as conn:
        refused(conn, "SELECT * FROM intake.staff", "permission denied for schema")


def test_the_accountability_role_cannot_unprotect_or_rewrite_the_audit_trail(database_url):
    with connect_as("accountability", database_url) as conn:
        assert conn.execute("SELECT count(*) FROM accountability.audit_log").fetchone()[0] >= 0
        refused(conn, "ALTER TABLE accountability.audit_log DISABLE TRIGGER ALL", "must be owner")
        refused(conn, "ALTER TABLE accountability.audit_log DISABLE TRIGGER USER", "must be owner")
        refused(conn, "UPDATE accountability.audit_log SET actor = 'x'", "permission denied")
        refused(conn, "DELETE FROM accountability.audit_log", "permission denied")
        refused(conn, "TRUNCATE accountability.audit_log", "permission denied")
        refused(conn, "DROP TABLE accountability.audit_log", "must be owner")
        refused(conn, "SELECT * FROM intake.cases", "permission denied for schema")
        # its own other tables are its to change
        conn.execute("UPDATE accountability.sanctions SET status = status WHERE false")


def test_migrate_sets_each_roles_password_hashed(database_url):
    roles = set_login_passwords(database_url, DEMO)
    assert roles == [database_role(service) for service in SERVICE_DATABASES]
    with psycopg.connect(database_url) as conn:
        stored = dict(
            conn.execute(
                "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)", (roles,)
            ).fetchall()
        )
    assert set(stored) == set(roles)
    assert all(password.startswith("SCRAM-SHA-256$") for password in stored.values())
