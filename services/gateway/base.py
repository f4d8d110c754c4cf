"""What every group of gateway routes shares: the RPC proxies, the caller, the body."""

from nameko.dependency_providers import Config

from services.common.auth import TokenSigner
from services.common.config import service_setting
from services.common.errors import Forbidden, Unauthorized
from services.common.rpc import ServiceRpc
from services.common.web import EntrypointMetrics
from services.gateway.http import bearer_token, read_json


class GatewayBase:
    """Dependencies and helpers; the route groups in ``routes/`` inherit them."""

    config = Config()
    intake = ServiceRpc("intake")
    coordination = ServiceRpc("coordination")
    accountability = ServiceRpc("accountability")
    reporting = ServiceRpc("reporting")
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
        user = self.tokens.read(token)
        if roles and user["role"] not in roles:
            raise Forbidden("当前角色无权执行此操作")
        return user

    def _body(self, request) -> dict:
        return read_json(request, int(service_setting(self.config, "MAX_BODY_BYTES", 1048576)))
