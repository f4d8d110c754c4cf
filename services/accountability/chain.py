"""The audit trail's chain (pure): entries, their MACs, checkpoints of the head, verifying.

Each entry is MAC'd with HMAC-SHA256 over the previous entry's MAC followed by its own
canonical JSON, under a key that is *not* in the database (``AUDIT_KEY``): whoever can write
the table can still not forge an entry, nor re-link the chain after editing or removing one.
The entry stores the id of its key, so a key can be rotated (new entries under the new id, old
ones verified with the retired key kept beside it). Entries written before the trail was keyed
carry :data:`LEGACY_KEY_ID` and a plain sha256; they are accepted only as the chain's prefix.

A removed *tail* leaves a shorter chain that still links; so the head is checkpointed outside
the database: a signed record ``{database, seq, head}`` appended to a file. Verifying compares
the chain with every checkpoint of its database and names an edited entry, a missing one, a
head that differs from a checkpoint, or fewer entries than a checkpoint counted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64
# entries written before the trail was keyed: unkeyed sha256 (migration 0006 marks them)
LEGACY_KEY_ID = "sha256"
CHECKPOINT_FIELDS = ("database", "seq", "head", "at", "key_id")


def canonical_json(value) -> str:
    """One spelling of a JSON value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def utc_text(moment: datetime) -> str:
    """A time as hashed: UTC with microseconds, whatever the session's time zone."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# -- keys ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditKeys:
    """The MAC keys by id: ``current`` MACs new entries and checkpoints; the others (retired
    by a rotation) still verify what they MAC'd."""

    current: str
    secrets: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self):
        for key_id, secret in self.secrets.items():
            if not key_id or key_id == LEGACY_KEY_ID or any(c in key_id for c in ",=:"):
                raise ValueError(f"audit key id {key_id!r} is not a usable id")
            if len(secret) < 16:
                raise ValueError(f"audit key {key_id!r} is shorter than 16 bytes")
        if self.current not in self.secrets:
            raise ValueError("the current audit key id has no key")

    def secret(self, key_id: str) -> bytes | None:
        return self.secrets.get(key_id)


