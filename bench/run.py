"""workflow-cli performance benchmark (SPEC 15): one command, one printed table.

Run from the repository root:

    python bench/run.py            # everything but the 10,000-task command workloads
    python bench/run.py --quick    # one repetition, fewer command workloads (a few minutes less)
    python bench/run.py --full     # also the 10,000-task command workloads (~20,000 process spawns)
    python bench/run.py --only diamond-1000/noop,startup

Each engine case runs in a child process (``run.py --child SPEC``) so that its peak RSS is its own:
the child makes a home, warms up on a one-task workflow of the same kind, then for each repetition
calls ``create_instance`` (timed as "create") and ``start(max_parallel=2)`` (timed as "engine").
The floor is a plain-Python 2-thread pool doing the same work on the same graph in topological order,
with no persistence. Durability stays on: every event the engine writes is fsynced, so run it on the
disk your homes live on (``--dir``); tmpfs makes fsync free and flatters the numbers.
See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    # python tasks call ``_bench_tasks:noop``; in-process runs import it through this sys.path entry.
    sys.path.insert(0, str(BENCH_DIR))

import _bench_tasks  # noqa: E402  (needs the sys.path entry above)

MAX_PARALLEL = 2
LAYER_WIDTH = 10
CHILD_MARK = "BENCH-CHILD-RESULT "

# Targets (engine issue "Performance", foundation issue, SPEC 15; start-up: performance issue 16).
TARGET_OVERHEAD_MS = {"noop": 0.10, "python": 0.10, "command": 0.25, "command-sh": 0.25}
TARGET_FLAT_RATIO = 1.5
TARGET_RSS_MIB = 150.0
TARGET_RUN_FIXED_S = 0.15
TARGET_VERSION_S = 0.06
TARGET_VALIDATE_S = 1.0

KINDS = ("noop", "python", "command", "command-sh")


# --------------------------------------------------------------------------------------------------
# Workloads: graphs as {task id: [dependency ids]} in topological (insertion) order
# --------------------------------------------------------------------------------------------------
def wide_diamond(n: int) -> dict[str, list[str]]:
    """Layers of 10 tasks; each task of a layer depends on two tasks of the previous layer."""
    graph: dict[str, list[str]] = {}
    layers = n // LAYER_WIDTH
    for layer in range(layers):
        for j in range(LAYER_WIDTH):
            deps = [] if layer == 0 else [f"t{layer - 1}_{j}", f"t{layer - 1}_{(j + 1) % LAYER_WIDTH}"]
            graph[f"t{layer}_{j}"] = deps
    return graph


def chain(n: int) -> dict[str, list[str]]:
    """``n`` tasks, each depending on the one before."""
    return {f"c{i}": ([f"c{i - 1}"] if i else []) for i in range(n)}


def fan_out(n: int) -> dict[str, list[str]]:
    """A root, ``n`` independent tasks that depend on it, and a join that depends on all of them."""
    graph: dict[str, list[str]] = {"root": []}
    workers = [f"w{i}" for i in range(n)]
    for w in workers:
        graph[w] = ["root"]
    graph["join"] = workers
    return graph


WORKLOADS: dict[str, Callable[[], dict[str, list[str]]]] = {
    "diamond-100": lambda: wide_diamond(100),
    "diamond-1000": lambda: wide_diamond(1_000),
    "diamond-10000": lambda: wide_diamond(10_000),
    "chain-200": lambda: chain(200),
    "fanout-1000": lambda: fan_out(1_000),
}


def task_action(kind: str) -> dict[str, Any]:
    """The action part of a task of ``kind``."""
    if kind == "noop":
        return {"action": "noop"}
    if kind == "python":
        return {"action": "python", "parameters": {"callable": "_bench_tasks:noop"}}
    if kind == "command":
        return {"action": "command", "parameters": {"command": ["true"]}}  # argv: no shell
    if kind == "command-sh":
        return {"action": "command", "parameters": {"command": "true"}}  # a string: /bin/sh -c true
    raise ValueError(kind)


def document(name: str, graph: dict[str, list[str]], kind: str) -> dict[str, Any]:
    """A 2.0.0 workflow document running ``graph`` with tasks of ``kind``."""
    tasks = {}
    for tid, deps in graph.items():
        task = dict(task_action(kind))
        if deps:
            task["dependencies"] = list(deps)
        tasks[tid] = task
    return {"version": "2.0.0", "name": f"bench {name} {kind}", "max_parallel": MAX_PARALLEL, "tasks": tasks}


def write_doc(folder: Path, name: str, graph: dict[str, list[str]], kind: str) -> Path:
    path = folder / f"{name}-{kind}.json"
    path.write_text(json.dumps(document(name, graph, kind)), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# The floor: a 2-thread pool running the same graph in topological order, no persistence
# --------------------------------------------------------------------------------------------------
def _nothing() -> None:
    return None


def _true_argv() -> None:
    subprocess.run(["true"], check=True)


def _true_sh() -> None:
    subprocess.run("true", shell=True, check=True)


FLOOR_WORK: dict[str, Callable[[], Any]] = {
    "noop": _nothing,
    "python": _bench_tasks.noop,
    "command": _true_argv,
    "command-sh": _true_sh,
}


def floor_run(graph: dict[str, list[str]], kind: str) -> float:
    """Seconds for a ThreadPoolExecutor(2) to run ``graph``, submitting each task when its deps are done."""
    work = FLOOR_WORK[kind]
    remaining = {tid: len(deps) for tid, deps in graph.items()}
    dependents: dict[str, list[str]] = defaultdict(list)
    for tid, deps in graph.items():
        for d in deps:
            dependents[d].append(tid)
    done_q: queue.SimpleQueue = queue.SimpleQueue()
    start = time.perf_counter()
    with ThreadPoolExecutor(MAX_PARALLEL) as pool:

        def submit(tid: str) -> None:
            fut = pool.submit(work)
            fut.add_done_callback(lambda f, tid=tid: done_q.put((tid, f)))

        for tid, n in remaining.items():
            if n == 0:
                submit(tid)
        for _ in range(len(graph)):
            tid, fut = done_q.get()
            fut.result()  # re-raise a failure of the work
            for d in dependents[tid]:
                remaining[d] -= 1
                if remaining[d] == 0:
                    submit(d)
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------------
# The engine, in a child process
# --------------------------------------------------------------------------------------------------
def _maxrss_mib(who: int = resource.RUSAGE_SELF) -> float:
    rss = resource.getrusage(who).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


class FsyncMeter:
    """Counts the engine's fsync calls and the time spent in them (wraps ``os.fsync`` in the child only)."""

    def __init__(self) -> None:
        self.count, self.seconds = 0, 0.0
        real = os.fsync

        def fsync(fd: Any) -> None:
            t0 = time.perf_counter()
            try:
                real(fd)
            finally:
                self.count += 1  # the GIL makes += safe enough for a counter read after the run
                self.seconds += time.perf_counter() - t0

        os.fsync = fsync  # type: ignore[assignment]

    def reset(self) -> None:
        self.count, self.seconds = 0, 0.0


