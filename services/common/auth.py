"""Signed bearer tokens for staff sessions (itsdangerous), and the roles' reach.

A token carries the user's id, name, role, site and session version (``sv``); it is signed
with ``TOKEN_SECRET`` (HMAC-SHA256) and expires after ``TOKEN_MAX_AGE_SECONDS``. Pages carry
the same token in a cookie. The session version is intake's count of the user's sign-outs and
password changes: the gateway refuses a token whose version is no longer the user's, so
logging out or changing the password ends every session of that user.
"""

import hashlib

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from services.common.errors import Unauthorized

ROLES = ("window_staff", "officer", "bureau", "supervisor", "operator", "hr")
# Roles that see every site's cases; window staff see their own site only.
DISTRICT_WIDE_ROLES = frozenset({"officer", "bureau", "supervisor", "operator"})


class TokenSigner:
    def __init__(self, secret: str, max_age_seconds: int):
        # a salt of its own for SHA-256: the SHA-1 tokens of before are simply invalid
        self._serializer = URLSafeTimedSerializer(
            secret,
            salt="bancheng-session-sha256",
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self.max_age_seconds = max_age_seconds

    def issue(self, user: dict) -> str:
        """A token for ``user`` (as intake's ``authenticate`` returns it)."""
        claims = {key: user[key] for key in ("id", "name", "role", "site")}
        claims["sv"] = int(user.get("session_version") or 0)
        return self._serializer.dumps(claims)

    def read(self, token: str) -> dict:
        """The claims of a token this secret signed and that has not expired (else 401)."""
        try:
            return self._serializer.loads(token, max_age=self.max_age_seconds)
        except SignatureExpired as exc:
            raise Unauthorized("登录已过期，请重新登录") from exc
        except BadSignature as exc:
            raise Unauthorized("登录凭证无效，请重新登录") from exc


def sees_all_sites(user: dict) -> bool:
    return user["role"] in DISTRICT_WIDE_ROLES


def visible_site(user: dict, requested_site: str | None) -> str | None:
    """The site filter a user's list query must use (None: all sites). A role bound to no site
    that is not district-wide (HR) gets ``""``, which matches no site."""
    if sees_all_sites(user):
        return requested_site
    return user.get("site") or ""
