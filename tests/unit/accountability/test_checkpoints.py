"""The audit trail's settings and checkpoints: keys with ids from the config (refused outside
demo mode when they are the repository's), the checkpoint file, and when the head is
checkpointed (the service's timer through ``handlers.checkpoint_audit_trail``)."""

import json
from datetime import datetime

import pytest

from services.accountability import audit, chain, handlers
from services.accountability.checkpoints import CheckpointJournal, checkpoint_path
from services.common.config import REPO_ROOT
from services.common.secrets import DevelopmentSecretError
from tests.unit.accountability.fakes import FakeStore, FakeUnitOfWork
from tests.unit.fakes import SHANGHAI, FakeClock

KEYS = chain.audit_keys([("t1", "a-test-audit-key-long-enough")])
HEAD = {"database": "bancheng/16384", "seq": 3, "hash": "c" * 64}


def config(demo: bool, **settings) -> dict:
    return {"BANCHENG": {"DEMO": demo, **settings}}


def test_audit_key_alone_is_key_k1_and_audit_keys_rotate_current_first():
    keys = audit.keys_from(config(False, AUDIT_KEY="a-real-production-audit-key"))
    assert keys.current == "k1"
    keys = audit.keys_from(
        config(
            False,
            AUDIT_KEY="ignored-when-keys-are-listed",
            AUDIT_KEYS="k2:the-second-production-key, k1:a-real-production-audit-key",
        )
    )
    assert keys.current == "k2" and set(keys.secrets) == {"k1", "k2"}


def test_the_development_audit_key_runs_only_in_demo_mode():
    assert audit.keys_from(config(True, AUDIT_KEY="demo-audit-key-change-me")).current == "k1"
    with pytest.raises(DevelopmentSecretError, match="AUDIT_KEY"):
        audit.keys_from(config(False, AUDIT_KEY="demo-audit-key-change-me"))
    with pytest.raises(DevelopmentSecretError, match="AUDIT_KEY"):
        audit.keys_from(config(False))
    with pytest.raises(DevelopmentSecretError, match="AUDIT_KEYS"):
        audit.keys_from(config(False, AUDIT_KEYS="no-id-here"))


def test_the_checkpoint_file_is_under_the_repository_unless_absolute(tmp_path):
    assert checkpoint_path({}) == REPO_ROOT / "run" / "audit-checkpoints.log"
    assert checkpoint_path(config(True, AUDIT_CHECKPOINT_FILE=str(tmp_path / "c.log"))) == (
        tmp_path / "c.log"
    )


def test_the_journal_appends_lines_and_trusts_only_signed_ones(tmp_path):
    path = tmp_path / "sub" / "checkpoints.log"
    journal = CheckpointJournal(path, KEYS)
    assert list(journal.records()) == [] and journal.last_for(HEAD["database"]) is None
    record = chain.signed_checkpoint(
        KEYS, HEAD["database"], 3, HEAD["hash"], datetime.now(SHANGHAI)
    )
    journal.append(record)
    with open(path, "a") as forged:  # a line nobody signed, claiming a later head
        forged.write(json.dumps({**record, "seq": 99}) + "\n" + "not json\n")
    assert [line for line, _ in journal.records()] == [1, 2, 3]
    assert list(journal.records())[2] == (3, None)
    fresh = CheckpointJournal(path, KEYS)  # a process started later reads the file
    assert fresh.last_for(HEAD["database"])["seq"] == 3


def trail(tmp_path, entries=2, seconds=300):
    journal = CheckpointJournal(tmp_path / "checkpoints.log", KEYS)
    return audit.AuditTrail(KEYS, journal, chain.CheckpointPolicy(entries, seconds))


def test_the_head_is_checkpointed_when_due_and_never_twice(tmp_path):
    audited = trail(tmp_path)
    first = audited.checkpoint(HEAD)
    assert (first["seq"], first["head"]) == (3, "c" * 64)
    assert chain.checkpoint_problem(KEYS, first) is None
    assert audited.checkpoint({**HEAD, "seq": 4}) is None  # 1 new entry, 2 needed, too soon
    assert audited.checkpoint({**HEAD, "seq": 5})["seq"] == 5
    assert audited.checkpoint({**HEAD, "seq": 5}, when_due=False) is None  # the same head
    assert audited.checkpoint({**HEAD, "seq": 0, "hash": None}, when_due=False) is None
    assert len(list(audited.journal.records())) == 2


def test_the_timer_checkpoints_the_committed_head(tmp_path):
    uow = FakeUnitOfWork(FakeStore(), FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)))
    audited = trail(tmp_path, entries=1)
    assert handlers.checkpoint_audit_trail(uow, audited) is None  # an empty trail
    uow.store.append_audit_entry(action="finding", actor="S0006", role="supervisor", at=None,
                                 content={})  # fmt: skip
    written = handlers.checkpoint_audit_trail(uow, audited)
    assert (written["database"], written["seq"], written["head"]) == ("fake/1", 1, "mac-1")
