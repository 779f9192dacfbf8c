"""End-to-end peer comparison (SPEC 15): workflow-cli against a plain-Python floor, Dask's threaded
scheduler and ``doit -n 2`` on the same four workloads, every tool started as a fresh process.

    python bench/peers.py --peers bench/.peers/bin/python          # see bench/README.md for the venv
    python bench/peers.py --peers bench/.peers/bin/python --repeat 5 --only W1,W3

Workloads (2 at a time everywhere):
    W1  400-task wide diamond (layers of 10, each task after two of the layer before), ``true``
    W2  200-task chain, ``true``
    W3  400-task wide diamond of in-process no-ops
    W4  1,002-task fan-out (a root, 1,000 tasks, a join), ``true``

``true`` is run as a child process without a shell by every tool (workflow-cli ``command: ["true"]``,
doit ``actions: [["true"]]``, Dask and the floor ``subprocess.run(["true"])``); in-process no-ops are
workflow-cli ``noop`` tasks, doit python actions returning None, Dask delayed calls of a function
doing nothing, and the floor's calls of the same. Each measurement is the wall time of one process,
from its start (interpreter start-up and imports included) to its exit: ``workflow-cli run FILE``
(create + run, fsynced events), ``python floor.py``, ``python dask.py`` (``scheduler="threads"``,
``num_workers=2``), ``doit -n 2 -f dodo.py`` (fresh dependency file each run). The tools take turns
within each repetition (interleaved), so a busy moment of the machine hits them alike; the table
shows medians and workflow-cli's ratio to the best peer (Dask or doit).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WIDTH = 10
WORKLOADS = {"W1": ("diamond", 400, "true"), "W2": ("chain", 200, "true"), "W3": ("diamond", 400, "noop"),
             "W4": ("fanout", 1000, "true")}
LABELS = {"W1": "W1 400-task diamond, `true`", "W2": "W2 200-task chain, `true`", "W3": "W3 400 in-process no-ops",
          "W4": "W4 1,002-task fan-out, `true`"}


def graph(shape: str, n: int) -> dict[str, list[str]]:
    """{task: [dependencies]} in topological order."""
    if shape == "chain":
        return {f"c{i}": ([f"c{i - 1}"] if i else []) for i in range(n)}
    if shape == "fanout":
        return {"root": [], **{f"f{i}": ["root"] for i in range(n)}, "join": [f"f{i}" for i in range(n)]}
    out: dict[str, list[str]] = {}
    for layer in range(n // WIDTH):
        for j in range(WIDTH):
            out[f"t{layer}_{j}"] = [] if layer == 0 else [f"t{layer - 1}_{j}", f"t{layer - 1}_{(j + 1) % WIDTH}"]
    return out


# ---- the programs each tool runs ---------------------------------------------------------------------

FLOOR = '''import json, queue, subprocess, sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
graph, kind = json.load(open(sys.argv[1])), sys.argv[2]
work = (lambda: subprocess.run(["true"], check=True)) if kind == "true" else (lambda: None)
remaining = {t: len(d) for t, d in graph.items()}
dependents = defaultdict(list)
for t, deps in graph.items():
    for d in deps:
        dependents[d].append(t)
done = queue.SimpleQueue()
with ThreadPoolExecutor(2) as pool:
    def submit(t):
        pool.submit(work).add_done_callback(lambda f, t=t: done.put((t, f)))
    for t, n in remaining.items():
        if n == 0:
            submit(t)
    for _ in range(len(graph)):
        t, f = done.get()
        f.result()
        for d in dependents[t]:
            remaining[d] -= 1
            if remaining[d] == 0:
                submit(d)
'''

DASK = '''import json, subprocess, sys
import dask
graph, kind = json.load(open(sys.argv[1])), sys.argv[2]
def run_true(*_):
    subprocess.run(["true"], check=True)
def nothing(*_):
    return None
work = run_true if kind == "true" else nothing
tasks = {}
for t, deps in graph.items():
    tasks[t] = dask.delayed(work, pure=False)(*[tasks[d] for d in deps], dask_key_name=t)
dask.compute(*tasks.values(), scheduler="threads", num_workers=2)
'''

DODO = '''import json, os
graph = json.load(open(os.environ["BENCH_GRAPH"]))
kind = os.environ["BENCH_KIND"]
def nothing():
    return None
def task_all():
    for t, deps in graph.items():
        yield {"name": t, "actions": [["true"]] if kind == "true" else [(nothing,)],
               "task_dep": [f"all:{d}" for d in deps], "verbosity": 0}
'''


def workflow_doc(g: dict[str, list[str]], kind: str) -> dict:
    action = {"action": "command", "parameters": {"command": ["true"]}} if kind == "true" else {"action": "noop"}
    tasks = {t: {**action, **({"dependencies": deps} if deps else {})} for t, deps in g.items()}
    return {"version": "2.0.0", "name": "peer", "max_parallel": 2, "tasks": tasks}


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:3]}... exited {proc.returncode}: {proc.stderr.decode()[-800:]}")
    return elapsed


def commands(folder: Path, wl: str, peers_python: str | None, other_cli: str | None = None) -> dict[str, tuple[list[str], dict[str, str]]]:
    """tool -> (argv, extra env) for workload ``wl``, its files written under ``folder``."""
    shape, n, kind = WORKLOADS[wl]
    g = graph(shape, n)
    gfile = folder / f"{wl}.graph.json"
    gfile.write_text(json.dumps(g))
    doc = folder / f"{wl}.json"
    doc.write_text(json.dumps(workflow_doc(g, kind)))
    for name, text in (("floor.py", FLOOR), ("dask_run.py", DASK), ("dodo.py", DODO)):
        (folder / name).write_text(text)
    cli = str(Path(sys.executable).with_name("workflow-cli"))
    home = folder / f"home-{wl}"
    out = {"floor": ([sys.executable, str(folder / "floor.py"), str(gfile), kind], {}),
           "workflow-cli": ([cli, "--home", str(home), "--quiet", "run", str(doc)], {})}
    if other_cli:
        out["other"] = ([other_cli, "--home", str(folder / f"home-other-{wl}"), "--quiet", "run", str(doc)], {})
    if peers_python:
        doit = str(Path(peers_python).with_name("doit"))
        out["dask"] = ([peers_python, str(folder / "dask_run.py"), str(gfile), kind], {})
        out["doit"] = ([doit, "-n", "2", "-f", str(folder / "dodo.py"), "--db-file", str(folder / f"doit-{wl}.db")],
                       {"BENCH_GRAPH": str(gfile), "BENCH_KIND": kind})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", help="the Python of the venv holding dask and doit (bench/README.md)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default="W1,W2,W3,W4")
    parser.add_argument("--other-cli", help="another workflow-cli (e.g. an older release's venv) for an extra column")
    parser.add_argument("--dir", default=None, help="where the homes and files go (default: a temporary folder)")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="wf-peers-"))
    folder.mkdir(parents=True, exist_ok=True)
    chosen = [w for w in args.only.split(",") if w in WORKLOADS]
    peers_python = str(Path(args.peers).absolute()) if args.peers else None
    plans = {wl: commands(folder, wl, peers_python, args.other_cli) for wl in chosen}
    base_env = {**os.environ, "NO_COLOR": "1"}
    times: dict[tuple[str, str], list[float]] = {}
    try:
        for _wl, tools in plans.items():  # one warm-up round: caches, compiled schema, .pyc files
            for argv, env in tools.values():
                timed(argv, {**base_env, **env}, folder)
        for _ in range(args.repeat):
            for wl, tools in plans.items():
                for tool, (argv, env) in tools.items():
                    times.setdefault((wl, tool), []).append(timed(argv, {**base_env, **env}, folder))
    finally:
        if not args.dir:
            shutil.rmtree(folder, ignore_errors=True)
    print_table(times, chosen, bool(args.peers), bool(args.other_cli))


def print_table(times: dict[tuple[str, str], list[float]], chosen: list[str], peers: bool, other: bool = False) -> None:
    tools = ["floor", *(["dask", "doit"] if peers else []), *(["other"] if other else []), "workflow-cli"]
    names = {"floor": "floor", "dask": "Dask threaded", "doit": "doit -n 2", "workflow-cli": "workflow-cli",
             "other": "workflow-cli (--other-cli)"}
    print("| workload | " + " | ".join(names[t] for t in tools) + (" | vs best peer |" if peers else " |"))
    print("|---|" + "---|" * len(tools) + ("---|" if peers else ""))
    for wl in chosen:
        med = {t: statistics.median(times[(wl, t)]) for t in tools}
        cells = " | ".join(f"{med[t]:.3f} s" for t in tools)
        ratio = f" | {med['workflow-cli'] / min(med['dask'], med['doit']):.2f}x |" if peers else " |"
        print(f"| {LABELS[wl]} | {cells}{ratio}")


if __name__ == "__main__":
    main()
