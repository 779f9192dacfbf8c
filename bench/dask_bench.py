"""The dask executor's benchmark (SPEC 17): throughput on 1, 2 and 4 workers, and its per-task overhead.

Run from the repository root, with the ``[dask]`` extra installed:

    python bench/dask_bench.py                 # 1,000 ``sleep 1`` tasks on 1, 2, 4 workers; 1,000 ``true`` tasks
    python bench/dask_bench.py --tasks 200 --workers 1,2
    python bench/dask_bench.py --only overhead

It starts a real ``dask scheduler`` and ``dask worker --nthreads 4 --no-nanny`` processes on 127.0.0.1,
then runs the engine in this process (``ops.run.start``, events fsynced as always) on a document of
independent ``command`` tasks with ``max_parallel`` equal to the cluster's threads:

- throughput: ``sleep 1`` tasks, wall time from ``start`` to its return and tasks per second (the
  ideal is ``threads`` tasks per second);
- overhead: ``true`` tasks with the dask executor (one worker of 4 threads) and with the local
  executor, both with ``max_parallel`` 4; the per-task overhead is the difference of the two wall
  times divided by the number of tasks.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

THREADS = 4


class Cluster:
    """A scheduler and ``n`` worker processes of :data:`THREADS` threads each."""

    def __init__(self, root: Path, workers: int) -> None:
        dask = str(Path(sys.executable).with_name("dask"))
        sched_file = root / f"scheduler-{workers}.json"
        self.procs = [self._spawn(root, "scheduler", [dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                                      "--no-dashboard", "--scheduler-file", str(sched_file)])]
        while not (sched_file.exists() and sched_file.stat().st_size):
            time.sleep(0.05)
        self.address = json.loads(sched_file.read_text())["address"]
        for i in range(workers):
            self.procs.append(self._spawn(root, f"worker-{i}", [dask, "worker", self.address, "--nthreads", str(THREADS),
                                                                 "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                                                                 "--local-directory", str(root / "scratch")]))
        from distributed import Client

        with Client(self.address, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=120)

    @staticmethod
    def _spawn(root: Path, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with open(root / f"{name}.log", "ab") as log:
            return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def close(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _document(n: int, argv: list[str]) -> dict[str, Any]:
    return {"version": "2.0.0", "name": f"dask-bench-{n}",
            "tasks": {f"t{i}": {"action": "command", "parameters": {"command": argv}} for i in range(n)}}


def run_once(root: Path, n: int, argv: list[str], parallel: int, address: str | None) -> float:
    """Create a fresh instance of ``n`` tasks running ``argv`` and time ``start`` (seconds)."""
    from workflow_cli.ops.create import create_instance
    from workflow_cli.ops.run import start
    from workflow_cli.store.home import Home

    home_dir = Path(tempfile.mkdtemp(prefix="home-", dir=root))
    home_dir.chmod(0o700)
    home = Home(home_dir)
    doc = root / f"doc-{n}.json"
    doc.write_text(json.dumps(_document(n, argv)))
    created = create_instance(home, str(doc))
    kw: dict[str, Any] = {"executor": "dask", "scheduler_address": address} if address else {"executor": "local"}
    began = time.perf_counter()
    result = start(home, created.id, max_parallel=parallel, **kw)
    wall = time.perf_counter() - began
    if result.exit_code != 0:
        raise SystemExit(f"the run ended with exit {result.exit_code}: {result.status.get('error')}")
    return wall


def throughput(root: Path, n: int, workers: list[int]) -> list[str]:
    rows = []
    for count in workers:
        cluster = Cluster(root, count)
        try:
            parallel = count * THREADS
            wall = run_once(root, n, ["sleep", "1"], parallel, cluster.address)
        finally:
            cluster.close()
        rows.append(f"| {n} x `sleep 1` | {count} x {THREADS} threads | {parallel} | {wall:.1f} s | {n / wall:.2f} | "
                    f"{n / parallel:.0f} s |")
        print(rows[-1], flush=True)
    return rows


def overhead(root: Path, n: int) -> list[str]:
    cluster = Cluster(root, 1)
    try:
        run_once(root, 20, ["true"], THREADS, cluster.address)  # warm the workers' imports
        remote = run_once(root, n, ["true"], THREADS, cluster.address)
    finally:
        cluster.close()
    run_once(root, 20, ["true"], THREADS, None)
    local = run_once(root, n, ["true"], THREADS, None)
    row = (f"| {n} x `true`, max_parallel {THREADS} | dask {remote:.2f} s ({n / remote:.0f} tasks/s) | local {local:.2f} s "
           f"({n / local:.0f} tasks/s) | {(remote - local) / n * 1000:.2f} ms/task |")
    print(row, flush=True)
    return [row]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts for the throughput rows")
    parser.add_argument("--only", choices=("throughput", "overhead"))
    parser.add_argument("--dir", default=None, help="where homes and logs go (default: a temporary folder)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dask-bench-", dir=args.dir))
    print(f"# dask_bench: {args.tasks} tasks, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, folder {root}", flush=True)
    if args.only != "overhead":
        print("| workload | workers | max_parallel | wall | tasks/s | ideal |\n|---|---|---|---|---|---|", flush=True)
        throughput(root, args.tasks, [int(w) for w in args.workers.split(",")])
    if args.only != "throughput":
        print("| workload | dask executor | local executor | dask overhead |\n|---|---|---|---|", flush=True)
        overhead(root, args.tasks)


if __name__ == "__main__":
    main()
