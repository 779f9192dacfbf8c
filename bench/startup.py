"""Fixed cost of a command: ``--version``, a 1-task ``run``, ``status ID`` and ``list --limit 20``.

    python bench/startup.py                                   # the workflow-cli next to this interpreter
    python bench/startup.py --also /other/venv/bin/workflow-cli --repeat 21

Every command runs as a fresh process, interleaved between the installs compared (so a busy moment
of the machine hits all of them alike); the table shows the median wall time and the median CPU time
(user + system, from the child's rusage: less moved by other jobs on the machine than wall time).
Use non-editable installs for figures: an editable install adds its import finder to every start.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOC = {"version": "2.0.0", "name": "one", "tasks": {"only": {"action": "noop"}}}


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of ``argv``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"{argv}: exit {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--also", action="append", default=[], help="another workflow-cli executable to compare")
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    exes = [str(Path(sys.executable).with_name("workflow-cli")), *args.also]
    folder = Path(tempfile.mkdtemp(prefix="wf-startup-"))
    doc = folder / "one.json"
    doc.write_text(json.dumps(DOC))
    env = {**os.environ, "NO_COLOR": "1"}
    homes = {}
    for n, exe in enumerate(exes):
        home = folder / f"home{n}"
        out = subprocess.run([exe, "--home", str(home), "run", str(doc), "--json"], capture_output=True, text=True, env=env, check=True)
        homes[exe] = (home, json.loads(out.stdout)["id"])
    commands = {"--version": lambda h, i: ["--version"], "run (1 noop task)": lambda h, i: ["--home", h, "run", str(doc)],
                "status ID": lambda h, i: ["--home", h, "status", i], "list --limit 20": lambda h, i: ["--home", h, "list", "--limit", "20"]}
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        for label, make in commands.items():
            for exe in exes:
                home, iid = homes[exe]
                samples.setdefault((label, exe), []).append(run_once([exe, *make(str(home), iid)], env))
    print("| command | " + " | ".join(f"{e} wall / CPU" for e in exes) + " |")
    print("|---|" + "---|" * len(exes))
    for label in commands:
        cells = []
        for exe in exes:
            walls, cpus = zip(*samples[(label, exe)])
            cells.append(f"{statistics.median(walls):.3f} / {statistics.median(cpus):.3f} s")
        print(f"| `{label}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
