"""Filter-pattern engine benchmark: the whole detection pack against one CloudTrail record.

Run from the repository root (no database, no Django)::

    .venv/bin/python bench/filter_patterns.py [--seconds 1.0] [--repeats 5] [--strict]

What it measures (see bench/README.md, "Filter-pattern benchmark"):

1. Compiling the pack: ``parse()`` of every detection's pattern, once.
2. The pack over one event, as Klaxon runs it: a fresh ``LogEvent(message)`` (the JSON
   parsed once, lazily) and ``matches_event`` for each of the ~25 compiled patterns. On
   the largest record of the sample library (the worst case), and averaged over every
   record of the library.
3. For comparison, the naive way: ``pattern.matches(message)`` per pattern, which parses
   the message's JSON again for every pattern.

Each measurement runs for ``--seconds``, ``--repeats`` times; the best and median times
per event are printed, with events per second and pattern evaluations per second. The
target is the whole pack over one event in under 1 ms (the median, on the largest
record). Finally a ``BENCH_RESULT {json}`` line. ``--strict`` exits 2 when the target is
missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aws.cloudtrail_samples import SAMPLES  # noqa: E402
from aws.detections import DETECTIONS  # noqa: E402
from aws.filter_patterns import LogEvent, Pattern, parse  # noqa: E402

TARGET_MS = 1.0


def per_call_seconds(work: Callable[[], object], seconds: float, repeats: int) -> list[float]:
    """Seconds per call of ``work``: ``repeats`` samples, each from a run of ``seconds``."""
    # How many calls fill about a tenth of the run, so the clock is read rarely.
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            work()
        if time.perf_counter() - start > seconds / 10 or batch > 10_000_000:
            break
        batch *= 2
    samples = []
    for _ in range(repeats):
        calls = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(batch):
                work()
            calls += batch
        samples.append((time.perf_counter() - start) / calls)
    return samples


def pack_over(patterns: list[Pattern], message: str) -> Callable[[], int]:
    def run() -> int:
        event = LogEvent(message)
        return sum(pattern.matches_event(event) for pattern in patterns)

    return run


def naive_over(patterns: list[Pattern], message: str) -> Callable[[], int]:
    def run() -> int:
        return sum(pattern.matches(message) for pattern in patterns)

    return run


def library_over(patterns: list[Pattern], messages: list[str]) -> Callable[[], int]:
    def run() -> int:
        hits = 0
        for message in messages:
            event = LogEvent(message)
            hits += sum(pattern.matches_event(event) for pattern in patterns)
        return hits

    return run


def report(name: str, samples: list[float], events: int, patterns: int) -> dict[str, float]:
    best, median = min(samples) / events, statistics.median(samples) / events
    row = {
        "best_ms": best * 1000,
        "median_ms": median * 1000,
        "events_per_s": 1 / median,
        "evaluations_per_s": patterns / median,
    }
    print(
        f"{name:<52} {row['median_ms']:8.4f} ms/event (best {row['best_ms']:.4f})  "
        f"{row['events_per_s']:10,.0f} events/s  {row['evaluations_per_s']:12,.0f} evals/s"
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement")
    parser.add_argument("--strict", action="store_true", help="exit 2 when over target")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    patterns = [parse(d.filter_pattern) for d in DETECTIONS]
    compile_ms = (time.perf_counter() - start) * 1000
    largest = max(SAMPLES, key=lambda s: len(s.message))
    messages = [s.message for s in SAMPLES]
    count = len(patterns)
    print(f"Python {sys.version.split()[0]}; {count} detections compiled in {compile_ms:.2f} ms")
    print(f"largest record: {largest.id} ({len(largest.message):,} characters); "
          f"library: {len(messages)} records")  # fmt: skip
    print()

    results = {
        "pack_largest": report(
            f"pack over {largest.id}",
            per_call_seconds(pack_over(patterns, largest.message), args.seconds, args.repeats),
            1,
            count,
        ),
        "pack_library": report(
            "pack over each library record (mean)",
            per_call_seconds(library_over(patterns, messages), args.seconds, args.repeats),
            len(messages),
            count,
        ),
        "naive_largest": report(
            f"naive (JSON per pattern) over {largest.id}",
            per_call_seconds(naive_over(patterns, largest.message), args.seconds, args.repeats),
            1,
            count,
        ),
    }
    hits = pack_over(patterns, largest.message)()
    median = results["pack_largest"]["median_ms"]
    verdict = "PASS" if median < TARGET_MS else "FAIL"
    print()
    print(f"{verdict}: the pack over one event takes {median:.4f} ms (target < {TARGET_MS} ms); "
          f"{hits} detection(s) fire on {largest.id}")  # fmt: skip
    summary = {
        "detections": count,
        "compile_ms": compile_ms,
        "target_ms": TARGET_MS,
        "pass": verdict == "PASS",
        **{f"{name}_{key}": value for name, row in results.items() for key, value in row.items()},
    }
    print("BENCH_RESULT " + json.dumps(summary, sort_keys=True))
    return 2 if args.strict and verdict == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
