"""A login's password check and a new password's hash, off the eventlet hub.

scrypt takes tens of milliseconds of CPU: on the hub it would freeze every other request of
the process for that long, so it runs in eventlet's thread pool. An unknown user costs the
same scrypt as a known one (against a dummy hash), so the answer's timing does not tell which
usernames exist.
"""

from eventlet import tpool

from services.common.passwords import dummy_hash, hash_password, verify_password


def check_password(password: str, stored: str | None) -> bool:
    """:func:`~services.common.passwords.verify_password` in the thread pool; an absent hash
    does the same work and refuses."""
    matched = tpool.execute(verify_password, password or "", stored or dummy_hash())
    return bool(stored) and matched


def make_password_hash(password: str) -> str:
    """:func:`~services.common.passwords.hash_password` in the thread pool."""
    return tpool.execute(hash_password, password)
