"""Outbox, handled events and timeline of the intake schema."""

from services.common.schema import infrastructure_steps

steps = infrastructure_steps("intake")
