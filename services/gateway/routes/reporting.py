"""The monthly summary, its exports and the ledger."""

from services.gateway.base import GatewayBase


class ReportingRoutes(GatewayBase):
    pass
