"""``python -m bench.statements [N]``: the SQL statements each service sends per registration.

On these machines a round trip to PostgreSQL (a send, a poll, a receive) is most of what a
service spends per registration, so this counts them: the sandbox's database logs every
statement (``log_statement = all`` set on that database before the services connect, so other
runs are not disturbed), ``N`` registrations go through the front door after a warm-up, and the
server log's lines are counted per login role — one line per message, so a BEGIN or COMMIT
sent with other statements counts once. Background work (relay polls, the deadline clock)
falls into the window too and shows as fractions.

The server log is read from ``PG_LOG`` (default: Debian's PostgreSQL 15 log).
"""

import collections
import os
import re
import sys
import time

import psycopg
import requests

from bench import harness, registration

DEFAULT_LOG = "/var/log/postgresql/postgresql-15-main.log"
LINE = re.compile(r"\] (\S+)@(\S+) LOG:  (?:statement|execute [^:]*): (.{0,70})")


def count(registrations: int = 20, log_path: str | None = None) -> dict[str, collections.Counter]:
    """Statements per login role (first 60 characters of each, the counts per registration)."""
    log_path = log_path or os.environ.get("PG_LOG", DEFAULT_LOG)
    names = {}

    def prepare(database_url: str) -> None:
        registration.notify_when_done(database_url)
        names["db"] = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE \"{names['db']}\" SET log_statement = 'all'")

    with harness.running_system("statements", prepare=prepare) as system:
        completions = registration.Completions(system.database_url)
        try:
            send = registration._bancheng_sender(
                system.api, system.login("hall.staff"), completions
            )
            session = requests.Session()
            for _ in range(3):  # warm up: pools, prepared statements, queues
                assert send(session), "a warm-up registration failed"
            time.sleep(2)
            start = os.path.getsize(log_path)
            for _ in range(registrations):
                assert send(session), "a registration failed"
            time.sleep(2)
        finally:
            completions.close()
    with open(log_path, errors="replace") as log:
        log.seek(start)
        text = log.read()
    by_role: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for role, database, statement in LINE.findall(text):
        if database == names["db"]:
            by_role[role][statement.split("(")[0][:60]] += 1 / registrations
    return by_role


def main(argv=None) -> int:
    os.environ.setdefault("BANCHENG_DEMO", "1")
    argv = sys.argv[1:] if argv is None else argv
    by_role = count(int(argv[0]) if argv else 20)
    total = 0.0
    for role, statements in sorted(by_role.items(), key=lambda item: -sum(item[1].values())):
        total += sum(statements.values())
        print(f"{role:28s} {sum(statements.values()):6.1f} statements per registration")
        for statement, n in statements.most_common(12):
            print(f"      {n:5.1f}  {statement}")
    print(f"{'all services':28s} {total:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
