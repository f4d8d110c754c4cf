"""What every group of gateway routes shares: the RPC proxies, the caller, the body.

The caller is the bearer of a signed token (the ``Authorization`` header, or the pages'
cookie) whose session version is still the user's in intake: a logout or a password change
raises it, which ends every session of that user. The version is kept a few seconds per
process, so most requests cost no RPC for it. A write to the API needs the header: a cookie
is sent by the browser on its own, so it must not authorise a write another site provokes.
"""

import time

from nameko.dependency_providers import Config

from services.common.auth import TokenSigner
from services.common.config import service_setting
from services.common.errors import Forbidden, Unauthorized
from services.common.rpc import ServiceRpc
from services.common.web import EntrypointMetrics
from services.gateway.http import TOKEN_COOKIE, bearer_token, read_json
from services.gateway.site_mode import DistrictRpc

API_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_CHECK_SECONDS = 5.0
# staff id -> (session version, when it was read): this process's view of intake's versions
_session_versions: dict[str, tuple[int | None, float]] = {}


def cookie_only(request) -> bool:
    """The request authenticates with the cookie alone (no ``Authorization: Bearer``)."""
    return not request.headers.get("Authorization", "").startswith("Bearer ") and bool(
        request.cookies.get(TOKEN_COOKIE)
    )


def forget_session_version(staff_id: str) -> None:
    """Drop this process's cached version (after a logout here, it is read again at once)."""
    _session_versions.pop(staff_id, None)


class GatewayBase:
    """Dependencies and helpers; the route groups in ``routes/`` inherit them."""

    config = Config()
    intake = ServiceRpc("intake")
    # on a site node (SITE_NODE) these refuse at once with a 503: services.gateway.site_mode
    coordination = DistrictRpc("coordination")
    accountability = DistrictRpc("accountability")
    reporting = DistrictRpc("reporting")
    entrypoint_metrics = EntrypointMetrics()

    @property
    def tokens(self) -> TokenSigner:
        return TokenSigner(
            service_setting(self.config, "TOKEN_SECRET"),
            int(service_setting(self.config, "TOKEN_MAX_AGE_SECONDS", 43200)),
        )

    def _user(self, request, *roles: str) -> dict:
        """The signed-in user; with ``roles``, a 403 unless the user has one of them."""
        token = bearer_token(request)
        if not token:
            raise Unauthorized("请先登录（Authorization: Bearer <token>）")
        if request.path.startswith("/api/") and request.method in API_WRITES:
            if cookie_only(request):
                raise Unauthorized("接口写操作须携带 Authorization: Bearer <token>，不接受 Cookie")
        user = self.tokens.read(token)
        if user.get("sv") != self._session_version(user["id"]):
            raise Unauthorized("登录已失效（已退出或已修改密码），请重新登录")
        if roles and user["role"] not in roles:
            raise Forbidden("当前角色无权执行此操作")
        # every RPC this request makes from here on asserts this user (services.common.rpc)
        self.intake.act_as(user)
        return user

    def _session_version(self, staff_id: str) -> int | None:
        """Intake's session version of the staff member, at most a few seconds old."""
        seconds = float(
            service_setting(self.config, "SESSION_CHECK_SECONDS", SESSION_CHECK_SECONDS)
        )
        cached = _session_versions.get(staff_id)
        if cached and time.monotonic() - cached[1] < seconds:
            return cached[0]
        version = self.intake.session_version(staff_id)
        _session_versions[staff_id] = (version, time.monotonic())
        return version

    def _body(self, request) -> dict:
        return read_json(request, int(service_setting(self.config, "MAX_BODY_BYTES", 1048576)))
