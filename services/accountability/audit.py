"""The append-only audit trail: appending a chained entry, and verifying the chain.

``python -m services.accountability.audit verify`` walks ``accountability.audit_log`` (the
database of ``DATABASE_URL``), recomputes every hash and names the first entry that was
edited, removed or re-ordered; it exits 1 when the chain is broken.
"""

import argparse
import json
import sys
from datetime import UTC, datetime

import psycopg
from psycopg.rows import dict_row

from services.accountability import domain, store
from services.common.config import load_config

# Coordination's and intake's decisions, by event type, as audit actions.
AUDITED_EVENTS = {
    ("intake", "case_registered"): "registration",
    ("intake", "case_helper_added"): "helper_added",
    ("intake", "return_visit_recorded"): "return_visit",
    ("coordination", "case_classified"): "classification",
    ("coordination", "case_state_changed"): "state_change",
    ("coordination", "explanation_given"): "explanation",
    ("coordination", "measure_added"): "measure",
    ("coordination", "measure_response_recorded"): "measure_response",
    ("coordination", "deadline_paused"): "deadline_paused",
    ("coordination", "deadline_resumed"): "deadline_resumed",
    ("coordination", "joint_meeting_convened"): "joint_meeting",
    ("coordination", "joint_meeting_minuted"): "minutes",
    ("coordination", "case_replied"): "reply",
    ("coordination", "case_resolved"): "resolution",
    ("coordination", "practice_promoted"): "practice",
}


def append(
    cur,
    *,
    action: str,
    actor: str | None,
    role: str | None,
    at: datetime,
    content: dict,
    case_no: str | None = None,
    subject: str | None = None,
    source_event_id: str | None = None,
) -> int:
    """Append one entry inside the caller's transaction; returns its sequence number."""
    store.lock_audit_chain(cur)
    last = store.last_audit_entry(cur)
    prev_hash = last["hash"] if last else domain.GENESIS_HASH
    entry = domain.AuditEntry(
        seq=(last["seq"] + 1) if last else 1,
        at=at,
        recorded_at=datetime.now(UTC),
        actor=actor,
        role=role,
        action=action,
        case_no=case_no,
        subject=subject,
        content=domain.canonical_json(content),
    )
    store.insert_audit_entry(
        cur, entry, prev_hash, domain.chain_hash(prev_hash, entry), source_event_id
    )
    return entry.seq


def append_event(cur, action: str, event: dict, tz) -> int:
    """Audit another service's decision as its event tells it."""
    data = event["data"]
    when = data.get("at") or data.get("replied_at") or event["occurred_at"]
    case_nos = data.get("case_nos") or []
    return append(
        cur,
        action=action,
        actor=data.get("actor") or data.get("registered_by"),
        role=data.get("actor_role"),
        at=domain.parse_time(when, tz),
        content={"event_type": event["type"], "source_service": event["source_service"], **data},
        case_no=data.get("case_no") or (case_nos[0] if len(case_nos) == 1 else None),
        subject=f"meeting:{data['meeting_id']}" if data.get("meeting_id") else None,
        source_event_id=event["id"],
    )


def entry_of(row: dict) -> domain.AuditEntry:
    return domain.AuditEntry(
        seq=row["seq"],
        at=row["at"],
        recorded_at=row["recorded_at"],
        actor=row["actor"],
        role=row["role"],
        action=row["action"],
        case_no=row["case_no"],
        subject=row["subject"],
        content=row["content"],
    )


def view(row: dict) -> dict:
    """An entry for the API: its content as JSON again."""
    return {**row, "content": json.loads(row["content"])}


def verify(database_url: str) -> tuple[int, domain.ChainBreak | None]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        rows = ((entry_of(r), r["prev_hash"], r["hash"]) for r in store.all_audit_entries(conn))
        return domain.verify_chain(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.accountability.audit")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("verify", help="verify the hash chain of the audit trail")
    parser.parse_args(argv)
    count, broken = verify(load_config()["DATABASE_URL"])
    if broken:
        print(
            f"audit chain BROKEN at entry {broken.seq}: {broken.problem} ({count} entries before it verified)"
        )
        return 1
    print(f"audit chain OK: {count} entries verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
