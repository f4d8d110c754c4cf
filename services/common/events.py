"""The event envelope every service publishes and consumes (pure: no I/O).

An event says what happened, once: an id for idempotent consumers, a type that is also its
routing key, a time, the service and site it came from, and a version for its ``data`` shape.
"""

import uuid
from datetime import UTC, datetime

ENVELOPE_VERSION = 1


def new_event(
    event_type: str,
    data: dict,
    *,
    source_service: str,
    source_site: str | None,
    version: int = ENVELOPE_VERSION,
    occurred_at: datetime | None = None,
    event_id: str | None = None,
) -> dict:
    """Build an event envelope ready to be stored in an outbox and published as JSON."""
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "version": version,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "source_service": source_service,
        "source_site": source_site,
        "data": data,
    }


REQUIRED_FIELDS = ("id", "type", "version", "occurred_at", "source_service", "data")


def is_envelope(message) -> bool:
    """True when ``message`` has every field of the envelope (consumers drop anything else)."""
    return isinstance(message, dict) and all(field in message for field in REQUIRED_FIELDS)
