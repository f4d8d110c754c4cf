"""The audit chain (pure): MAC'd entries, key ids and rotation, signed checkpoints, and every
tampering verify must name: an edit, a removal, a forged plain-sha256 entry, a cut tail."""

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services.accountability import chain

SHANGHAI = ZoneInfo("Asia/Shanghai")
KEYS = chain.audit_keys([("k2", "a-second-key-of-32-characters!!"), ("k1", "the-first-key-16+")])
START = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


def entries(n, keys=KEYS, first=None):
    """``n`` entries as the store appends them: ``(entry, prev_hash, hash)``."""
    rows, last = [], first
    for seq in range((first or {"seq": 0})["seq"] + 1, n + 1):
        entry, previous, mac = chain.next_entry(
            last,
            keys,
            recorded_at=START + timedelta(minutes=seq, seconds=1),
            content={"n": seq, "text": "态度问题"},
            at=START + timedelta(minutes=seq),
            actor="S0006",
            role="supervisor",
            action="finding",
            case_no=f"XW-{seq}",
            subject=None,
        )
        rows.append((entry, previous, mac))
        last = {"seq": seq, "hash": mac}
    return rows


def test_an_intact_chain_verifies_and_reports_its_head():
    rows = entries(5)
    report = chain.verify_chain(rows, KEYS)
    assert (report.count, report.broken, report.legacy) == (5, None, 0)
    assert report.head == (5, rows[-1][2])
    assert {entry.key_id for entry, _, _ in rows} == {"k2"}  # the current key, first listed


def test_the_mac_is_keyed_and_does_not_depend_on_the_time_zone():
    entry, previous, mac = entries(1)[0]
    elsewhere = replace(entry, at=entry.at.astimezone(timezone(timedelta(hours=-5))))
    assert chain.entry_mac(KEYS, previous, elsewhere) == mac
    other = chain.audit_keys([("k2", "somebody-elses-key-32-characters")])
    assert chain.entry_mac(other, previous, entry) != mac
    # a keyed MAC is not the sha256 anyone could recompute from the row
    plain = hashlib.sha256((previous + entry.canonical()).encode()).hexdigest()
    assert mac != plain


def test_an_edited_entry_is_named():
    rows = entries(5)
    entry, prev, mac = rows[2]
    rows[2] = (replace(entry, actor="S0001"), prev, mac)
    report = chain.verify_chain(rows, KEYS)
    assert (report.count, report.broken.seq) == (2, 3)
    assert "本条被改动" in report.broken.problem


def test_a_removed_entry_is_named():
    rows = entries(5)
    del rows[1]
    report = chain.verify_chain(rows, KEYS)
    assert (report.count, report.broken.seq) == (1, 2)
    assert "缺失" in report.broken.problem


def test_an_entry_forged_with_a_recomputed_plain_sha256_is_refused():
    """Whoever can write the table but has no key: edit an entry, recompute sha256 for it and
    every later one (as with the unkeyed chain), under the legacy id or the real one."""
    rows = entries(4)
    entry, prev, _ = rows[1]
    for key_id in (chain.LEGACY_KEY_ID, "k2"):
        forged = replace(entry, content=chain.canonical_json({"n": 0}), key_id=key_id)
        digest = hashlib.sha256((prev + forged.canonical()).encode()).hexdigest()
        tampered = [rows[0], (forged, prev, digest)]
        report = chain.verify_chain(tampered, KEYS)
        assert report.broken is not None and report.broken.seq == 2, key_id
        assert report.count == 1


def test_an_unknown_key_is_named_and_retired_keys_still_verify():
    old = chain.audit_keys([("k1", "the-first-key-16+")])
    rows = entries(3, keys=old)
    rows += entries(5, first={"seq": 3, "hash": rows[-1][2]})  # rotated: k2 from entry 4 on
    assert [e.key_id for e, _, _ in rows] == ["k1"] * 3 + ["k2"] * 2
    assert chain.verify_chain(rows, KEYS).broken is None
    report = chain.verify_chain(rows, chain.audit_keys([("k2", "a-second-key-of-32-characters!!")]))
    assert report.broken.seq == 1 and "密钥 k1 未知" in report.broken.problem


