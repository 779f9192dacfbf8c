"""Benchmark of the web UI (SPEC 19): how long the server takes to render the pages a browser re-reads live.

Starts a real ``serve --port 0`` on a fresh home with a completed chain of N noop tasks (default 200
and 1000) and prints, per size, the median and 90th percentile wall time of:

- GET /instances/{id}           (the run page: graph, Gantt, task table; what the page re-reads per event burst)
- GET /instances/{id}?task=t1   (the same with a task's details)
- GET /api/v1/instances/{id}    (the status JSON, for comparison)
- GET /                         (the runs page)

Usage: python bench/ui_bench.py [--sizes 200,1000] [--repeat 20] [--dir DIR]
Needs the [server] extra and httpx (both in [test]).
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CLI = str(Path(sys.executable).with_name("workflow-cli"))


def chain(n: int) -> dict:
    """A document of ``n`` noop tasks in a row."""
    tasks = {f"t{i}": {"action": "noop", **({"dependencies": [f"t{i - 1}"]} if i > 1 else {})} for i in range(1, n + 1)}
    return {"version": "2.0.0", "name": f"Chain {n}", "tasks": tasks}


def timed(client: httpx.Client, path: str, repeat: int) -> tuple[float, float]:
    """Median and 90th percentile milliseconds of ``repeat`` GETs (after one warm-up)."""
    assert client.get(path).status_code == 200, path
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dir")
    args = parser.parse_args()
    root = Path(args.dir or tempfile.mkdtemp(prefix="ui-bench-"))
    home = root / "home"
    subprocess.run([CLI, "--home", str(home), "init"], check=True, capture_output=True)
    ids = {}
    for n in map(int, args.sizes.split(",")):
        doc = root / f"chain{n}.json"
        doc.write_text(json.dumps(chain(n)))
        out = subprocess.run([CLI, "--home", str(home), "--json", "run", str(doc)], check=True, capture_output=True, text=True)
        ids[n] = json.loads(out.stdout)["id"]
    server = subprocess.Popen([CLI, "--home", str(home), "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    token = url = ""
    for line in server.stdout:  # type: ignore[union-attr]
        token = line.strip().rsplit("?token=", 1)[1] if "?token=" in line else token
        if line.startswith("serving "):
            url = line.strip().rsplit(" ", 1)[1]
            break
    try:
        with httpx.Client(base_url=url, cookies={"wfc_session": token}, timeout=60) as client:
            print(f"{'tasks':>6}  {'page':<28} {'median ms':>10} {'p90 ms':>8}")
            for n, iid in ids.items():
                for label, path in (("run page", f"/instances/{iid}"), ("run page + task", f"/instances/{iid}?task=t1"),
                                    ("status JSON (API)", f"/api/v1/instances/{iid}"), ("runs page", "/")):
                    med, p90 = timed(client, path, args.repeat)
                    print(f"{n:>6}  {label:<28} {med:>10.1f} {p90:>8.1f}")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