def audit_keys(pairs: Iterable[tuple[str, str]]) -> AuditKeys:
    """The keys from ``(key_id, secret)`` pairs, the current one first."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError("no audit key")
    secrets = {}
    for key_id, secret in pairs:
        if key_id in secrets:
            raise ValueError(f"audit key {key_id!r} named twice")
        secrets[key_id] = secret.encode("utf-8")
    return AuditKeys(pairs[0][0], secrets)


# -- entries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    recorded_at: datetime
    actor: str | None
    role: str | None
    action: str
    case_no: str | None
    subject: str | None
    content: str  # canonical JSON text
    key_id: str

    def canonical(self) -> str:
        fields = {
            "seq": self.seq,
            "at": utc_text(self.at),
            "recorded_at": utc_text(self.recorded_at),
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "case_no": self.case_no,
            "subject": self.subject,
            "content": self.content,
        }
        if self.key_id != LEGACY_KEY_ID:  # legacy entries were hashed without it
            fields["key_id"] = self.key_id
        return canonical_json(fields)


def entry_mac(keys: AuditKeys, previous_mac: str, entry: AuditEntry) -> str | None:
    """HMAC-SHA256 (under the entry's key) of the previous MAC followed by the entry's
    canonical JSON; a legacy entry's plain sha256; None when the entry's key is unknown."""
    message = (previous_mac + entry.canonical()).encode("utf-8")
    if entry.key_id == LEGACY_KEY_ID:
        return hashlib.sha256(message).hexdigest()
    secret = keys.secret(entry.key_id)
    if secret is None:
        return None
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def next_entry(
    last: Mapping | None, keys: AuditKeys, *, recorded_at: datetime, content, **fields
) -> tuple[AuditEntry, str, str]:
    """The entry that follows ``last`` (its ``seq`` and ``hash``; None when the trail is
    empty), under the current key: the entry, the MAC it links to, and its own MAC.
    ``fields`` are the entry's at, actor, role, action, case_no and subject."""
    previous_mac = last["hash"] if last else GENESIS_HASH
    entry = AuditEntry(
        seq=last["seq"] + 1 if last else 1,
        recorded_at=recorded_at,
        content=canonical_json(content),
        key_id=keys.current,
        **fields,
    )
    return entry, previous_mac, entry_mac(keys, previous_mac, entry)


def audit_view(row: Mapping) -> dict:
    """A stored entry for the API: its content as JSON again."""
    return {**row, "content": json.loads(row["content"])}


# -- checkpoints ---------------------------------------------------------------------------


def _checkpoint_mac(secret: bytes, record: Mapping) -> str:
    body = canonical_json({name: record.get(name) for name in CHECKPOINT_FIELDS})
    return hmac.new(secret, b"checkpoint\n" + body.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_checkpoint(keys: AuditKeys, database: str, seq: int, head: str, at: datetime) -> dict:
    """The checkpoint of a chain's head (entry ``seq`` has MAC ``head``), signed."""
    record = {
        "database": database,
        "seq": seq,
        "head": head,
        "at": utc_text(at),
        "key_id": keys.current,
    }
    return {**record, "signature": _checkpoint_mac(keys.secrets[keys.current], record)}


def checkpoint_problem(keys: AuditKeys, record) -> str | None:
    """Why a checkpoint read back cannot be trusted (None: it is signed by a known key)."""
    if not isinstance(record, Mapping) or not all(name in record for name in CHECKPOINT_FIELDS):
        return "不是检查点记录"
    if not isinstance(record["seq"], int) or not isinstance(record.get("signature"), str):
        return "不是检查点记录"
    secret = keys.secret(str(record["key_id"]))
    if secret is None:
        return f"签名密钥 {record['key_id']} 未知"
    if not hmac.compare_digest(_checkpoint_mac(secret, record), record["signature"]):
        return "签名不符（检查点被伪造或改动）"
    return None


@dataclass(frozen=True)
class CheckpointPolicy:
    """Checkpoint the head every ``entries`` new entries, or after ``seconds`` when any came."""

    entries: int = 100
    seconds: float = 300.0

    def __post_init__(self):
        if self.entries < 1 or self.seconds <= 0:
            raise ValueError("checkpoint every ≥ 1 entries and > 0 seconds")

    def due(self, last: Mapping | None, head_seq: int, now: datetime) -> bool:
        """Whether the head at ``head_seq`` needs a checkpoint after ``last`` (None: none)."""
        if head_seq == 0:
            return False
        if last is None:
            return True
        if head_seq <= last["seq"]:
            return False
        age = (now - datetime.fromisoformat(last["at"])).total_seconds()
        return head_seq - last["seq"] >= self.entries or age >= self.seconds


# -- verifying -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str


@dataclass(frozen=True)
class ChainReport:
    """What a walk of the chain found: entries verified, the head (seq, MAC), how many are
    legacy unkeyed ones, and the first break (None: intact)."""

    count: int
    head: tuple[int, str] | None
    legacy: int
    broken: ChainBreak | None


def verify_chain(
    rows: Iterable[tuple[AuditEntry, str, str]],
    keys: AuditKeys,
    checkpoints: Mapping[int, str] | None = None,
) -> ChainReport:
    """Walk ``(entry, prev_hash, hash)`` in sequence order against the keys and the
    checkpointed heads (``{seq: MAC}`` of this database); report the first break: an edited,
    missing or re-ordered entry, an unknown key, a legacy entry after keyed ones, a head that
    differs from its checkpoint, or a tail cut shorter than a checkpoint counted."""
    checkpoints = checkpoints or {}
    previous, expected, count, legacy, keyed = GENESIS_HASH, 1, 0, 0, False

    def report(broken: ChainBreak | None) -> ChainReport:
        head = (expected - 1, previous) if count else None
        return ChainReport(count, head, legacy, broken)

    for entry, prev_hash, stored in rows:
        if entry.seq != expected:
            return report(ChainBreak(expected, f"第 {expected} 条缺失（下一条是 {entry.seq}）"))
        if prev_hash != previous:
            return report(ChainBreak(entry.seq, "前一条的 MAC 不符（前一条被改动或删除）"))
        if entry.key_id == LEGACY_KEY_ID:
            if keyed:
                return report(ChainBreak(entry.seq, "未加密钥的条目出现在加密钥条目之后（被伪造）"))
            legacy += 1
        else:
            keyed = True
        mac = entry_mac(keys, prev_hash, entry)
        if mac is None:
            return report(ChainBreak(entry.seq, f"密钥 {entry.key_id} 未知，无法核验"))
        if not hmac.compare_digest(mac, stored):
            return report(ChainBreak(entry.seq, "内容与 MAC 不符（本条被改动）"))
        if entry.seq in checkpoints and checkpoints[entry.seq] != stored:
            return report(ChainBreak(entry.seq, "与检查点记录的链头不符（被改写后重新计算）"))
        previous, expected, count = stored, expected + 1, count + 1
    beyond = [seq for seq in checkpoints if seq >= expected]
    if beyond:
        return report(
            ChainBreak(
                expected,
                f"尾部被截断：检查点记到第 {max(beyond)} 条，数据库只剩 {count} 条",
            )
        )
    return report(None)
