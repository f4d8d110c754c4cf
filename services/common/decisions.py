"""A decision a use case took, described for the record (pure: no I/O).

A service's ``events.py`` builds these; :func:`services.common.unit_of_work.record_decision`
turns one into its outbox event, its timeline entry and, for accountability, its audit entry.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Decision:
    """What a use case decided, as its service's ``events.py`` describes it.

    ``timeline_kind`` None: the decision writes no timeline entry. ``audit_action`` is read only
    by services that keep an audit trail (accountability's ``on_record`` hook).
    """

    event_type: str
    data: dict
    site: str | None = None
    case_no: str | None = None
    actor: str | None = None
    timeline_kind: str | None = None
    timeline_text: str = ""
    timeline_data: dict | None = None
    audit_action: str | None = None
    audit_subject: str | None = None
    actor_role: str | None = None
    version: int = 1
    extra: dict = field(default_factory=dict)
