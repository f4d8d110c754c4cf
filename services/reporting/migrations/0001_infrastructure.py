"""Outbox, handled events and timeline of the reporting schema."""

from services.common.schema import infrastructure_steps

steps = infrastructure_steps("reporting")
