"""Benchmark of ``workflow-cli serve`` (SPEC 18): request throughput and webhook-to-first-task latency.

Starts a real server (``serve --port 0``) on a fresh home and prints a table:

- GET /api/v1/instances/{id}: requests per second, from N client processes (keep-alive connections);
- the server's own CPU time per request of each kind (from /proc: what the machine's load does not change);
- POST /api/v1/instances of a 1-task template (created and started in a background runner): requests
  per second (the runs themselves go on after the requests answered);
- webhook delivery -> the run's first ``task.started`` event: latency (median and max of R deliveries,
  one at a time, the time taken from the event's own timestamp).

Usage: python bench/serve_bench.py [--get 2000] [--post 100] [--hooks 10] [--clients 2] [--dir DIR]
Needs the [server] extra and httpx (both in [test]).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import hmac
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

CLI = str(Path(sys.executable).with_name("workflow-cli"))
ONE_TASK = {"version": "2.0.0", "name": "One", "tasks": {"only": {"action": "command", "parameters": {"command": "true"}}}}
HOOKED = {**ONE_TASK, "name": "Hooked", "triggers": [{"webhook": {"name": "bench", "secret_env": "BENCH_SECRET"}}]}
SECRET = "bench-secret"


def _start(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen([CLI, "serve", "--port", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    token = url = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        if "?token=" in line:
            token = line.strip().rsplit("?token=", 1)[1]
        if line.startswith("serving "):
            url = line.strip().rsplit(" ", 1)[1]
            break
    return proc, url, token


def _gets(url: str, headers: dict[str, str], iid: str, n: int) -> None:
    with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
        for _ in range(n):
            assert c.get(f"/api/v1/instances/{iid}").status_code == 200


def _posts(url: str, headers: dict[str, str], iid: str, n: int) -> None:
    with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
        for _ in range(n):
            assert c.post("/api/v1/instances", json={"template": "one"}).status_code == 201


def _rate(n: int, clients: int, call: object, *args: object) -> float:
    """Requests per second of ``n`` calls spread over ``clients`` client processes (keep-alive each)."""
    per = [n // clients + (1 if i < n % clients else 0) for i in range(clients)]
    with cf.ProcessPoolExecutor(clients) as pool:
        list(pool.map(_noop, range(clients)))  # start the workers before the clock does
        started = time.perf_counter()
        list(pool.map(call, *([a] * clients for a in args), per))  # type: ignore[arg-type]
        return n / (time.perf_counter() - started)


def _noop(_: int) -> None:
    return None


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _hook_latency(url: str, client: httpx.Client, rounds: int) -> list[float]:
    body = json.dumps({"ref": "main"}).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    out = []
    for i in range(rounds):
        sent = time.time()
        r = httpx.post(f"{url}/hooks/bench", content=body, headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig,
                                                                      "X-GitHub-Delivery": f"bench-{i}-{sent}"})
        iid = r.json()["id"]
        while True:
            events = client.get(f"/api/v1/instances/{iid}/events").json()
            started = [e for e in events if e["type"] == "task.started"]
            if started:
                out.append(_iso(started[0]["time"]) - sent)
                break
            time.sleep(0.01)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--get", type=int, default=2000)
    ap.add_argument("--post", type=int, default=100)
    ap.add_argument("--hooks", type=int, default=10)
    ap.add_argument("--clients", type=int, default=2, help="client processes")
    ap.add_argument("--dir", default=None, help="where the home goes (default: a temporary folder)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="serve-bench-", dir=args.dir))
    home = root / "home"
    env = {**os.environ, "WORKFLOW_HOME": str(home), "NO_COLOR": "1", "BENCH_SECRET": SECRET}
    subprocess.run([CLI, "init", str(home)], env=env, check=True, capture_output=True)
    for name, doc in (("one", ONE_TASK), ("hooked", HOOKED)):
        (home / "templates" / f"{name}.json").write_text(json.dumps(doc))
    proc, url, token = _start(home, env)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            iid = client.post("/api/v1/instances", json={"template": "one"}).json()["id"]
            cpu0 = _cpu_seconds(proc.pid)
            get_rate = _rate(args.get, args.clients, _gets, url, headers, iid)
            cpu1 = _cpu_seconds(proc.pid)
            post_rate = _rate(args.post, args.clients, _posts, url, headers, iid)
            cpu2 = _cpu_seconds(proc.pid)
            time.sleep(2)  # let the runs of the POSTs end before the latency rounds
            lat = _hook_latency(url, client, args.hooks)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    print(f"serve benchmark ({os.cpu_count()} CPUs, home {home}, {args.clients} client processes)")
    print(f"{'measure':<52} {'value':>12}")
    print(f"{'GET /api/v1/instances/{id}':<52} {get_rate:>8.0f} req/s")
    print(f"{'  server CPU per GET (includes its 0.5 s service passes)':<52} {(cpu1 - cpu0) / args.get * 1000:>9.2f} ms")
    print(f"{'POST /api/v1/instances (1-task run, started detached)':<52} {post_rate:>8.1f} req/s")
    print(f"{'  server CPU per POST (the runs are other processes)':<52} {(cpu2 - cpu1) / args.post * 1000:>9.2f} ms")
    print(f"{'webhook -> first task.started, median':<52} {statistics.median(lat) * 1000:>9.0f} ms")
    print(f"{'webhook -> first task.started, max':<52} {max(lat) * 1000:>9.0f} ms")


if __name__ == "__main__":
    main()