def child_main(spec: dict[str, Any]) -> None:
    """Run one engine case in this process and print its timings as one JSON line."""
    from workflow_cli.ops.create import create_instance
    from workflow_cli.ops.run import start
    from workflow_cli.store.home import Home, init_home

    folder = Path(spec["dir"])
    home = Home(init_home(folder / f"home-{spec['name']}-{spec['kind']}").root)
    fsyncs = FsyncMeter()

    def one(path: Path) -> tuple[float, float, int, float]:
        t0 = time.perf_counter()
        created = create_instance(home, str(path))
        t1 = time.perf_counter()
        fsyncs.reset()
        result = start(home, created.id, max_parallel=MAX_PARALLEL)
        t2 = time.perf_counter()
        if result.exit_code != 0 or result.status.get("status") != "completed":
            raise SystemExit(f"engine run of {path.name} ended {result.status.get('status')} (exit {result.exit_code})")
        return t1 - t0, t2 - t1, fsyncs.count, fsyncs.seconds

    # Warm-up: lazy imports, the action registry, the callable's module; not timed.
    one(write_doc(folder, f"warmup-{spec['name']}", {"only": []}, spec["kind"]))
    graph = WORKLOADS[spec["name"]]()
    floor_run({"only": []}, spec["kind"])
    runs, floors = [], []
    for _ in range(spec["repeat"]):
        # each engine run is paired with a floor run right after it, in this process: both see the same
        # machine (on a shared VM the speed of both drifts by tens of percent within a minute)
        runs.append(one(Path(spec["doc"])))
        floors.append(floor_run(graph, spec["kind"]))
    mid = sorted(runs, key=lambda r: r[1])[len(runs) // 2]  # the median run by start() time
    print(CHILD_MARK + json.dumps({"create": [r[0] for r in runs], "start": [r[1] for r in runs], "floor": floors,
                                   "fsyncs": mid[2], "fsync_s": mid[3], "rss_mib": _maxrss_mib()}), flush=True)


def run_child(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                          capture_output=True, text=True, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(CHILD_MARK):
            return json.loads(line[len(CHILD_MARK):])
    raise RuntimeError(f"child for {spec['name']}/{spec['kind']} failed (exit {proc.returncode}):\n"
                       f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


# --------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------
@dataclass
class Row:
    workload: str
    kind: str
    tasks: str = "-"
    create: str = "-"
    engine: str = "-"
    floor: str = "-"
    overhead: str = "-"
    rss: str = "-"
    fsyncs: str = "-"
    fsync_ms: str = "-"
    target: str = "-"
    verdict: str = "-"
    extra: dict[str, Any] = field(default_factory=dict)


COLUMNS = [("workload", "workload", "<"), ("kind", "kind", "<"), ("tasks", "tasks", ">"), ("create", "create s", ">"),
           ("engine", "engine s", ">"), ("floor", "floor s", ">"), ("overhead", "ovh ms/task", ">"),
           ("rss", "peak RSS MiB", ">"), ("fsyncs", "fsync/task", ">"), ("fsync_ms", "fsync ms/task", ">"),
           ("target", "target", "<"), ("verdict", "result", "<")]


def print_header() -> None:
    widths = _widths([])
    line = "  ".join(f"{title:{align}{widths[key]}}" for key, title, align in COLUMNS)
    print(line)
    print("-" * len(line), flush=True)


def _widths(rows: list[Row]) -> dict[str, int]:
    base = {"workload": 18, "kind": 12, "tasks": 6, "create": 8, "engine": 8, "floor": 8, "overhead": 11,
            "rss": 12, "fsyncs": 10, "fsync_ms": 13, "target": 28, "verdict": 6}
    for r in rows:
        for key, _, _ in COLUMNS:
            base[key] = max(base[key], len(str(getattr(r, key))))
    return base


def print_row(row: Row) -> None:
    widths = _widths([])
    print("  ".join(f"{str(getattr(row, key)):{align}{widths[key]}}" for key, _, align in COLUMNS), flush=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def median(values: list[float]) -> float:
    return statistics.median(values)


# --------------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------------
def engine_cases(mode: str) -> list[tuple[str, str]]:
    """(workload, kind) pairs to run, in order."""
    cases = []
    for kind in ("noop", "python"):
        for w in ("diamond-100", "diamond-1000", "diamond-10000", "chain-200", "fanout-1000"):
            cases.append((w, kind))
    if mode == "quick":
        cases += [("diamond-100", "command"), ("chain-200", "command"), ("fanout-1000", "command")]
        return cases
    for kind in ("command", "command-sh"):
        sizes = ["diamond-100", "diamond-1000"] + (["diamond-10000"] if mode == "full" else [])
        for w in sizes + ["chain-200", "fanout-1000"]:
            cases.append((w, kind))
    return cases


def selected(label: str, only: list[str]) -> bool:
    """True when no --only was given, or a term names the label, its workload/section or its kind."""
    parts = label.split("/")
    return not only or any(o == label or o in parts for o in only)


def bench_engine(folder: Path, cases: list[tuple[str, str]], repeat: int, timeout: float) -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = {}
    graphs: dict[str, dict[str, list[str]]] = {}
    for name, kind in cases:
        graph = graphs.setdefault(name, WORKLOADS[name]())
        n = len(graph)
        reps = 1 if n >= 10_000 else repeat
        doc = write_doc(folder, name, graph, kind)
        res = run_child({"name": name, "kind": kind, "doc": str(doc), "dir": str(folder), "repeat": reps}, timeout)
        floor = median(res["floor"])
        engine = median(res["start"])
        # the median of the paired differences: robust to the machine drifting between repetitions
        ovh_ms = median([e - f for e, f in zip(res["start"], res["floor"])]) / n * 1000
        target = TARGET_OVERHEAD_MS[kind]
        ok = ovh_ms <= target
        tgt = f"ovh <= {target:.2f} ms"
        if n >= 10_000:
            ok = ok and res["rss_mib"] <= TARGET_RSS_MIB
            tgt += f", RSS <= {TARGET_RSS_MIB:.0f}"
        row = Row(name, kind, f"{n}", f"{median(res['create']):.3f}", f"{engine:.3f}", f"{floor:.3f}", f"{ovh_ms:.3f}",
                  f"{res['rss_mib']:.1f}", f"{res['fsyncs'] / n:.3f}", f"{res['fsync_s'] / n * 1000:.3f}", tgt, verdict(ok),
                  {"ovh_ms": ovh_ms, "engine": engine, "n": n})
        if n >= 10_000 and not ok and ovh_ms <= target:
            row.verdict = "FAIL(mem)"
        elif n >= 10_000 and not ok and res["rss_mib"] <= TARGET_RSS_MIB:
            row.verdict = "FAIL(ovh)"
        rows[(name, kind)] = row
        print_row(row)
    return rows


def flat_rows(rows: dict[tuple[str, str], Row]) -> None:
    """Per-task overhead at 10,000 tasks against 100 (SPEC 15: within 1.5x)."""
    for kind in KINDS:
        small, big = rows.get(("diamond-100", kind)), rows.get(("diamond-10000", kind))
        if not small or not big:
            continue
        o_small, o_big = small.extra["ovh_ms"], big.extra["ovh_ms"]
        per_small = small.extra["engine"] / small.extra["n"] * 1000
        per_big = big.extra["engine"] / big.extra["n"] * 1000
        if o_small > 0:
            ratio = o_big / o_small
            shown, ok = f"{ratio:.2f}x", ratio <= TARGET_FLAT_RATIO
        else:
            shown, ok = "n/a", o_big <= 0
        print_row(Row("flat 10000/100", kind, overhead=shown, target=f"ovh ratio <= {TARGET_FLAT_RATIO}x", verdict=verdict(ok)))
        print(f"{'':20}(engine ms/task: {per_small:.3f} at 100, {per_big:.3f} at 10,000; "
              f"ovh ms/task: {o_small:.3f} at 100, {o_big:.3f} at 10,000)", flush=True)


def timed_cli(args: list[str], runs: int, *, expect: int = 0) -> float:
    """Median wall time of ``workflow-cli ARGS`` run ``runs`` times as a subprocess."""
    exe = cli_path()
    env = {**os.environ, "NO_COLOR": "1"}
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run([exe, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        times.append(time.perf_counter() - t0)
        if proc.returncode != expect:
            raise RuntimeError(f"workflow-cli {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return median(times)


def cli_path() -> str:
    exe = Path(sys.executable).parent / "workflow-cli"
    return str(exe) if exe.exists() else "workflow-cli"


def bench_startup(folder: Path, only: list[str], runs: int) -> None:
    from workflow_cli.ops.create import create_instance
    from workflow_cli.ops.run import start
    from workflow_cli.store.home import Home, init_home

    home = Home(init_home(folder / "home-cli").root)
    h = ["--home", str(home.root)]
    if selected("startup/--version", only):
        t = timed_cli(["--version"], runs)
        print_row(Row("startup", "--version", engine=f"{t:.3f}", target=f"<= {TARGET_VERSION_S:.2f} s",
                      verdict=verdict(t <= TARGET_VERSION_S)))
    if selected("startup/status", only):
        doc = write_doc(folder, "status10", chain(10), "noop")
        created = create_instance(home, str(doc))
        result = start(home, created.id, max_parallel=MAX_PARALLEL)
        assert result.exit_code == 0, result.status
        t = timed_cli([*h, "status", created.id], runs)
        print_row(Row("startup", "status ID", "10", engine=f"{t:.3f}", target="(no target; info)"))
    if selected("startup/run", only):
        doc = write_doc(folder, "one", {"only": []}, "noop")
        t = timed_cli([*h, "run", str(doc)], runs)
        print_row(Row("startup", "run 1 noop", "1", engine=f"{t:.3f}", target=f"<= {TARGET_RUN_FIXED_S:.2f} s",
                      verdict=verdict(t <= TARGET_RUN_FIXED_S)))


def bench_validate(folder: Path, only: list[str], runs: int) -> None:
    from workflow_cli.store.home import init_home

    home = init_home(folder / "home-cli")
    graph = wide_diamond(10_000)
    doc_path = write_doc(folder, "big", graph, "noop")
    if selected("validate/cli", only):
        t = timed_cli(["--home", str(home.root), "validate", str(doc_path)], runs)
        print_row(Row("validate", "cli", f"{len(graph)}", engine=f"{t:.3f}", target=f"<= {TARGET_VALIDATE_S:.2f} s",
                      verdict=verdict(t <= TARGET_VALIDATE_S)))
    if selected("validate/in-process", only):
        from workflow_cli.ops.document_checks import document_issues

        doc = json.loads(doc_path.read_text(encoding="utf-8"))
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            issues = document_issues(doc)
            times.append(time.perf_counter() - t0)
            assert not issues, issues[:3]
        t = median(times)
        print_row(Row("validate", "in-process", f"{len(graph)}", engine=f"{t:.3f}", target=f"<= {TARGET_VALIDATE_S:.2f} s",
                      verdict=verdict(t <= TARGET_VALIDATE_S)))


def fs_type(path: Path) -> str:
    """The file system type of the mount holding ``path`` (Linux), for the header."""
    try:
        best, kind = "", "?"
        real = os.path.realpath(path)
        with open("/proc/mounts", encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                mnt = parts[1]
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                    best, kind = mnt, parts[2]
        return kind
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description="workflow-cli performance benchmark (SPEC 15)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="one repetition; fewer command workloads; no shell rows")
    mode.add_argument("--full", action="store_true", help="also run the 10,000-task command workloads")
    parser.add_argument("--only", default="", help="comma-separated row labels (workload/kind) or parts of them, e.g. "
                        "'diamond-1000/noop,python,startup,validate'")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions per case below 10,000 tasks (default 5, quick 1)")
    parser.add_argument("--dir", type=Path, default=None, help="folder for documents and homes (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per engine case")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(json.loads(args.child))
        return

    run_mode = "quick" if args.quick else "full" if args.full else "default"
    repeat = args.repeat or (1 if args.quick else 5)
    only = [o.strip() for o in args.only.split(",") if o.strip()]
    tmp = tempfile.mkdtemp(prefix="wf-bench-", dir=args.dir)
    folder = Path(tmp)
    import platform
    from importlib.metadata import PackageNotFoundError, version

    try:
        wf_version = version("workflow-cli")
    except PackageNotFoundError:
        wf_version = "?"
    print(f"workflow-cli {wf_version} benchmark ({run_mode}); python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, max_parallel {MAX_PARALLEL}, fsync on; files in {folder} ({fs_type(folder)})")
    print(f"engine s, floor s = medians of {repeat} runs (1 at 10,000 tasks), each start() followed by a floor run; "
          f"ovh = median of (engine - floor) / tasks over those pairs", flush=True)
    print()
    print_header()
    t_all = time.perf_counter()
    try:
        cases = [c for c in engine_cases(run_mode) if selected(f"{c[0]}/{c[1]}", only)]
        rows = bench_engine(folder, cases, repeat, args.timeout)
        flat_rows(rows)
        runs = 3 if args.quick else 5
        bench_startup(folder, only, runs)
        bench_validate(folder, only, 3)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    print(f"\ntotal benchmark time {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