def test_legacy_unkeyed_entries_are_accepted_only_before_the_keyed_ones():
    legacy = []
    previous = chain.GENESIS_HASH
    for entry, _, _ in entries(2):
        entry = replace(entry, key_id=chain.LEGACY_KEY_ID)
        digest = chain.entry_mac(KEYS, previous, entry)
        assert digest == hashlib.sha256((previous + entry.canonical()).encode()).hexdigest()
        legacy.append((entry, previous, digest))
        previous = digest
    keyed = entries(4, first={"seq": 2, "hash": previous})
    report = chain.verify_chain(legacy + keyed, KEYS)
    assert (report.count, report.legacy, report.broken) == (4, 2, None)

    # an unkeyed entry after keyed ones is a forgery, even with a correct sha256
    last_entry, last_prev, _ = keyed[-1]
    forged = replace(last_entry, key_id=chain.LEGACY_KEY_ID, actor="S0001")
    digest = hashlib.sha256((last_prev + forged.canonical()).encode()).hexdigest()
    report = chain.verify_chain([*legacy, keyed[0], (forged, last_prev, digest)], KEYS)
    assert report.broken.seq == 4 and "未加密钥" in report.broken.problem


def test_a_cut_tail_is_named_against_the_checkpoint():
    rows = entries(6)
    heads = {4: rows[3][2], 6: rows[5][2]}
    assert chain.verify_chain(rows, KEYS, heads).broken is None
    report = chain.verify_chain(rows[:5], KEYS, heads)
    assert report.count == 5 and report.broken.seq == 6
    assert "尾部被截断" in report.broken.problem and "第 6 条" in report.broken.problem
    # every entry gone still counts as a cut tail
    assert chain.verify_chain([], KEYS, heads).broken.seq == 1


def test_a_head_that_differs_from_its_checkpoint_is_named():
    rows = entries(4)
    report = chain.verify_chain(rows, KEYS, {3: "f" * 64})
    assert report.broken.seq == 3 and "检查点" in report.broken.problem


def test_a_checkpoint_is_signed_and_a_changed_one_is_refused():
    record = chain.signed_checkpoint(KEYS, "bancheng/16384", 7, "a" * 64, START)
    assert record["key_id"] == "k2" and len(record["signature"]) == 64
    assert chain.checkpoint_problem(KEYS, record) is None
    for change in ({"seq": 3}, {"head": "b" * 64}, {"database": "other/1"}):
        assert "签名不符" in chain.checkpoint_problem(KEYS, {**record, **change})
    assert "未知" in chain.checkpoint_problem(KEYS, {**record, "key_id": "k9"})
    assert chain.checkpoint_problem(KEYS, ["not", "a", "record"]) == "不是检查点记录"
    assert chain.checkpoint_problem(KEYS, {"seq": 1}) == "不是检查点记录"


def test_the_checkpoint_policy_counts_entries_and_time():
    policy = chain.CheckpointPolicy(entries=10, seconds=60)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    last = {"seq": 20, "at": chain.utc_text(now - timedelta(seconds=30))}
    assert policy.due(None, 1, now) and not policy.due(None, 0, now)
    assert not policy.due(last, 20, now + timedelta(hours=1))  # nothing new
    assert not policy.due(last, 29, now) and policy.due(last, 30, now)
    assert policy.due(last, 21, now + timedelta(seconds=30))
    with pytest.raises(ValueError):
        chain.CheckpointPolicy(entries=0)


def test_keys_need_ids_and_enough_length_and_never_show_in_a_repr():
    assert "the-first-key" not in repr(KEYS)
    with pytest.raises(ValueError):
        chain.audit_keys([("k1", "short")])
    with pytest.raises(ValueError):
        chain.audit_keys([(chain.LEGACY_KEY_ID, "long-enough-secret-here")])
    with pytest.raises(ValueError):
        chain.audit_keys([("k1", "long-enough-secret-1"), ("k1", "long-enough-secret-2")])


def test_utc_text_is_stable():
    moment = datetime(2026, 1, 1, 8, 0, tzinfo=SHANGHAI)
    assert chain.utc_text(moment) == datetime(2026, 1, 1, 0, 0, tzinfo=UTC).isoformat(
        timespec="microseconds"
    )
