"""Rebuild reporting's read models from its event log and prove they equal the live ones.

    python -m services.reporting.replay [--database-url URL] [--keep-rebuilt]

In one transaction that holds the consumers off: copy the live tables aside, truncate them,
replay every logged event in log order through the same projection the consumers use (a
logged batch, ``cases_registered``, expanded into its cases there as its consumer did), and
compare each table's row count and checksum with its live copy. Equal: exit 0. Different: print
which tables differ and a few keys on each side, roll back (the live tables stay) and exit 1 —
or, with ``--keep-rebuilt``, commit the rebuilt tables instead.
"""

import argparse
import sys

import psycopg
from psycopg.rows import dict_row

from services.common.config import database_url, load_config
from services.common.unit_of_work import BoundStore
from services.reporting import store
from services.reporting.projection import project


def replay(conn, keep_rebuilt: bool = False) -> dict:
    """Rebuild inside ``conn``; returns {events, tables: {table: {live, rebuilt, equal}}}."""
    with conn.transaction():
        cur = conn.cursor()
        store.lock_for_replay(cur)
        store.keep_live_copies(cur)
        store.truncate_read_models(cur)
        rows, events = BoundStore(store, cur), 0
        for event in store.logged_events(conn):
            project(rows, event)
            events += 1
        tables = {}
        for table in store.READ_MODELS:
            live = store.checksum(cur, table, f"live_{table}")
            rebuilt = store.checksum(cur, table)
            tables[table] = {"live": live, "rebuilt": rebuilt, "equal": live == rebuilt}
            if live != rebuilt:
                tables[table]["differences"] = store.differences(cur, table)
        equal = all(result["equal"] for result in tables.values())
        if not equal and not keep_rebuilt:
            raise _Rollback({"events": events, "tables": tables, "equal": equal})
    return {"events": events, "tables": tables, "equal": equal}


class _Rollback(Exception):
    """Leaves the transaction (rolling it back) carrying the comparison."""

    def __init__(self, result: dict):
        super().__init__("read models differ")
        self.result = result


def run(url: str, keep_rebuilt: bool = False) -> dict:
    with psycopg.connect(url, row_factory=dict_row, options="-c TimeZone=Asia/Shanghai") as conn:
        try:
            return replay(conn, keep_rebuilt)
        except _Rollback as rollback:
            return rollback.result


def report(result: dict) -> str:
    lines = [f"replayed {result['events']} events"]
    for table, outcome in result["tables"].items():
        live, rebuilt = outcome["live"], outcome["rebuilt"]
        verdict = "equal" if outcome["equal"] else "DIFFERENT"
        lines.append(f"  {table}: {verdict} (live {live['rows']} rows, rebuilt {rebuilt['rows']})")
        for side, keys in outcome.get("differences", {}).items():
            if keys:
                lines.append(f"    {side}: {', '.join(keys)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep-rebuilt", action="store_true")
    args = parser.parse_args(argv)
    url = args.database_url or database_url(load_config())
    result = run(url, args.keep_rebuilt)
    print(report(result))
    return 0 if result["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
