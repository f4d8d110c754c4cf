"""Logins administered by an operator, outside demo mode (``python -m services.cli users``).

A login is a staff member (``intake.staff``) with a username and a password hash. The operator:

* **adds** one: gives an existing staff member a username, or registers a new staff member with
  name, role and site, with a password of at least :data:`logins.MIN_PASSWORD_LENGTH` characters;
* **sets a new password** (``passwd``): every session of the user ends with it (the session
  version is raised, so each token issued before is refused);
* **disables** one: the password hash is removed (no password matches, an unknown user's dummy
  check is done instead) and every session ends; ``passwd`` enables it again;
* **lists** them, disabled ones marked.

Runs as the database's owner like every operator command, in one transaction per change; the
failed-login counts of the account are cleared on a new password. The password reaches these
functions already read (from a prompt or stdin, never the command line: services.cli).
"""

from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from services.common.passwords import hash_password
from services.intake import logins, store

ROLES = ("window_staff", "officer", "bureau", "supervisor", "operator", "hr")


class UserAdminError(ValueError):
    """What the operator asked cannot be done (the message says why)."""


@dataclass(frozen=True)
class Login:
    username: str
    staff_id: str
    name: str
    role: str
    site: str | None
    enabled: bool


def password_refusal(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < logins.MIN_PASSWORD_LENGTH:
        return f"a password needs at least {logins.MIN_PASSWORD_LENGTH} characters"
    return None


def _checked_password(password: str) -> str:
    refusal = password_refusal(password)
    if refusal:
        raise UserAdminError(refusal)
    return hash_password(password)


def _staff_of(cur, username: str) -> dict:
    cur.execute("SELECT id FROM intake.staff WHERE username = %s", (username,))
    row = cur.fetchone()
    if row is None:
        raise UserAdminError(f"no login named {username!r}")
    return row


def add(
    database_url: str,
    username: str,
    password: str,
    *,
    staff_id: str,
    name: str | None = None,
    role: str | None = None,
    site: str | None = None,
    department: str | None = None,
) -> Login:
    """A login ``username`` for staff member ``staff_id`` (registered when new: then ``name``
    and ``role`` are needed)."""
    username = username.strip()
    if not username:
        raise UserAdminError("a username cannot be empty")
    if role is not None and role not in ROLES:
        raise UserAdminError(f"role must be one of {', '.join(ROLES)}")
    hashed = _checked_password(password)
    with psycopg.connect(database_url, row_factory=dict_row) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM intake.staff WHERE username = %s", (username,))
        if cur.fetchone():
            raise UserAdminError(f"the username {username!r} is taken")
        cur.execute("SELECT username FROM intake.staff WHERE id = %s FOR UPDATE", (staff_id,))
        existing = cur.fetchone()
        if existing and existing["username"]:
            raise UserAdminError(
                f"staff member {staff_id} already logs in as {existing['username']!r}"
            )
        if existing:
            cur.execute(
                "UPDATE intake.staff SET username = %s, password_hash = %s, "
                "session_version = session_version + 1 WHERE id = %s",
                (username, hashed, staff_id),
            )
        else:
            if not name or not role:
                raise UserAdminError(f"staff member {staff_id} is new: give --name and --role")
            try:
                cur.execute(
                    "INSERT INTO intake.staff "
                    "(id, name, site_code, department_code, role, username, password_hash) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (staff_id, name, site, department, role, username, hashed),
                )
            except psycopg.errors.ForeignKeyViolation as error:
                raise UserAdminError(f"no such site or department: {error.diag.detail}") from None
    return next(login for login in list_logins(database_url) if login.username == username)


def set_password(database_url: str, username: str, password: str) -> None:
    """A new password for ``username`` (enabling a disabled login); every session ends."""
    hashed = _checked_password(password)
    with psycopg.connect(database_url, row_factory=dict_row) as conn, conn.cursor() as cur:
        staff = _staff_of(cur, username)
        store.set_password(cur, staff["id"], hashed)
        store.clear_login_failures(cur, username)


def disable(database_url: str, username: str) -> None:
    """``username`` can no longer log in, and every session of it ends."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn, conn.cursor() as cur:
        staff = _staff_of(cur, username)
        cur.execute("UPDATE intake.staff SET password_hash = NULL WHERE id = %s", (staff["id"],))
        store.end_sessions(cur, staff["id"])


def list_logins(database_url: str) -> list[Login]:
    """Every login, by username."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT username, id, name, role, site_code, password_hash IS NOT NULL AS enabled "
            "FROM intake.staff WHERE username IS NOT NULL ORDER BY username"
        ).fetchall()
    return [
        Login(r["username"], r["id"], r["name"], r["role"], r["site_code"], r["enabled"])
        for r in rows
    ]
