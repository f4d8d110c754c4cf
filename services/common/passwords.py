"""Password hashing with the standard library's scrypt (memory-hard, no extra dependency).

Pure: a service checks a login's password through :mod:`services.common.password_checks`,
which runs these off the eventlet hub.
"""

import base64
import functools
import hashlib
import hmac
import os

_N, _R, _P = 2**14, 8, 1


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Return a self-describing hash: ``scrypt$N$r$p$salt$digest``."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Check ``password`` against a hash made by :func:`hash_password`."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    try:
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        # a damaged stored hash must refuse the login, not fail the request
        return False
    return bool(expected) and hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """A hash no password matches, to check an unknown user's password against."""
    return hash_password(os.urandom(16).hex())
