"""Run the benchmarks and write their numbers into benchmarks/ (``make bench``).

    python -m benchmarks.run            # all of them
    python -m benchmarks.run shapes     # only bench_shapes.py
    python -m benchmarks.run extension  # %load_ext convclinic: exception -> diagnosis box
    python -m benchmarks.run --quick    # fewer repetitions (a smoke run)
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import pathlib
import sys

from benchmarks.harness import machine

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results"


def available():
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {available()})")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available()}")
    RESULTS.mkdir(exist_ok=True)
    where = machine()
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"== {name}", flush=True)
        numbers = module.run(quick=args.quick)
        record = {
            "benchmark": name,
            "measured": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "quick": args.quick,
            "machine": where,
            "results": numbers,
        }
        (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
        print(json.dumps(numbers, indent=2), flush=True)
    write_summary()
    return 0


def write_summary():
    """Regenerate RESULTS.md from every results/*.json."""
    lines = ["# Benchmark results", "", "Written by `make bench` (`python -m benchmarks.run`). Medians unless named.", ""]
    for path in sorted(RESULTS.glob("*.json")):
        record = json.loads(path.read_text())
        m = record["machine"]
        lines += [
            f"## {record['benchmark']}",
            "",
            f"Measured {record['measured']} on {m['cpu']}, {m['cores']} cores, {m['memory']}, "
            f"Python {m['python']}, GPU: {m['gpu']}{' (quick run)' if record.get('quick') else ''}.",
            "",
            "```json",
            json.dumps(record["results"], indent=2),
            "```",
            "",
        ]
    (HERE / "RESULTS.md").write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
