"""The other channels: 好差评 ratings (one by one and in batches), hotline, comment book."""

from services.gateway.base import GatewayBase


class FeedbackRoutes(GatewayBase):
    pass
