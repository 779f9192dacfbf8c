"""Home scale (SPEC 15): ``list --limit 20``, ``status ID``, ``tick`` and ``health`` in homes holding
100, 10,000 and 100,000 finished instances. Their cost must not grow with the number of finished ones.

    python bench/home_scale.py                       # 100 / 10,000 / 100,000 (fills ~3 GB of small files)
    python bench/home_scale.py --sizes 100,3000 --files-too --dir /path/on/the/real/disk

A home is filled quickly with real files: one 2-task instance is created and run through the Python
API, then copied under new ids (every file of its folder, and its checkpoint folder, with the id
replaced inside), and each copy's index row is written with the store's own call. Each command then
runs ``--repeat`` times per size as a subprocess of the installed console script, the sizes taking
turns within each repetition (interleaved); the table shows the medians.
``--files-too`` also times each command with ``WORKFLOW_CLI_INDEX=off`` (every instance read from its
files, as before the index) for the sizes up to 10,000.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

COMMANDS = (("list --limit 20", ["list", "--limit", "20"]), ("status ID", ["status", "{id}"]),
            ("tick", ["tick"]), ("health", ["health"]))
DOC = {"version": "2.0.0", "name": "scale", "tasks": {"a": {"action": "noop"}, "b": {"action": "noop", "dependencies": ["a"]}}}


def console() -> str:
    exe = Path(sys.executable).with_name("workflow-cli")
    return str(exe) if exe.exists() else "workflow-cli"


def fill(root: Path, count: int) -> str:
    """A home at ``root`` with ``count`` completed instances; returns the id of one in the middle."""
    from workflow_cli.ops.create import create_instance
    from workflow_cli.ops.run import start
    from workflow_cli.store import index
    from workflow_cli.store.home import init_home
    from workflow_cli.store.ids import new_instance_id
    from workflow_cli.store.indexed import load_row, open_index

    home = init_home(root)
    doc = root.parent / f"scale-{count}.json"
    doc.write_text(__import__("json").dumps(DOC))
    seed = create_instance(home, str(doc)).id
    assert start(home, seed).exit_code == 0
    files = {p.relative_to(home.instances / seed): p.read_bytes() for p in (home.instances / seed).rglob("*") if p.is_file()}
    dirs = [p.relative_to(home.instances / seed) for p in (home.instances / seed).rglob("*") if p.is_dir()]
    checkpoint = (home.checkpoints / seed / "checkpoints.jsonl").read_bytes()
    conn = open_index(home, write=True)
    row = load_row(home, seed)
    start_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    made, batch = [], []
    for n in range(count - 1):
        iid = new_instance_id(start_at + timedelta(minutes=15 * n))
        folder = home.instances / iid
        folder.mkdir(mode=0o700)
        for d in dirs:
            (folder / d).mkdir(mode=0o700)
        for rel, data in files.items():
            (folder / rel).write_bytes(data.replace(seed.encode(), iid.encode()))
        (home.checkpoints / iid).mkdir(mode=0o700)
        (home.checkpoints / iid / "checkpoints.jsonl").write_bytes(checkpoint)
        batch.append({**row, "id": iid})
        made.append(iid)
        if len(batch) == 5000:
            _rows(index, conn, batch)
    _rows(index, conn, batch)
    open_index(home, write=True)  # the fingerprint catches up (every row is there: nothing to read)
    index.close_all()
    return made[len(made) // 2] if made else seed


def filled(root: Path, size: int) -> str:
    """A home of ``size`` instances at ``root``, reused when a previous run kept it; returns an id in it."""
    marker = root / ".bench-filled"
    if marker.exists():
        return marker.read_text().strip()
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    some_id = fill(root, size)
    print(f"filled {size:,} instances in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    marker.write_text(some_id)
    return some_id


def _rows(index: object, conn: object, batch: list[dict]) -> None:
    for row in batch:
        index.upsert_created(conn, row, None)  # type: ignore[attr-defined]
    batch.clear()


def once(args: list[str], home: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``workflow-cli --home HOME ARGS``; CPU is the child's user + system time."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([console(), "--home", str(home), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "NO_COLOR": "1", **env})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(f"{args}: exit {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


def medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """Median wall and median CPU of ``samples``."""
    return statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where the homes go (default: a temporary folder)")
    parser.add_argument("--files-too", action="store_true", help="also time with the index off (sizes <= 10,000)")
    parser.add_argument("--keep", action="store_true", help="keep the homes (a later run with the same --dir reuses them)")
    parser.add_argument("--fill-only", action="store_true", help="fill the homes (kept) and stop")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    base = Path(args.dir or tempfile.mkdtemp(prefix="wf-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        homes = {}
        for size in sizes:
            homes[size] = (base / f"home-{size}", filled(base / f"home-{size}", size))
        if args.fill_only:
            args.keep = True
            return
        samples: dict[tuple[str, int, str], list[tuple[float, float]]] = {}
        for label, argv in COMMANDS:
            for rep in range(args.repeat):  # interleaved: each repetition visits every size, so a slow moment hits all alike
                for size in sizes:
                    home, some_id = homes[size]
                    cmd = [a.replace("{id}", some_id) for a in argv]
                    samples.setdefault((label, size, "index"), []).append(once(cmd, home, {}))
                    if args.files_too and size <= 10_000 and rep < max(1, args.repeat // 2):
                        samples.setdefault((label, size, "files"), []).append(once(cmd, home, {"WORKFLOW_CLI_INDEX": "off"}))
        results = {key: medians(values) for key, values in samples.items()}
        print_table(results, sizes, args.files_too)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def print_table(results: dict[tuple[str, int, str], tuple[float, float]], sizes: list[int], files_too: bool) -> None:
    """Median wall time (CPU time in brackets) per command and size."""
    head = " | ".join(f"{s:,}" for s in sizes)
    print(f"| command | {head} | largest / smallest (wall, CPU) |" + (" files only (index off) |" if files_too else ""))
    print("|---|" + "---|" * len(sizes) + "---|" + ("---|" if files_too else ""))
    for label, _ in COMMANDS:
        row = [results[(label, s, "index")] for s in sizes]
        cells = " | ".join(f"{w:.3f} s ({c:.3f})" for w, c in row)
        line = f"| `{label}` | {cells} | {row[-1][0] / row[0][0]:.2f}x, {row[-1][1] / row[0][1]:.2f}x |"
        if files_too:
            files = [results[(label, s, "files")] for s in sizes if (label, s, "files") in results]
            line += " " + " / ".join(f"{w:.3f} ({c:.3f})" for w, c in files) + " s |"
        print(line)


if __name__ == "__main__":
    main()
