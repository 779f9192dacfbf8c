"""Profile one engine case of bench/run.py with cProfile: where does the per-task time go?

Run: python bench/profile_engine.py [WORKLOAD] [KIND] [--top N] [--sort cumtime|tottime] [--dir FOLDER]
     e.g. python bench/profile_engine.py diamond-1000 noop

Only ``start()`` is profiled (create and a one-task warm-up run first, unprofiled). cProfile sees one
thread, so the runner's thread (scheduling, journal, fsync) and the executor's worker threads (the
actions themselves: the python call, the process spawn) are profiled separately: every attempt the
LocalExecutor runs is wrapped, in this process only, in a profiler of its own, and the worker stats
are merged. Product code is not changed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import MAX_PARALLEL, WORKLOADS, write_doc  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="diamond-1000", choices=sorted(WORKLOADS))
    parser.add_argument("kind", nargs="?", default="noop", choices=("noop", "python", "command", "command-sh"))
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--sort", default="cumtime", choices=("cumtime", "tottime"))
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()

    from workflow_cli.engine.executors import local
    from workflow_cli.ops.create import create_instance
    from workflow_cli.ops.run import start
    from workflow_cli.store.home import Home, init_home

    worker_stats: list[cProfile.Profile] = []
    lock = threading.Lock()
    original = local.LocalExecutor._execute

    def profiled_execute(self, fn, key):  # type: ignore[no-untyped-def]
        prof = cProfile.Profile()
        prof.enable()
        try:
            return original(self, fn, key)
        finally:
            prof.disable()
            with lock:
                worker_stats.append(prof)

    with tempfile.TemporaryDirectory(prefix="wf-prof-", dir=args.dir) as tmp:
        folder = Path(tmp)
        home = Home(init_home(folder / "home").root)
        warm = write_doc(folder, "warmup", {"only": []}, args.kind)
        start(home, create_instance(home, str(warm)).id, max_parallel=MAX_PARALLEL)
        doc = write_doc(folder, args.workload, WORKLOADS[args.workload](), args.kind)
        created = create_instance(home, str(doc))
        local.LocalExecutor._execute = profiled_execute  # type: ignore[method-assign]
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        result = start(home, created.id, max_parallel=MAX_PARALLEL)
        prof.disable()
        elapsed = time.perf_counter() - t0
        local.LocalExecutor._execute = original  # type: ignore[method-assign]
        assert result.exit_code == 0, result.status.get("status")

    print(f"== {args.workload} {args.kind}: start() {elapsed:.3f} s under the profiler ==")
    print(f"\n-- runner thread (top {args.top} by {args.sort}) --")
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    if worker_stats:
        out = io.StringIO()
        stats = pstats.Stats(worker_stats[0], stream=out)
        for p in worker_stats[1:]:
            stats.add(p)
        print(f"-- executor worker threads, {len(worker_stats)} attempts merged (top {args.top} by {args.sort}) --")
        stats.sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())
    else:
        print("-- no attempt ran on the executor's threads (all inline) --")


if __name__ == "__main__":
    main()
