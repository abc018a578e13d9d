"""`python -m mhin_bench [--quick] [--only NAME]...` (what `make bench` runs).

Prints a table, writes bench-results/<time>.json and, after a full run (all
benchmarks at full size), puts the table into docs/performance.md between its
markers. Exit status 1 when a benchmark failed (skipped ones do not count).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from mhin_bench import report
from mhin_bench.context import FULL, QUICK
from mhin_bench.suite import NAMES, run_suite
from mhin_devkit.kafka_broker import repo_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mhin_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: proves the suite works, measures nothing useful")
    parser.add_argument("--only", action="append", choices=NAMES, default=[], metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(NAMES)}")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3; 2 when quick)")
    parser.add_argument("--results-dir", type=Path, default=repo_root() / "bench-results",
                        help="where the JSON goes (default: bench-results/)")
    parser.add_argument("--docs", type=Path,
                        help="markdown file whose table to replace (default after a full run: "
                             "docs/performance.md)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.runs:
        sizes = dataclasses.replace(sizes, runs=args.runs)

    result = run_suite(sizes, quick=args.quick, only=tuple(args.only))
    text = report.summary(result)
    print("\n" + text)
    print(f"\nresults: {report.write_json(result, args.results_dir)}")
    docs = args.docs
    if docs is None and not args.quick and not args.only:
        docs = repo_root() / "docs" / "performance.md"
    if docs is not None:
        report.update_docs(docs, text)
        print(f"table written to {docs}")
    return 1 if any(outcome.status == "failed" for outcome in result.outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
