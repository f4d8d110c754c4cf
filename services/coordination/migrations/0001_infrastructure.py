"""Outbox, handled events and timeline of the coordination schema."""

from services.common.schema import infrastructure_steps

steps = infrastructure_steps("coordination")
