"""The append-only audit trail: each decision's entry, and verifying the chain.

Appending is :func:`services.accountability.store.append_audit_entry` (the chain lock, the
last entry, the insert); what an entry says, :mod:`services.accountability.events`.

``python -m services.accountability.audit verify`` walks ``accountability.audit_log`` (the
database of ``DATABASE_URL``), recomputes every hash and names the first entry that was
edited, removed or re-ordered; it exits 1 when the chain is broken.
"""

import argparse
import sys
from dataclasses import fields

import psycopg
from psycopg.rows import dict_row

from services.accountability import domain, events, store
from services.common.config import load_config
from services.common.decisions import Decision


def record_decision_entry(cur, decision: Decision, event: dict) -> None:
    """The unit of work's ``on_record`` hook: a decision taken here enters the audit trail in
    the transaction that records its event (as ``events.audit_entry`` describes it)."""
    entry = events.audit_entry(decision, event)
    if entry is not None:
        store.append_audit_entry(cur, **entry)


def entry_of(row: dict) -> domain.AuditEntry:
    """A stored row as the chain hashes it."""
    return domain.AuditEntry(**{field.name: row[field.name] for field in fields(domain.AuditEntry)})


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
