"""The append-only audit trail: each decision's entry, checkpoints of its head, verifying it.

Appending is :func:`services.accountability.store.append_audit_entry` (the chain lock, the
last entry, the insert) under the service's MAC key; what an entry says,
:mod:`services.accountability.events`; the chain's rules, :mod:`services.accountability.chain`.

``python -m services.accountability.audit verify`` walks ``accountability.audit_log`` (the
database of ``DATABASE_URL``), checks every entry's MAC with the keys of ``AUDIT_KEYS`` /
``AUDIT_KEY`` and the chain against every signed checkpoint of that database in
``AUDIT_CHECKPOINT_FILE``; it names the first entry that was edited, removed, re-ordered or
forged, or the tail that was cut, and exits 1. When the chain verifies it checkpoints its
head. ``checkpoint`` checkpoints the head without verifying.
"""

import argparse
import sys
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import psycopg
from psycopg.rows import dict_row

from services.accountability import chain, events, store
from services.accountability.checkpoints import CheckpointJournal, checkpoint_path
from services.common import secrets
from services.common.config import load_config, service_setting
from services.common.decisions import Decision

FIRST_KEY_ID = "k1"


def keys_from(config: dict) -> chain.AuditKeys:
    """The MAC keys: ``AUDIT_KEYS`` (``id:secret,id:secret``, the current one first) when set,
    else ``AUDIT_KEY`` as key ``k1``; every secret refused outside demo mode as
    :func:`services.common.secrets.checked` says."""
    demo = secrets.demo_mode(config)
    listed = str(service_setting(config, "AUDIT_KEYS") or "").strip()
    if not listed:
        return chain.audit_keys([(FIRST_KEY_ID, secrets.secret(config, "AUDIT_KEY"))])
    pairs = []
    for item in listed.split(","):
        key_id, colon, value = item.strip().partition(":")
        if not colon or not secrets.KEY_ID_PATTERN.fullmatch(key_id):
            raise secrets.DevelopmentSecretError(
                "AUDIT_KEYS must be 'id:secret,id:secret' (ids of letters, digits, - or _)"
            )
        pairs.append((key_id, secrets.checked(f"AUDIT_KEYS[{key_id}]", value, demo)))
    return chain.audit_keys(pairs)


def checkpoint_policy(config: dict) -> chain.CheckpointPolicy:
    return chain.CheckpointPolicy(
        entries=int(service_setting(config, "AUDIT_CHECKPOINT_ENTRIES") or 100),
        seconds=float(service_setting(config, "AUDIT_CHECKPOINT_SECONDS") or 300),
    )


def record_decision_entry(cur, decision: Decision, event: dict, *, keys: chain.AuditKeys) -> None:
    """The unit of work's ``on_record`` hook (bound to the service's keys): a decision taken
    here enters the audit trail in the transaction that records its event (as
    ``events.audit_entry`` describes it)."""
    entry = events.audit_entry(decision, event)
    if entry is not None:
        store.append_audit_entry(cur, keys=keys, **entry)


def entry_of(row: dict) -> chain.AuditEntry:
    """A stored row as the chain MACs it."""
    return chain.AuditEntry(**{field.name: row[field.name] for field in fields(chain.AuditEntry)})


# -- checkpoints and verifying -------------------------------------------------------------


class AuditTrail:
    """The service's keys, checkpoint file and checkpoint policy, read once from the config."""

    def __init__(self, keys: chain.AuditKeys, journal: CheckpointJournal, policy):
        self.keys = keys
        self.journal = journal
        self.policy = policy

    @classmethod
    def from_config(cls, config: dict) -> "AuditTrail":
        keys = keys_from(config)
        return cls(
            keys, CheckpointJournal(checkpoint_path(config), keys), checkpoint_policy(config)
        )

    def checkpoint(self, head: dict, *, when_due: bool = True) -> dict | None:
        """Checkpoint the committed ``head`` (:func:`store.audit_head`) when the policy says
        one is due (``when_due=False``: unless that head is checkpointed already); returns the
        record written, or None."""
        last = self.journal.last_for(head["database"])
        now = datetime.now(UTC)
        if when_due and not self.policy.due(last, head["seq"], now):
            return None
        if head["seq"] == 0 or (last is not None and last["seq"] == head["seq"]):
            return None
        record = chain.signed_checkpoint(
            self.keys, head["database"], head["seq"], head["hash"], now
        )
        self.journal.append(record)
        return record


@dataclass(frozen=True)
class Verification:
    """A verification's outcome: the chain's report, how many checkpoints it was held against,
    the checkpoint lines that did not verify, and the checkpoint written after it."""

    report: chain.ChainReport
    checkpoints: int
    bad_checkpoints: list[tuple[int, str]]
    written: dict | None

    @property
    def ok(self) -> bool:
        return self.report.broken is None and not self.bad_checkpoints


def _checkpointed_heads(keys, journal: CheckpointJournal, database: str):
    heads, bad = {}, []
    for line, record in journal.records():
        problem = chain.checkpoint_problem(keys, record)
        if problem is not None:
            bad.append((line, problem))
        elif record["database"] == database:
            if heads.get(record["seq"], record["head"]) != record["head"]:
                bad.append((line, f"与另一条检查点对第 {record['seq']} 条的记录矛盾"))
            heads[record["seq"]] = record["head"]
    return heads, bad


def verify(database_url: str, trail: AuditTrail) -> Verification:
    """Verify the chain of ``database_url`` against the trail's keys and checkpoints; when it
    holds, checkpoint its head."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        head = store.audit_head(conn.cursor())
        heads, bad = _checkpointed_heads(trail.keys, trail.journal, head["database"])
        rows = ((entry_of(r), r["prev_hash"], r["hash"]) for r in store.all_audit_entries(conn))
        report = chain.verify_chain(rows, trail.keys, heads)
    written = None
    if report.broken is None and not bad and report.head is not None:
        seq, mac = report.head
        written = trail.checkpoint({**head, "seq": seq, "hash": mac}, when_due=False)
    return Verification(report, len(heads), bad, written)


def describe(result: Verification) -> str:
    """What a verification found, in the words an auditor reads."""
    report = result.report
    lines = [
        f"checkpoint file line {line}: {problem} (检查点文件第 {line} 行不可信)"
        for line, problem in result.bad_checkpoints
    ]
    if report.broken:
        lines.append(
            f"audit chain BROKEN at entry {report.broken.seq}: {report.broken.problem} "
            f"({report.count} entries before it verified)"
        )
    elif not result.bad_checkpoints:
        legacy = (
            f", {report.legacy} of them unkeyed (before the audit key)" if report.legacy else ""
        )
        lines.append(
            f"audit chain OK: {report.count} entries verified{legacy}, "
            f"held against {result.checkpoints} checkpoints"
            + (f"; checkpointed entry {result.written['seq']}" if result.written else "")
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.accountability.audit")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("verify", help="verify the audit chain against its keys and checkpoints")
    commands.add_parser("checkpoint", help="checkpoint the audit chain's head now")
    command = parser.parse_args(argv).command
    config = load_config()
    trail = AuditTrail.from_config(config)
    if command == "checkpoint":
        with psycopg.connect(config["DATABASE_URL"], row_factory=dict_row) as conn:
            record = trail.checkpoint(store.audit_head(conn.cursor()), when_due=False)
        print(f"checkpointed entry {record['seq']}" if record else "nothing new to checkpoint")
        return 0
    result = verify(config["DATABASE_URL"], trail)
    print(describe(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
