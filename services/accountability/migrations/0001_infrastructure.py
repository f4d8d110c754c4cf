"""Outbox, handled events and timeline of the accountability schema."""

from services.common.schema import infrastructure_steps

steps = infrastructure_steps("accountability")
