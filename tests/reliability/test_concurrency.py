"""Many CLI processes on one home at once: no traceback, no corrupt file, no lost event (SPEC 16)."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from workflow_cli.store.events import read_events
from workflow_cli.store.instances import InstancePaths, load_state, read_document, read_header
from workflow_cli.store.locks import is_locked
from workflow_cli.store.state import new_state, replay

DURATION = 8.0
SEED = 7
DOCUMENTED = set(range(0, 8))
SNAPSHOTS = ("state.json", "instance.json", "workflow.json")


def short_document() -> dict[str, Any]:
    """a -> (b, c) -> d, plus e alone: short sleeps, so runs overlap with every other command."""
    def cmd(seconds: float) -> dict[str, Any]:
        return {"action": "command", "parameters": {"command": f"sleep {seconds}"}}
    return {"version": "2.0.0", "name": "short", "tasks": {
        "a": cmd(0.1), "b": {**cmd(0.15), "dependencies": ["a"]}, "c": {**cmd(0.1), "dependencies": ["a"]},
        "d": {**cmd(0.1), "dependencies": ["b", "c"]}, "e": cmd(0.2)}}


@dataclass
class Call:
    worker: str
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Board:
    """What the workers share: the instance ids, every call made and every problem seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[str] = []
        self.calls: list[Call] = []
        self.problems: list[str] = []

    def pick(self, rng: random.Random) -> str:
        with self.lock:
            return rng.choice(self.ids)

    def known(self) -> set[str]:
        with self.lock:
            return set(self.ids)

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def _worker(cli: Any, board: Board, name: str, deadline: float, step: Callable[[random.Random], tuple[str, ...]],
            check: Callable[[Call], None] | None = None) -> None:
    rng = random.Random(f"{SEED}:{name}")
    while time.monotonic() < deadline:
        args = step(rng)
        res = cli.run(*args, timeout=60)
        call = Call(name, args, res.returncode, res.stdout, res.stderr)
        board.record(call)
        if check is not None and res.returncode == 0:
            try:
                check(call)
            except Exception as exc:  # noqa: BLE001 - collected and reported by the test
                board.problem(f"{name} {args}: {exc!r}")


def _reader(home: Path, board: Board, stop: threading.Event) -> int:
    """Poll every snapshot file and event log until ``stop``: each must parse at every moment."""
    reads = 0
    instances = home / "instances"
    while not stop.is_set():
        for folder in sorted(instances.iterdir()) if instances.is_dir() else []:
            if folder.name.startswith("."):
                continue  # an instance being created: renamed into place only when complete
            try:
                state = None
                for name in SNAPSHOTS:
                    data = json.loads((folder / name).read_bytes())
                    if name == "state.json":
                        state = data
                events = read_events(folder / "events.jsonl")
                reads += 1
                assert state is not None
                if events and state["last_seq"] > events[-1]["seq"]:
                    raise AssertionError(f"snapshot at seq {state['last_seq']} is ahead of the log ({events[-1]['seq']})")
            except Exception as exc:  # noqa: BLE001 - collected and reported by the test
                board.problem(f"reader {folder.name}: {exc!r}")
    return reads


def test_six_kinds_of_command_at_once_never_corrupt_or_lose_anything(cli: Any, home: Path) -> None:
    document = cli.write_document("short.json", short_document())
    board = Board()
    for _ in range(3):
        board.ids.append(cli.create(document))

    def create_step(rng: random.Random) -> tuple[str, ...]:
        return ("create", "--quiet", str(document))

    def create_check(call: Call) -> None:
        with board.lock:
            board.ids.append(call.stdout.strip().splitlines()[-1])

    def status_check(call: Call) -> None:
        doc = json.loads(call.stdout)
        assert doc["id"] == call.args[-1] and set(doc["tasks"]) == set("abcde")

    known_before_list: set[str] = set()

    def list_step(rng: random.Random) -> tuple[str, ...]:
        known_before_list.clear()
        known_before_list.update(board.known())  # every instance whose create returned before this list began
        return ("list", "--json")

    def list_check(call: Call) -> None:
        listed = {row["id"] for row in json.loads(call.stdout)}
        assert not known_before_list - listed, f"created instances missing from list: {known_before_list - listed}"

    def newest(rng: random.Random) -> str:
        with board.lock:
            return rng.choice(board.ids[-3:])

    deadline = time.monotonic() + DURATION
    workers = [
        ("create", create_step, create_check),
        ("status", lambda rng: ("status", "--json", board.pick(rng)), status_check),
        ("list", list_step, list_check),
        ("stop", lambda rng: ("stop", board.pick(rng)), None),
        ("start", lambda rng: ("start", newest(rng)), None),
        ("resume", lambda rng: ("resume", board.pick(rng)), None),
        ("resume-2", lambda rng: ("resume", newest(rng)), None),
    ]
    threads = [threading.Thread(target=_worker, args=(cli, board, name, deadline, step, check), name=name)
               for name, step, check in workers]
    stop_reader = threading.Event()
    reads: list[int] = []
    reader = threading.Thread(target=lambda: reads.append(_reader(home, board, stop_reader)), name="reader")
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stop_reader.set()
    reader.join(timeout=30)
    assert not any(t.is_alive() for t in threads)

    assert board.problems == []
    assert reads and reads[0] > 20, "the reader barely ran"
    bad_exit = [(c.worker, c.args, c.returncode, c.stderr) for c in board.calls if c.returncode not in DOCUMENTED]
    assert bad_exit == []
    tracebacks = [(c.worker, c.args, c.stderr) for c in board.calls if not cli.no_traceback(c.stderr)]
    assert tracebacks == []
    assert cli.internal_errors() == [], "an internal error (not a user-facing one) happened under concurrency"
    kinds = {c.worker for c in board.calls}
    assert kinds == {name for name, _s, _c in workers}
    runs_done = [c for c in board.calls if c.args[0] in ("start", "resume") and c.returncode in (0, 6)]
    assert runs_done, "no run went anywhere: the test exercised nothing"

    instances = sorted(p for p in (home / "instances").iterdir() if not p.name.startswith("."))
    assert {p.name for p in instances} == board.known()
    assert not [p for p in (home / "instances").iterdir() if p.name.startswith(".")], "a half-created instance was left"
    for folder in instances:
        paths = InstancePaths(folder)
        assert not is_locked(paths.lock), f"{folder.name}: a lock outlived every runner"
        assert not list(folder.glob(".*.tmp")), f"{folder.name}: a temporary file of an atomic write was left"
        events = read_events(paths.events)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        rebuilt = replay(new_state(read_header(paths), list(read_document(paths)["tasks"])), events)
        assert load_state(paths) == rebuilt, f"{folder.name}: the snapshot disagrees with its event log"
        assert rebuilt["status"] != "running", f"{folder.name}: says running although every runner exited"
