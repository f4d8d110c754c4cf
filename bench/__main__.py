"""``python -m bench [name ...] [--small]``: run the benchmarks, print the table, write JSON."""

import argparse
import os
import signal
import sys

from bench import harness

BENCHMARKS = (
    "registration",
    "rating_ingestion",
    "deadline_scan",
    "reporting_scale",
    "precedents",
    "registration_cluster",
)
# a benchmark whose module has another name
MODULES = {"registration_cluster": "cluster"}  # bench/cluster.py: registration on 3 nodes


def main(argv=None) -> int:
    # a stopped benchmark still stops its services and drops its database and vhost
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # a benchmark's system is a demo district in a sandbox, and this process calls it with the
    # demo keys too (its RPCs are signed, its events verified)
    os.environ.setdefault("BANCHENG_DEMO", "1")
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument(
        "--small", action="store_true", help="tiny sizes: a correctness check, not a measurement"
    )
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    rows: list[harness.Row] = []
    for name in args.names or BENCHMARKS:
        module = __import__(f"bench.{MODULES.get(name, name)}", fromlist=["run"])
        rows += module.run(**(module.SMALL if args.small else {}))
    harness.print_table(rows)
    label = "small" if args.small else ("latest" if not args.names else "-".join(args.names))
    path = harness.write_results(rows, label)
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
