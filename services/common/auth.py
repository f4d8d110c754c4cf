"""Signed bearer tokens for staff sessions (itsdangerous), and the roles' reach.

A token carries the user's id, name, role and site; it is signed with ``TOKEN_SECRET`` and
expires after ``TOKEN_MAX_AGE_SECONDS``. Pages carry the same token in a cookie.
"""

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from services.common.errors import Unauthorized

ROLES = ("window_staff", "officer", "bureau", "supervisor", "operator", "hr")
# Roles that see every site's cases; window staff see their own site only.
DISTRICT_WIDE_ROLES = frozenset({"officer", "bureau", "supervisor", "operator"})


class TokenSigner:
    def __init__(self, secret: str, max_age_seconds: int):
        self._serializer = URLSafeTimedSerializer(secret, salt="bancheng-session")
        self.max_age_seconds = max_age_seconds

    def issue(self, user: dict) -> str:
        return self._serializer.dumps({key: user[key] for key in ("id", "name", "role", "site")})

    def read(self, token: str) -> dict:
        try:
            return self._serializer.loads(token, max_age=self.max_age_seconds)
        except SignatureExpired as exc:
            raise Unauthorized("登录已过期，请重新登录") from exc
        except BadSignature as exc:
            raise Unauthorized("登录凭证无效，请重新登录") from exc


def sees_all_sites(user: dict) -> bool:
    return user["role"] in DISTRICT_WIDE_ROLES


def visible_site(user: dict, requested_site: str | None) -> str | None:
    """The site filter a user's list query must use (None: all sites)."""
    if sees_all_sites(user):
        return requested_site
    return user["site"]
