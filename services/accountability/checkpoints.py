"""The checkpoint file: signed heads of the audit chain, kept outside the database.

One JSON record a line, appended (``O_APPEND``, flushed and fsync'd) and never rewritten; what a
record says and how it is signed is :mod:`services.accountability.chain`. The file is meant to
live where the database's administrators cannot rewrite it (another volume, a log shipper);
``AUDIT_CHECKPOINT_FILE`` says where, ``run/audit-checkpoints.log`` by default.
"""

import json
import os
from collections.abc import Iterator
from pathlib import Path

from services.accountability import chain
from services.common.config import REPO_ROOT, service_setting

DEFAULT_FILE = "run/audit-checkpoints.log"


def checkpoint_path(config: dict) -> Path:
    """``AUDIT_CHECKPOINT_FILE`` from the config; a relative path is under the repository."""
    path = Path(service_setting(config, "AUDIT_CHECKPOINT_FILE") or DEFAULT_FILE)
    return path if path.is_absolute() else REPO_ROOT / path


class CheckpointJournal:
    """Appends checkpoint records to a file and reads them back, remembering the last one
    written for each database so that deciding whether one is due reads nothing."""

    def __init__(self, path: Path, keys: chain.AuditKeys):
        self.path = Path(path)
        self.keys = keys
        self._last: dict[str, dict] = {}
        self._scanned = False

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(descriptor, line.encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        self._last[record["database"]] = record

    def records(self) -> Iterator[tuple[int, object]]:
        """Every line as ``(line number, parsed JSON or None when it is not JSON)``."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except ValueError:
                    yield number, None

    def last_for(self, database: str) -> dict | None:
        """The latest signed record of ``database`` (written here, or in the file when first
        asked; a line that does not verify is not taken for one)."""
        if not self._scanned:
            for _, record in self.records():
                if chain.checkpoint_problem(self.keys, record) is None:
                    known = self._last.get(record["database"])
                    if known is None or record.get("seq", 0) >= known.get("seq", 0):
                        self._last[record["database"]] = record
            self._scanned = True
        return self._last.get(database)
