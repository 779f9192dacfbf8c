"""``logs``: the task logs of an instance, with task and attempt headers."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Iterator

from workflow_cli.errors import NotFoundError, did_you_mean
from workflow_cli.ops.query import instance_paths
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state


def log_files(home: Home, instance: str, task: str | None) -> tuple[InstancePaths, list[tuple[str, Path]]]:
    """(task, log path) pairs in document order; NotFoundError for an unknown task."""
    paths = instance_paths(home, instance)
    tasks = list(load_state(paths)["tasks"])
    if task is not None and task not in tasks:
        raise NotFoundError(f"unknown task '{task}' in instance {paths.id} ({did_you_mean(task, tasks) or 'see workflow-cli status ' + paths.id})")
    chosen = [task] if task else tasks
    files = []
    for t in chosen:
        if paths.task_log(t).exists():
            files.append((t, paths.task_log(t)))
        files += item_logs(paths, t)
    return paths, files


def item_logs(paths: InstancePaths, task: str) -> list[tuple[str, Path]]:
    """The logs of a foreach task's items (``logs/T[3].log``), in item order."""
    import glob

    found = []
    for path in paths.logs.glob(glob.escape(task) + "[[]*[]].log"):
        index = path.name[len(task) + 1:-len("].log")]
        if index.isdigit():
            found.append((int(index), f"{task}[{index}]", path))
    return [(label, path) for _, label, path in sorted(found)]


def read_lines(path: Path, tail: int | None) -> list[str]:
    """The lines of a log, or its last ``tail`` lines."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        if tail is None or tail > 2**62:  # more lines than a file holds (and than deque's maxlen takes)
            return fh.read().splitlines()
        return [line.rstrip("\n") for line in deque(fh, maxlen=tail)]


def follow(paths: InstancePaths, files: list[tuple[str, Path]], *, interval: float = 0.2) -> Iterator[str]:
    """New log lines as they are written, until the instance stops moving (not running)."""
    import time

    from workflow_cli.store.locks import is_locked

    offsets: dict[Path, int] = {p: p.stat().st_size if p.exists() else 0 for _, p in files}
    all_tasks = list(load_state(paths)["tasks"])
    single = len(files) == 1 and len(all_tasks) > 1
    while True:
        live = is_locked(paths.lock)
        watch = files if single else [(t, paths.task_log(t)) for t in all_tasks]
        for tid, path in watch:
            if not path.exists():
                continue
            with open(path, encoding="utf-8", errors="replace") as fh:
                fh.seek(offsets.get(path, 0))
                chunk = fh.read()
                offsets[path] = fh.tell()
            for line in chunk.splitlines():
                yield f"[{tid}] {line}" if len(watch) > 1 else line  # one task: its lines as printed before
        if not live:
            return
        time.sleep(interval)
