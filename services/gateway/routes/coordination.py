"""Classification, each type's flow, joint meetings, replies and standard practices."""

from services.gateway.base import GatewayBase


class CoordinationRoutes(GatewayBase):
    pass
