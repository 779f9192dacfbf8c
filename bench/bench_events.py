"""Per-event cost of appending to the event log (SPEC 15: it must not grow with the log's size).

Run: python bench/bench_events.py [--dir FOLDER]   (use a folder on the disk the homes live on;
fsync on tmpfs costs nothing and would flatter the numbers).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from workflow_cli.store.events import EventLog, read_events

SIZES = (1_000, 10_000)
BATCH = 100


def _run(folder: Path, n: int, *, fsync: bool) -> tuple[float, float, float]:
    """Append ``n`` events one by one; return (mean, first-tenth mean, last-tenth mean) seconds per event."""
    path = folder / f"events-{n}-{fsync}.jsonl"
    tenth = max(1, n // 10)
    marks: list[float] = []
    with EventLog(path) as log:
        log.open()
        start = time.perf_counter()
        for i in range(n):
            if i in (tenth, n - tenth):
                marks.append(time.perf_counter())
            log.append("task.completed", {"task": f"task_{i}", "outputs": {"value": i}}, fsync=fsync)
        total = time.perf_counter() - start
    assert len(read_events(path)) == n
    first = (marks[0] - start) / tenth
    last = (start + total - marks[1]) / tenth
    return total / n, first, last


def _run_batched(folder: Path, n: int) -> float:
    """Append ``n`` events in batches of BATCH with append_many (one write + one fsync each)."""
    path = folder / f"events-{n}-batched.jsonl"
    with EventLog(path) as log:
        log.open()
        start = time.perf_counter()
        for i in range(0, n, BATCH):
            log.append_many([("task.completed", {"task": f"task_{j}", "outputs": {"value": j}})
                             for j in range(i, min(n, i + BATCH))])
        total = time.perf_counter() - start
    return total / n


def main() -> None:
    """Print a table of per-event append costs in microseconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="folder to write the logs in (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-events-") as tmp:
        folder = Path(tmp)
        print(f"event log append cost, logs in {folder}")
        header = (f"{'events':>8} {'fsync us/ev':>12} {'first 10%':>10} {'last 10%':>10} "
                  f"{'no-fsync us/ev':>15} {'batch100 us/ev':>15}")
        print(header)
        print("-" * len(header))
        means: dict[int, float] = {}
        for n in SIZES:
            mean, first, last = _run(folder, n, fsync=True)
            nosync, _, _ = _run(folder, n, fsync=False)
            batched = _run_batched(folder, n)
            means[n] = mean
            print(f"{n:>8} {mean * 1e6:>12.1f} {first * 1e6:>10.1f} {last * 1e6:>10.1f} "
                  f"{nosync * 1e6:>15.2f} {batched * 1e6:>15.2f}")
        ratio = means[SIZES[-1]] / means[SIZES[0]]
        verdict = "flat" if ratio <= 1.5 else "GROWS"
        print(f"per-event cost at {SIZES[-1]:,} vs {SIZES[0]:,} events: {ratio:.2f}x ({verdict}; SPEC 15 allows 1.5x)")


if __name__ == "__main__":
    main()
